package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// Bundle is a bundle that passed verification: both signatures verified
// against a trusted, unrevoked key, the files match their signed hashes, and
// the manifest decoded strictly and validated.
type Bundle struct {
	Manifest       *Manifest
	Module         []byte    // plugin.wasm, exactly the bytes that were verified
	Signer         string    // fingerprint of the signing key
	SignerName     string    // the name the trust entry gives the key; may be empty
	SignedAt       time.Time // the signing time the signature covers; zero for a version 1 signature
	ManifestSHA256 string    // lower-case hex
	ModuleSHA256   string    // lower-case hex
}

// SignatureStatus is the outcome of checking one algorithm's signature.
type SignatureStatus string

// Signature statuses reported by Inspect.
const (
	SignatureValid      SignatureStatus = "valid"
	SignatureInvalid    SignatureStatus = "invalid"
	SignatureUnknownKey SignatureStatus = "unknown key" // the signer's public key is not in the trust set, so it cannot be checked
	SignatureMissing    SignatureStatus = "missing"     // no signature.json
	SignatureMalformed  SignatureStatus = "malformed"   // signature.json does not decode
)

// Report is what Inspect found in a bundle. It is meant for an audit; only
// Err says whether the host would load the bundle.
type Report struct {
	Signer     string // keyId from signature.json; empty when unsigned or malformed
	SignerName string // the name the trust entry gives the signer's key (a Name header); empty when none or unknown
	// SignedAt is the signing time the signer recorded (version 2), set
	// only when both signatures verify; zero for a version 1 signature,
	// which records none. It is the signer's claim, covered by the
	// signature, not a timestamp authority's.
	SignedAt       time.Time
	Trusted        bool // the signer's key is in the trust set and not revoked
	Revoked        bool // the signer's fingerprint is revoked
	Ed25519        SignatureStatus
	MLDSA65        SignatureStatus
	ManifestSHA256 string // computed from manifest.yml, lower-case hex
	ModuleSHA256   string // computed from plugin.wasm, lower-case hex
	ManifestIntact bool   // manifest.yml matches the hash in signature.json
	ModuleIntact   bool   // plugin.wasm matches the hash in signature.json
	ModuleSize     int
	Manifest       *Manifest // nil when manifest.yml does not decode
	ManifestErr    error     // why manifest.yml does not decode or validate
	Err            error     // the error Open would return; nil when Open would succeed
}

// contents are the bytes of a bundle directory, read once; everything is
// checked against these, never re-read.
type contents struct {
	manifest, module, sig  []byte // sig nil when signature.json is absent
	manifestSum, moduleSum [sha256.Size]byte
}

func readBundle(dir string, requireSignature bool) (*contents, error) {
	var c contents
	var err error
	c.sig, err = readRegularFile(filepath.Join(dir, SignatureFile), maxSignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		if requireSignature {
			return nil, fmt.Errorf("%w: no %s in %s", ErrUnsigned, SignatureFile, dir)
		}
		c.sig = nil
	} else if err != nil {
		return nil, err
	}
	if c.manifest, err = readRegularFile(filepath.Join(dir, ManifestFile), maxManifestSize); err != nil {
		return nil, err
	}
	if c.module, err = readRegularFile(filepath.Join(dir, ModuleFile), maxModuleSize); err != nil {
		return nil, err
	}
	c.manifestSum, c.moduleSum = sha256.Sum256(c.manifest), sha256.Sum256(c.module)
	return &c, nil
}

// Open reads the bundle in dir and verifies it: signature.json must name a
// trusted, unrevoked key; manifest.yml and plugin.wasm must match the hashes
// it declares; the Ed25519 and the ML-DSA-65 signatures must both verify; and
// only then is the manifest decoded and validated. Module bytes are never
// returned unless all of that passed.
func Open(dir string, trust *Trust) (*Bundle, error) {
	c, err := readBundle(dir, true)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := c.verify(trust, &r); err != nil {
		return nil, fmt.Errorf("%w (bundle %s)", err, dir)
	}
	m, err := ParseManifest(c.manifest)
	if err != nil {
		return nil, err
	}
	return &Bundle{
		Manifest:       m,
		Module:         c.module,
		Signer:         r.Signer,
		SignerName:     r.SignerName,
		SignedAt:       r.SignedAt,
		ManifestSHA256: r.ManifestSHA256,
		ModuleSHA256:   r.ModuleSHA256,
	}, nil
}

// Inspect reads the bundle in dir without requiring it to be trusted and
// reports, per algorithm, whether its signatures verify (possible only when
// trust holds the signer's key; trust may be nil). It decodes the manifest
// even when verification fails, for display. The error is non-nil only when
// the bundle cannot be read at all; Report.Err holds Open's verdict.
func Inspect(dir string, trust *Trust) (*Report, error) {
	c, err := readBundle(dir, false)
	if err != nil {
		return nil, err
	}
	r := &Report{ModuleSize: len(c.module)}
	if err := c.verify(trust, r); err != nil {
		r.Err = fmt.Errorf("%w (bundle %s)", err, dir)
	}
	r.Manifest, r.ManifestErr = decodeManifest(c.manifest)
	if r.ManifestErr == nil {
		r.ManifestErr = r.Manifest.Validate()
	}
	if r.Err == nil {
		r.Err = r.ManifestErr
	}
	return r, nil
}

// verify fills r and returns the error Open reports. Both signatures are
// always checked so that Inspect can report each.
func (c *contents) verify(trust *Trust, r *Report) error {
	r.ManifestSHA256 = hex.EncodeToString(c.manifestSum[:])
	r.ModuleSHA256 = hex.EncodeToString(c.moduleSum[:])
	if c.sig == nil {
		r.Ed25519, r.MLDSA65 = SignatureMissing, SignatureMissing
		return fmt.Errorf("%w: no %s", ErrUnsigned, SignatureFile)
	}
	s, err := decodeSignature(c.sig)
	if err != nil {
		r.Ed25519, r.MLDSA65 = SignatureMalformed, SignatureMalformed
		return err
	}
	key, revoked := trust.lookup(s.keyID)
	r.Signer, r.Revoked, r.Trusted = s.keyID, revoked, key != nil && !revoked
	if key != nil {
		r.SignerName = key.name
	}
	r.ManifestIntact = s.manifestSum == c.manifestSum
	r.ModuleIntact = s.moduleSum == c.moduleSum
	r.Ed25519, r.MLDSA65 = SignatureUnknownKey, SignatureUnknownKey
	if key != nil {
		// The signatures are checked over the hashes of the bytes read, not
		// the hashes signature.json claims.
		msg, ctx := s.signed(c.manifestSum, c.moduleSum)
		r.Ed25519 = status(key.verifyEd25519(msg, s.ed))
		r.MLDSA65 = status(key.verifyMLDSA65(msg, ctx, s.ml))
		if r.Ed25519 == SignatureValid && r.MLDSA65 == SignatureValid {
			// Shown only once verified: until then it is anyone's claim.
			r.SignedAt = s.signedAt
		}
	}
	switch {
	case revoked:
		return fmt.Errorf("%w: %s", ErrRevoked, s.keyID)
	case key == nil:
		return fmt.Errorf("%w: %s", ErrUntrusted, s.keyID)
	case !r.ManifestIntact || !r.ModuleIntact:
		var files []string
		if !r.ManifestIntact {
			files = append(files, ManifestFile)
		}
		if !r.ModuleIntact {
			files = append(files, ModuleFile)
		}
		return fmt.Errorf("%w: %s changed after signing", ErrTampered, strings.Join(files, " and "))
	case r.Ed25519 != SignatureValid || r.MLDSA65 != SignatureValid:
		return fmt.Errorf("%w: Ed25519 %s, ML-DSA-65 %s (signer %s)", ErrBadSignature, r.Ed25519, r.MLDSA65, s.keyID)
	}
	return nil
}

func status(ok bool) SignatureStatus {
	if ok {
		return SignatureValid
	}
	return SignatureInvalid
}
