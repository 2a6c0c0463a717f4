// Package capability implements the host functions a plugin module imports:
// storage, secrets, fetch, jira, queue and log, plus the abi functions that
// move a call's input and results across the boundary.
//
// # Policy
//
// Every function is scoped by the host to the calling installation, read
// from the call's context; the module cannot name another installation.
// What the manifest does not grant is refused: an undeclared import module
// fails the bundle's load (CheckImports), and at call time a denial is an
// abi error code the module sees, never a trap.
//
// fetch reaches a host the manifest's backend list names, on the port the
// address names (443 when it names none). jira sends only an operation the
// Jira and JSM specifications document, and only when the manifest declares
// every scope of one of the operation's scope sets: the contract's rule,
// wit/jirascopes (generated from testdata/specs), which plugin/sdk/sdktest
// applies too.
//
// storage.get of a key beginning with one of Deps.CachedKeys may be
// answered from the store's read cache (storage.WithReadCache; on etcd a
// watch-coherent cache, never older than this node's own writes); every
// other call, transact included, goes to the store itself.
//
// # Traps
//
// Only a host bug or an out-of-bounds guest pointer traps (a panic that
// wazero turns into an error of the call, after which the host discards the
// instance).
//
// # Fenced writes
//
// On a cluster a queue consumer's writes are fenced by its lane's claim
// (storage.Fence). A write that fails so (storage.ErrFenced: another node
// consumes the lane now) reaches the module as unavailable, which the
// bridge turns into a queue retry, and from then on fetch and jira refuse
// every request of that call as unavailable: nothing more of it reaches
// the outside world.
//
// # Rate shaping
//
// fetch and jira pass every request through Deps.Limiter (package
// ratelimit) before sending it, counted against the keys the bundle's
// pacing rules (Deps.Pacing, declared in its manifest) give it, such as a
// bot and a chat; a request no rule matches, Jira's included, counts
// against its installation and host. A request waits its turn when that is
// at most the limiter's MaxWait (2 s) away; a longer wait is not sent, and
// the module gets a 429 with Retry-After and the body the rule declares
// (the service's own refusal), which the bridge turns into a queue retry no
// earlier. 429 and 503 answers teach the limiter when the key may be called
// again. The host knows no service by name.
//
// # Logs
//
// A module's log record reaches the invocation's logger with its message
// and attribute values escaped (control, format and invalid characters
// written as Go escapes) and bounded (Limits.LogMessageBytes, 256 bytes a
// value), attribute names of letters, digits, '_' and '.' (others dropped
// and counted in plugin_attrs_dropped), values of sensitive names and every
// secret the call used redacted. The host's own lines quote nothing from
// outside unescaped.
//
// # One file per capability
//
// Each file registers one import module of wit/chatbridge.wit and writes out
// the core signature of each function it provides.
package capability
