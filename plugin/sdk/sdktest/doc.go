// Package sdktest provides in-memory fakes of every capability so plugin
// code can be tested natively with go test, without wasm or a host.
//
// The fakes enforce the contract's limits (Forge key rules, value size,
// query paging) the way the host does, so a plugin that passes here does
// not meet a surprise in the sandbox.
//
// # The manifest
//
// NewEnv allows everything. NewEnvFor(ReadManifest("manifest.yml")) holds
// the fakes to the plugin's manifest as the host holds the module: a fetch
// to a host or port the manifest does not declare, or a capability it does
// not list, answers access-denied; so does a Jira call outside the scopes the
// manifest declares, decided by the host's own rule (wit/jirascopes): an
// operation the Jira and JSM specifications do not document, or one none of
// whose scope sets the manifest completes. A push to a queue no consumer
// reads answers invalid-argument.
package sdktest
