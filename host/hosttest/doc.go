// Package hosttest runs a plugin's wasm module in the real host from
// `go test`: the sandbox, the manifest's permissions, storage, the queue and
// its consumer, and scheduled triggers, as `chatbridge serve` runs them,
// without a listener, a Jira site or a key of one's own.
//
// It is for a vendor's plugin in its own module (docs/vendors.md, "Test it in
// the real host") as much as for this repository's: Start builds the main
// package in a folder with manifest.yml as a wasip1 reactor (the build
// `chatbridge bundle build` does), signs it with a throwaway key that only
// this host trusts, starts a host on an in-memory store (or the one given),
// loads the bundle and installs one installation (without a Jira site unless
// one is given: an app that declares no Jira scope needs none). The Plugin it
// returns calls a web trigger, fires a scheduled trigger, calls a function
// module, pushes to a queue and waits for the consumer, each through the
// host's own way in (host/trigger/...), so what the host refuses is refused
// here too: an undeclared capability fails the load, a fetch outside the
// egress list is access-denied.
//
// The plugin's own unit tests stay on plugin/sdk/sdktest, which runs the
// handlers natively and fast; hosttest is the slower check that the built
// module does the same in the sandbox. plugin/ may not import the host, so
// this helper lives here, beside it.
package hosttest
