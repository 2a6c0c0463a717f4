// Package memstore is a storage.Store in memory with the contract's limits, for
// tests that are about the runtime and capabilities rather than the store.
package memstore
