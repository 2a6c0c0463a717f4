package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Bundle file names.
const (
	ManifestFile  = "manifest.yml"
	ModuleFile    = "plugin.wasm"
	SignatureFile = "signature.json"
)

const (
	signatureVersion = 1
	// domain separates bundle signatures from anything else the same key
	// might ever sign; the ML-DSA-65 context string is the same text.
	domain        = "chatbridge-bundle-v1"
	messagePrefix = domain + "\x00"

	maxManifestSize  = 1 << 20   // 1 MiB
	maxModuleSize    = 128 << 20 // 128 MiB
	maxSignatureSize = 64 << 10  // 64 KiB; a real one is about 4.6 KiB
)

var mldsaContext = []byte(domain)

// signatureJSON is the wire form of signature.json, in field order.
type signatureJSON struct {
	Version        int    `json:"version"`
	KeyID          string `json:"keyId"`
	Ed25519        string `json:"ed25519"`
	MLDSA65        string `json:"mldsa65"`
	ManifestSHA256 string `json:"manifestSha256"`
	ModuleSHA256   string `json:"moduleSha256"`
}

// signature is a decoded, well-formed signature.json.
type signature struct {
	keyID       string
	ed          []byte
	ml          []byte
	manifestSum [sha256.Size]byte
	moduleSum   [sha256.Size]byte
}

// message is what both algorithms sign: the domain prefix, then the SHA-256
// of manifest.yml, then the SHA-256 of plugin.wasm.
func message(manifestSum, moduleSum [sha256.Size]byte) []byte {
	m := make([]byte, 0, len(messagePrefix)+2*sha256.Size)
	m = append(m, messagePrefix...)
	m = append(m, manifestSum[:]...)
	return append(m, moduleSum[:]...)
}

func (k *PrivateKey) sign(msg []byte) (edSig, mlSig []byte, err error) {
	edSig = ed25519.Sign(k.ed, msg)
	mlSig = make([]byte, mldsa65.SignatureSize)
	// Hedged (randomised) signing, as FIPS 204 recommends; the bundle's
	// hashes are reproducible, its signature bytes need not be.
	if err := mldsa65.SignTo(k.ml, msg, mldsaContext, true, mlSig); err != nil {
		return nil, nil, fmt.Errorf("bundle: ML-DSA-65 sign: %w", err)
	}
	return edSig, mlSig, nil
}

func (k *PublicKey) verifyEd25519(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
}

func (k *PublicKey) verifyMLDSA65(msg, sig []byte) bool {
	return len(sig) == mldsa65.SignatureSize && mldsa65.Verify(k.ml, msg, mldsaContext, sig)
}

// Sign signs the bundle in dir with k: it reads manifest.yml and plugin.wasm,
// refuses a manifest that does not validate, and writes signature.json
// (atomically, mode 0644), replacing any previous signature.
func Sign(dir string, k *PrivateKey) error {
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
	data, err := signFiles(manifest, module, k)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, SignatureFile), data, 0o644)
}

// signFiles returns the signature.json for the given contents. It checks its
// own output, so a faulty signature is never written.
func signFiles(manifest, module []byte, k *PrivateKey) ([]byte, error) {
	manifestSum, moduleSum := sha256.Sum256(manifest), sha256.Sum256(module)
	msg := message(manifestSum, moduleSum)
	edSig, mlSig, err := k.sign(msg)
	if err != nil {
		return nil, err
	}
	if !k.pub.verifyEd25519(msg, edSig) || !k.pub.verifyMLDSA65(msg, mlSig) {
		return nil, errors.New("bundle: sign: fresh signature does not verify")
	}
	return encodeSignature(&signature{
		keyID:       k.pub.fp,
		ed:          edSig,
		ml:          mlSig,
		manifestSum: manifestSum,
		moduleSum:   moduleSum,
	})
}

func encodeSignature(s *signature) ([]byte, error) {
	data, err := json.MarshalIndent(signatureJSON{
		Version:        signatureVersion,
		KeyID:          s.keyID,
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

// signatureFields are the exact, case-sensitive member names of signature.json.
var signatureFields = []string{"version", "keyId", "ed25519", "mldsa65", "manifestSha256", "moduleSha256"}

// decodeSignature decodes signature.json strictly: one flat JSON object with
// exactly the six members (exact case, no duplicates, nothing after it), each
// in its canonical encoding. encoding/json alone would match member names
// case-insensitively and let a duplicate win silently.
func decodeSignature(data []byte) (*signature, error) {
	if err := checkSignatureMembers(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w signatureJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	s, err := w.parse()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	return s, nil
}

func checkSignatureMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := make(map[string]bool, len(signatureFields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		if !knownSignatureField(name) {
			return fmt.Errorf("unknown field %q", name)
		}
		if seen[name] {
			return fmt.Errorf("duplicate field %q", name)
		}
		seen[name] = true
		v, err := dec.Token()
		if err != nil {
			return err
		}
		if _, ok := v.(json.Delim); ok {
			return fmt.Errorf("field %q is not a scalar", name)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	for _, f := range signatureFields {
		if !seen[f] {
			return fmt.Errorf("missing field %q", f)
		}
	}
	return nil
}

func knownSignatureField(name string) bool {
	for _, f := range signatureFields {
		if name == f {
			return true
		}
	}
	return false
}

func (w *signatureJSON) parse() (*signature, error) {
	if w.Version != signatureVersion {
		return nil, fmt.Errorf("unsupported version %d, want %d", w.Version, signatureVersion)
	}
	if !validFingerprint(w.KeyID) {
		return nil, fmt.Errorf("keyId %q is not sha256:<64 lower-case hex digits>", w.KeyID)
	}
	s := &signature{keyID: w.KeyID}
	var err error
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
