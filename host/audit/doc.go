// Package audit answers, from a bundle alone, what a security reviewer must
// know before letting a module into a marketplace: who signed it, exactly
// what it can do, and whether the binary is what its build says.
//
// # What a report holds
//
// Bundle and module SHA-256; the signature status per algorithm, the
// signer's fingerprint, the name its trust entry gives it and the signing
// time the signature covers; every import grouped by capability (and each
// WASI function) and every export; the manifest's permissions (egress hosts,
// link hosts, scopes, capabilities, memory, timeouts); the module's memory and table
// limits; and the build: Go version (the module's producers section), main
// module and every dependency with version and go.sum hash (the
// runtime.modinfo record, which debug/buildinfo cannot find in a wasm
// module), the commit (vcs.revision, vcs.modified; "unknown" without a VCS
// stamp), the flags and environment, and the go build command that rebuilds
// plugin.wasm byte for byte, with the caveats when the module does not
// record enough to promise that.
//
// # Supply chain
//
// Report.SBOM writes a CycloneDX 1.5 bill of materials from the build
// information. Report.CheckVulns checks every module (and the standard
// library at the Go version) against OSV records in a local folder
// (LoadVulnDB; no network): a module version inside an affected range is a
// failure naming the OSV id. Compare lists what changed between two bundles
// in capabilities, egress (host:port), egress used, link hosts (declared and
// used), scopes, memory, imports, exports and dependencies.
//
// # Checks
//
// A failed check makes the report fail (and `chatbridge audit` exit non-zero):
// a signature that does not verify, an untrusted or revoked signer, a file
// changed after signing, an import from a capability the manifest does not
// declare or from a module the host does not provide, an https URL in the
// module's data whose host the manifest neither allows egress to nor
// declares in permissions.external.links, a
// minimum memory above the manifest's memoryMiB (the host would fail every
// start), a scope no Jira or JSM operation accepts (the host grants nothing
// for it), and, with a vulnerability folder, a known vulnerability. Warnings do not fail: a declared capability the module never
// imports, a declared link host the module never names, and a wildcard
// egress host.
//
// # Honest egress
//
// The hosts under "egress used" are the https URLs the module names
// literally. A module that imports fetch may build others at run time, so
// its report says it cannot tell (Report.EgressCannotTell); the host's
// allowlist holds every call either way. A URL whose host the manifest
// declares in permissions.external.links (a map link the module writes into
// a comment for a person to open) is listed under "links used" instead: it
// passes, and grants nothing, since fetch refuses a host that is only a link.
//
// # Escaping
//
// The text report and the diff write control characters, bidirectional
// controls and invalid UTF-8 in every string they print as Go escapes, so
// that a name in the module, the manifest or the trust directory cannot
// redraw the report; the rebuild command quotes every build setting as one
// shell word.
package audit
