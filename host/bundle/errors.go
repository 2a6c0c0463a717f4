package bundle

import "errors"

// Sentinel errors. Every error this package returns wraps one of these (or an
// fs error for a file that cannot be read) with the identifying context, so
// callers test with errors.Is.
var (
	// ErrUnsigned: the bundle has no signature.json.
	ErrUnsigned = errors.New("bundle: bundle is not signed")
	// ErrMalformedSignature: signature.json is not the strict format described in the package doc.
	ErrMalformedSignature = errors.New("bundle: malformed signature file")
	// ErrUntrusted: the signing key is not in the trust set.
	ErrUntrusted = errors.New("bundle: signer is not trusted")
	// ErrRevoked: the signing key is revoked; revocation wins over trust.
	ErrRevoked = errors.New("bundle: signer key is revoked")
	// ErrTampered: manifest.yml or plugin.wasm does not match the hash in signature.json.
	ErrTampered = errors.New("bundle: content does not match its signed hash")
	// ErrBadSignature: the Ed25519 or the ML-DSA-65 signature (or both) does not verify.
	ErrBadSignature = errors.New("bundle: signature does not verify")
	// ErrInvalidManifest: manifest.yml does not decode strictly or fails validation.
	ErrInvalidManifest = errors.New("bundle: invalid manifest")
	// ErrTooLarge: a bundle or key file exceeds its size limit.
	ErrTooLarge = errors.New("bundle: file too large")
	// ErrMalformedKey: a key file is not a well-formed key of this package.
	ErrMalformedKey = errors.New("bundle: malformed key file")
	// ErrKeyPermissions: a private key file is accessible by group or others.
	ErrKeyPermissions = errors.New("bundle: private key file is accessible by group or others")
	// ErrInvalidTrust: a trust directory holds an unexpected file or a malformed revoked list.
	ErrInvalidTrust = errors.New("bundle: invalid trust directory")
)
