package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Bundle file names.
const (
	ManifestFile  = "manifest.yml"
	ModuleFile    = "plugin.wasm"
	SignatureFile = "signature.json"
)

const (
	// signatureVersion is the version Sign writes: 2 records the signing
	// time. Version 1 signatures (no time) still verify.
	signatureVersion = 2
	// domain separates bundle signatures from anything else the same key
	// might ever sign, and one version's message from the other's; the
	// ML-DSA-65 context string is the same text.
	domain        = "chatbridge-bundle-v1"
	domainV2      = "chatbridge-bundle-v2"
	messagePrefix = domain + "\x00"

	maxManifestSize  = 1 << 20   // 1 MiB
	maxModuleSize    = 128 << 20 // 128 MiB
	maxSignatureSize = 64 << 10  // 64 KiB; a real one is about 4.6 KiB
)

var (
	mldsaContext   = []byte(domain)
	mldsaContextV2 = []byte(domainV2)
)

// signatureJSON is the wire form of signature.json, in field order.
type signatureJSON struct {
	Version        int    `json:"version"`
	KeyID          string `json:"keyId"`
	SignedAt       string `json:"signedAt,omitempty"` // version 2 only
	Ed25519        string `json:"ed25519"`
	MLDSA65        string `json:"mldsa65"`
	ManifestSHA256 string `json:"manifestSha256"`
	ModuleSHA256   string `json:"moduleSha256"`
}

// signature is a decoded, well-formed signature.json.
type signature struct {
	version     int
	keyID       string
	signedAt    time.Time // UTC, whole seconds; zero in version 1
	ed          []byte
	ml          []byte
	manifestSum [sha256.Size]byte
	moduleSum   [sha256.Size]byte
}

// message is what both algorithms sign in a version 1 signature: the domain
// prefix, then the SHA-256 of manifest.yml, then the SHA-256 of plugin.wasm.
func message(manifestSum, moduleSum [sha256.Size]byte) []byte {
	m := make([]byte, 0, len(messagePrefix)+2*sha256.Size)
	m = append(m, messagePrefix...)
	m = append(m, manifestSum[:]...)
	return append(m, moduleSum[:]...)
}

// messageV2 is what both algorithms sign in a version 2 signature: the
// version 2 domain prefix, the two hashes, then the signing time as Unix
// seconds, 8 bytes big-endian. Its prefix differs from version 1's, so
// neither version's signature verifies as the other.
func messageV2(manifestSum, moduleSum [sha256.Size]byte, signedAt time.Time) []byte {
	m := make([]byte, 0, len(domainV2)+1+2*sha256.Size+8)
	m = append(m, domainV2+"\x00"...)
	m = append(m, manifestSum[:]...)
	m = append(m, moduleSum[:]...)
	return binary.BigEndian.AppendUint64(m, uint64(signedAt.Unix()))
}

// signed returns the message s signs over the given hashes, and the ML-DSA
// context of its version.
func (s *signature) signed(manifestSum, moduleSum [sha256.Size]byte) (msg, mlContext []byte) {
	if s.version == 1 {
		return message(manifestSum, moduleSum), mldsaContext
	}
	return messageV2(manifestSum, moduleSum, s.signedAt), mldsaContextV2
}

func (k *PrivateKey) sign(msg, mlContext []byte) (edSig, mlSig []byte, err error) {
	edSig = ed25519.Sign(k.ed, msg)
	mlSig = make([]byte, mldsa65.SignatureSize)
	// Hedged (randomised) signing, as FIPS 204 recommends; the bundle's
	// hashes are reproducible, its signature bytes need not be.
	if err := mldsa65.SignTo(k.ml, msg, mlContext, true, mlSig); err != nil {
		return nil, nil, fmt.Errorf("bundle: ML-DSA-65 sign: %w", err)
	}
	return edSig, mlSig, nil
}

func (k *PublicKey) verifyEd25519(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
}

func (k *PublicKey) verifyMLDSA65(msg, mlContext, sig []byte) bool {
	return len(sig) == mldsa65.SignatureSize && mldsa65.Verify(k.ml, msg, mlContext, sig)
}

// Sign signs the bundle in dir with k at the current time: it reads
// manifest.yml and plugin.wasm, refuses a manifest that does not validate,
// and writes a version 2 signature.json (atomically, mode 0644), replacing
// any previous signature. The signing time is covered by the signature.
func Sign(dir string, k *PrivateKey) error {
	return signAt(dir, k, time.Now())
}

func signAt(dir string, k *PrivateKey, now time.Time) error {
	manifest, err := readRegularFile(filepath.Join(dir, ManifestFile), maxManifestSize)
	if err != nil {
		return err
	}
	if _, err := ParseManifest(manifest); err != nil {
		return fmt.Errorf("bundle: sign %s: %w", dir, err)
	}
	module, err := readRegularFile(filepath.Join(dir, ModuleFile), maxModuleSize)
	if err != nil {
		return err
	}
	data, err := signFilesAt(manifest, module, k, now)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, SignatureFile), data, 0o644)
}

// signFiles returns the signature.json for the given contents, signed now.
func signFiles(manifest, module []byte, k *PrivateKey) ([]byte, error) {
	return signFilesAt(manifest, module, k, time.Now())
}

// signFilesAt returns the version 2 signature.json for the given contents,
// signed at now (kept to whole seconds, UTC). It checks its own output, so a
// faulty signature is never written.
func signFilesAt(manifest, module []byte, k *PrivateKey, now time.Time) ([]byte, error) {
	s := &signature{
		version:     signatureVersion,
		keyID:       k.pub.fp,
		signedAt:    now.UTC().Truncate(time.Second),
		manifestSum: sha256.Sum256(manifest),
		moduleSum:   sha256.Sum256(module),
	}
	if y := s.signedAt.Year(); y < 1970 || y > 9999 {
		return nil, fmt.Errorf("bundle: sign: the clock says %d, outside 1970-9999", y)
	}
	msg, ctx := s.signed(s.manifestSum, s.moduleSum)
	var err error
	if s.ed, s.ml, err = k.sign(msg, ctx); err != nil {
		return nil, err
	}
	if !k.pub.verifyEd25519(msg, s.ed) || !k.pub.verifyMLDSA65(msg, ctx, s.ml) {
		return nil, errors.New("bundle: sign: fresh signature does not verify")
	}
	return encodeSignature(s)
}

func encodeSignature(s *signature) ([]byte, error) {
	var signedAt string
	if s.version >= 2 {
		signedAt = s.signedAt.Format(time.RFC3339)
	}
	data, err := json.MarshalIndent(signatureJSON{
		Version:        s.version,
		KeyID:          s.keyID,
		SignedAt:       signedAt,
		Ed25519:        base64.StdEncoding.EncodeToString(s.ed),
		MLDSA65:        base64.StdEncoding.EncodeToString(s.ml),
		ManifestSHA256: hex.EncodeToString(s.manifestSum[:]),
		ModuleSHA256:   hex.EncodeToString(s.moduleSum[:]),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: encode signature: %w", err)
	}
	return append(data, '\n'), nil
}

// signatureFields are the exact, case-sensitive member names every
// signature.json has; a version 2 one also has signedAtField.
var signatureFields = []string{"version", "keyId", "ed25519", "mldsa65", "manifestSha256", "moduleSha256"}

const signedAtField = "signedAt"

// decodeSignature decodes signature.json strictly: one flat JSON object with
// exactly the members of its version (exact case, no duplicates, nothing
// after it), each in its canonical encoding. encoding/json alone would match
// member names case-insensitively and let a duplicate win silently.
func decodeSignature(data []byte) (*signature, error) {
	hasSignedAt, err := checkSignatureMembers(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w signatureJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	s, err := w.parse(hasSignedAt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	return s, nil
}

// checkSignatureMembers checks the members' names and reports whether
// signedAt is among them.
func checkSignatureMembers(data []byte) (hasSignedAt bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil {
		return false, err
	} else if t != json.Delim('{') {
		return false, errors.New("not a JSON object")
	}
	seen := make(map[string]bool, len(signatureFields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false, err
		}
		name, _ := t.(string)
		if !knownSignatureField(name) {
			return false, fmt.Errorf("unknown field %q", name)
		}
		if seen[name] {
			return false, fmt.Errorf("duplicate field %q", name)
		}
		seen[name] = true
		v, err := dec.Token()
		if err != nil {
			return false, err
		}
		if _, ok := v.(json.Delim); ok {
			return false, fmt.Errorf("field %q is not a scalar", name)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return false, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, errors.New("data after the JSON object")
	}
	for _, f := range signatureFields {
		if !seen[f] {
			return false, fmt.Errorf("missing field %q", f)
		}
	}
	return seen[signedAtField], nil
}

func knownSignatureField(name string) bool {
	if name == signedAtField {
		return true
	}
	for _, f := range signatureFields {
		if name == f {
			return true
		}
	}
	return false
}

func (w *signatureJSON) parse(hasSignedAt bool) (*signature, error) {
	if w.Version != 1 && w.Version != 2 {
		return nil, fmt.Errorf("unsupported version %d, want 1 or 2", w.Version)
	}
	if !validFingerprint(w.KeyID) {
		return nil, fmt.Errorf("keyId %q is not sha256:<64 lower-case hex digits>", w.KeyID)
	}
	s := &signature{version: w.Version, keyID: w.KeyID}
	var err error
	switch {
	case w.Version == 1 && hasSignedAt:
		return nil, fmt.Errorf("unknown field %q in a version 1 signature", signedAtField)
	case w.Version == 2 && !hasSignedAt:
		return nil, fmt.Errorf("missing field %q", signedAtField)
	case w.Version == 2:
		if s.signedAt, err = decodeTime(w.SignedAt); err != nil {
			return nil, err
		}
	}
	if s.ed, err = decodeBase64("ed25519", w.Ed25519, ed25519.SignatureSize); err != nil {
		return nil, err
	}
	if s.ml, err = decodeBase64("mldsa65", w.MLDSA65, mldsa65.SignatureSize); err != nil {
		return nil, err
	}
	if s.manifestSum, err = decodeSum("manifestSha256", w.ManifestSHA256); err != nil {
		return nil, err
	}
	if s.moduleSum, err = decodeSum("moduleSha256", w.ModuleSHA256); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeBase64(field, s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	// Re-encoding rejects the line breaks the decoder would skip.
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("%s is not canonical standard base64", field)
	}
	if len(b) != size {
		return nil, fmt.Errorf("%s signature is %d bytes, want %d", field, len(b), size)
	}
	return b, nil
}

// decodeTime accepts only the form signFilesAt writes: RFC 3339 in UTC with
// whole seconds ("2026-12-04T21:17:43Z").
func decodeTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Format(time.RFC3339) != s {
		return time.Time{}, fmt.Errorf("%s %q is not RFC 3339 UTC time in whole seconds (2006-01-02T15:04:05Z)", signedAtField, s)
	}
	return t.UTC(), nil
}

func decodeSum(field, s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(s) != 2*sha256.Size || !isLowerHex(s) {
		return sum, fmt.Errorf("%s is not 64 lower-case hex digits", field)
	}
	hex.Decode(sum[:], []byte(s))
	return sum, nil
}

func validFingerprint(s string) bool {
	h, ok := strings.CutPrefix(s, fingerprintPrefix)
	return ok && len(h) == 2*sha256.Size && isLowerHex(h)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// writeFileAtomic writes through a temporary file in the same directory and
// renames it into place, so a reader never sees half a signature.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	return nil
}
