// Package sdktest provides in-memory fakes of every capability so plugin
// code can be tested natively with go test, without wasm or a host.
//
// The fakes enforce the contract's limits (Forge key rules, value size,
// query paging) the way the host does, so a plugin that passes here does
// not meet a surprise in the sandbox.
package sdktest
