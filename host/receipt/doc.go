// Package receipt signs and verifies deletion receipts: what an uninstall
// destroyed (the installation, its key records by fingerprint, when) signed
// with the host's receipt key, so that anyone holding the host's public key
// can check the claim later, offline.
//
// # Keys
//
// A receipt key is composite, like a vendor's bundle key: Ed25519 and
// ML-DSA-65 (FIPS 204), both of which must verify. The storage master key is
// an X-Wing KEM key and cannot sign. The private key is a PEM file of mode
// 0600 (LoadOrCreate makes one, with its public key beside it as NAME.pub);
// its fingerprint is "sha256:" and the hex SHA-256 of both public keys.
//
// # Format
//
// A receipt is JSON: {"receipt": BODY, "ed25519": SIG, "mldsa65": SIG}, where
// BODY is the signed JSON object and each signature covers
// "chatbridge-receipt-v1\x00" followed by BODY in compact form (json.Compact:
// whitespace outside strings does not count, so an indented receipt verifies).
package receipt
