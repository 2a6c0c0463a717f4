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
// docs/vendors.md in the repository goes from a clone to a signed plugin
// answering over HTTPS (`chatbridge new` writes a first plugin), and
// docs/manifest.md is the reference of manifest.yml. In tests,
// sdktest.NewEnvFor holds the fakes to the plugin's manifest; the host's
// package hosttest (host/hosttest) runs the built module in the real host.
//
// # Versions
//
// Version is this SDK's; abi.Version the contract's. CHANGELOG.md beside
// this file says what changed.
//
// # Errors
//
// A capability refusal arrives as an [abi.Code] (access-denied, not-found,
// limit-exceeded, ...), which is an error; compare with errors.Is against the
// Err values of this package.
package sdk
