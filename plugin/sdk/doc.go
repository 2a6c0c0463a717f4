// Package sdk is the guest side of the ChatBridge contract: Forge-style
// wrappers over the host's capabilities (storage, secrets, fetch, jira,
// queue, log) and the dispatch of the host's calls to a plugin's handlers.
//
// # Writing a plugin
//
// A plugin is a main package that registers its handlers in init and is
// built as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath
//
// Handlers receive an [Env] whose fields are interfaces, so the same code
// runs against the host's imports inside wasm and against the in-memory
// fakes of package sdktest in native tests.
//
// # Errors
//
// A capability refusal arrives as an [abi.Code] (access-denied, not-found,
// limit-exceeded, ...), which is an error; compare with errors.Is against the
// Err values of this package.
package sdk
