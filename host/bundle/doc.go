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
// manifest.yml is Forge-like YAML, decoded strictly: exactly one document,
// no unknown field at any depth (the error names the field, its line and its
// section), no duplicate keys. Validate then checks, reporting every problem
// with its path (modules.webtrigger[0].function "x" is not a declared
// function):
//
//   - app.id is required, of the form ari:cloud:ecosystem::app/<id>.
//   - app.runtime.memoryMiB is 1..512 (default 64); timeoutSeconds is 1..900
//     (default 25), and Timeout caps it per kind: 55 s for web triggers, 900 s
//     for consumers, 25 s for everything else.
//   - Module keys match [a-z0-9-]{1,64} and are unique across all kinds; every
//     function reference names an entry of modules.function, whose handler is
//     required. Web trigger responses are "dynamic" only. Trigger events are
//     non-empty, distinct and start with "avi:". Consumer queues match
//     [a-z0-9-]{1,64}, one consumer each. Scheduled intervals are fiveMinute,
//     hour, day or week (IntervalPeriod gives their lengths); host/trigger/schedule
//     fires them.
//   - permissions.scopes look like read:jira-work; capabilities are from
//     storage, secrets, fetch, jira, queue, log; neither repeats.
//   - Each egress address in permissions.external.fetch.backend is an ASCII
//     DNS name of at least two labels (IDNs in xn-- form) with no scheme,
//     path, user information or trailing dot, and not an IP address in
//     any spelling a resolver accepts (10.0.0.1, 127.1, 0x7f.1, [::1]). A
//     leading "*." makes a wildcard for exactly one label, never over a
//     top-level domain; Backend.Wildcard lets an audit flag it. An address
//     may end in a port (api.example.com:8443); without one, fetch reaches
//     the host on port 443 only.
//   - Each pacing rule (below) names a host the backend list allows (a
//     wildcard only as written there), and every field checks out.
//
// Free text (app.name, handlers) must be printable UTF-8 of at most 256
// bytes, because audits print it.
//
// # Pacing
//
// permissions.external.fetch.pacing lists, in order, how fast the module's
// fetch requests may go to its egress hosts, counted per installation;
// Manifest.Pacing compiles it for package ratelimit, which applies it and
// knows no service by name. One rule, with every field:
//
//	pacing:
//	  - host: api.telegram.org          # required; an egress host
//	    method: POST                    # optional: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
//	    path: /bot{bot}/{method}        # optional: literal segments, one {capture} per segment at most
//	    when:                           # optional: conditions on request values, all must hold
//	      path.method: { notIn: [sendChatAction] }
//	      param.chat_id: { notPrefix: ["-", "@"] }   # also in, prefix; ASCII case ignored
//	    key: [path.bot, param.chat_id]  # the values a key is made of; absent: one key per host
//	    rate: { requests: 1, per: 1100ms, burst: 1 }  # absent: no pace, blocks only
//	    tooManyRequests:                # how the service spells "wait"
//	      retryAfterField: parameters.retry_after   # JSON member of a 429 or 503, in seconds
//	      retryAfter: 1s                # a 429 naming no time blocks this long
//	      body: '{"ok":false,"parameters":{"retry_after":{seconds}}}'
//
// A value is path.<capture> (of the rule's path), param.<name> (the
// query's, else the body's: a JSON object's top-level member, a form field
// or a multipart text field) or header.<Name>. A rule applies to a request
// to its host, of its method, matching its path, carrying every value it
// names and meeting its conditions; every rule that applies gives the
// request a key to wait on, and the first owns it: a 429 or 503 blocks its
// key, and its tooManyRequests is used (absent: Retry-After and
// X-RateLimit-Reset only, and a Jira-style refusal body). Bounds: at most
// 100 rules; requests 1..1000000; per a Go duration 1ms..24h; burst
// 1..requests (absent means 1); retryAfter 1ms..15m; body valid JSON once
// {seconds} is a number, at most 4096 bytes; at most 8 key values and 8
// conditions of 32 entries each.
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
