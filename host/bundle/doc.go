// Package bundle verifies and loads signed plugin bundles, so that the host
// compiles only a module whose manifest and bytes a trusted vendor signed.
//
// Open is the host's entry point: it returns a Bundle only when everything
// below checks out, and it never returns the module bytes otherwise. Inspect
// reports the same checks, per algorithm, without requiring trust, for an
// audit. Sign, GenerateKey and the key file functions are the vendor's side.
//
// # Bundle layout
//
// A bundle is a directory holding three regular files:
//
//	manifest.yml    what the app is and may do (at most 1 MiB)
//	plugin.wasm     the WebAssembly module (at most 128 MiB)
//	signature.json  the vendor's composite signature over both (at most 64 KiB)
//
// Other files in the directory are ignored and are not covered by the
// signature. Each file is read once; hashes, signatures and the manifest are
// checked on those same bytes.
//
// # Manifest
//
// manifest.yml is Forge-like YAML, decoded strictly (one document, no
// unknown field, no duplicate key) and validated by Manifest.Validate, which
// reports every problem with its path. Its reference, every field and rule
// with the pacing rules, is docs/manifest.md; keep the two together.
//
// # Signature scheme
//
// A vendor key is a composite of Ed25519 and ML-DSA-65 (FIPS 204), so a
// bundle stays unforgeable if either algorithm falls. Both sign the same
// message; Sign writes version 2, which covers the signing time:
//
//	"chatbridge-bundle-v2" 0x00 || SHA-256(manifest.yml) || SHA-256(plugin.wasm) || signedAt (Unix seconds, 8 bytes big-endian)
//
// Version 1 signatures, which record no time, still verify; theirs is
//
//	"chatbridge-bundle-v1" 0x00 || SHA-256(manifest.yml) || SHA-256(plugin.wasm)
//
// Ed25519 signs it as is (pure Ed25519); ML-DSA-65 signs it with the context
// string of its version ("chatbridge-bundle-v2" or "-v1"), hedged
// (randomised). A bundle verifies only when both signatures verify. The
// signing time is the signer's own clock: the signature stops anyone else
// from changing it, nothing proves it true.
//
// signature.json is one flat JSON object with exactly these members (exact
// case, none repeated, nothing after it; version 1 has no signedAt):
//
//	{
//	  "version": 2,
//	  "keyId": "sha256:<64 hex>",         // fingerprint of the signing key
//	  "signedAt": "2026-12-04T21:17:43Z", // RFC 3339, UTC, whole seconds
//	  "ed25519": "<standard base64>",     // 64 bytes
//	  "mldsa65": "<standard base64>",     // 3309 bytes
//	  "manifestSha256": "<64 hex>",
//	  "moduleSha256": "<64 hex>"
//	}
//
// Hex is lower case and base64 canonical (padded, no line breaks). Open checks
// in this order, and the first failure is the error: signature.json present
// (ErrUnsigned) and well-formed (ErrMalformedSignature); keyId not revoked
// (ErrRevoked) and trusted (ErrUntrusted); both files match the declared
// hashes (ErrTampered); both signatures verify over the hashes of the bytes
// read (ErrBadSignature); then the manifest decodes and validates
// (ErrInvalidManifest). Untrusted YAML is thus never parsed by Open.
//
// # Keys and trust
//
// A key's fingerprint, its identity everywhere, is "sha256:" followed by the
// hex SHA-256 of the Ed25519 public key (32 bytes) followed by the ML-DSA-65
// public key (1952 bytes).
//
// Key files are PEM with one header, Key-Id, holding the fingerprint (checked
// on read when present); a public key file may also have a Name header
// naming the key's owner (PublicKey.WithName), which Open and Inspect report
// as the signer's name. The fingerprint does not cover the name: it is the
// trust directory's label, and displays escape it:
//
//   - "CHATBRIDGE BUNDLE PRIVATE KEY": the 32-byte Ed25519 seed followed by
//     the 32-byte ML-DSA-65 seed. Written with mode 0600 and never over an
//     existing file; on Unix a file with any group or other permission bit is
//     refused (ErrKeyPermissions).
//   - "CHATBRIDGE BUNDLE PUBLIC KEY": the 1984 bytes the fingerprint hashes.
//     Written with mode 0644.
//
// A trust directory holds one *.pub file per trusted vendor key and an
// optional file named "revoked" listing fingerprints, one a line, with blank
// lines and # comments allowed. Dot files are ignored; anything else, and a
// world-writable directory or file, fails LoadTrust. A revoked key is refused
// even when it is also trusted.
package bundle
