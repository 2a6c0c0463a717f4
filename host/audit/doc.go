// Package audit answers, from a bundle alone, what a security reviewer must
// know before letting a module into a marketplace: who signed it, exactly
// what it can do, and whether the binary is what its build says.
//
// # What a report holds
//
// Bundle and module SHA-256; the signature status per algorithm and the
// signer's fingerprint; every import grouped by capability (and each WASI
// function) and every export; the manifest's permissions (egress hosts,
// scopes, capabilities, memory, timeouts); the module's memory and table
// limits; and the Go version, main module and dependencies the module was
// built from (read from the runtime.modinfo record the Go linker embeds).
//
// # Checks
//
// A failed check makes the report fail (and `chatbridge audit` exit non-zero):
// a signature that does not verify, an untrusted or revoked signer, a file
// changed after signing, an import from a capability the manifest does not
// declare or from a module the host does not provide, an https URL in the
// module's data whose host the manifest's egress list does not allow, and a
// minimum memory above the manifest's memoryMiB (the host would fail every
// start). Warnings do not fail: a declared capability the module never
// imports, and a wildcard egress host.
//
// # Honest egress
//
// The hosts under "egress used" are the https URLs the module names
// literally. A module that imports fetch may build others at run time, so
// its report says it cannot tell (Report.EgressCannotTell); the host's
// allowlist holds every call either way.
//
// # Escaping
//
// The text report writes control characters, bidirectional controls and
// invalid UTF-8 in every string it prints as Go escapes, so that a name in
// the module or manifest cannot redraw the report.
package audit
