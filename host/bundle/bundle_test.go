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
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

func TestOpen_SignedBundleOpensWithItsContents(t *testing.T) {
	k := testKey(t, 1)
	dir := signedBundle(t, k)

	b, err := Open(dir, NewTrust([]*PublicKey{k.Public()}, nil))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(b.Module, testModule) {
		t.Error("Module differs from plugin.wasm")
	}
	if b.Signer != k.Public().Fingerprint() {
		t.Errorf("Signer = %s, want %s", b.Signer, k.Public().Fingerprint())
	}
	if want := sha256.Sum256(testModule); b.ModuleSHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("ModuleSHA256 = %s", b.ModuleSHA256)
	}
	if want := sha256.Sum256(exampleManifest(t)); b.ManifestSHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("ManifestSHA256 = %s", b.ManifestSHA256)
	}
	if b.Manifest.App.ID != "ari:cloud:ecosystem::app/chatbridge" {
		t.Errorf("Manifest.App.ID = %q", b.Manifest.App.ID)
	}
}

// otherSignatures returns valid-format signatures by k that do not sign this
// bundle: Ed25519 over another message, ML-DSA-65 with another context.
func otherSignatures(t *testing.T, k *PrivateKey, dir string) (ed, ml string) {
	t.Helper()
	msg := message(sha256.Sum256(readFile(t, filepath.Join(dir, ManifestFile))), sha256.Sum256(readFile(t, filepath.Join(dir, ModuleFile))))
	ed = base64.StdEncoding.EncodeToString(ed25519.Sign(k.ed, append([]byte("other"), msg...)))
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.ml, msg, []byte("another-context"), true, sig); err != nil {
		t.Fatal(err)
	}
	return ed, base64.StdEncoding.EncodeToString(sig)
}

func TestOpen_RefusesBundleThatIsNotExactlyWhatATrustedKeySigned(t *testing.T) {
	signer, stranger := testKey(t, 1), testKey(t, 2)
	trusted := NewTrust([]*PublicKey{signer.Public()}, nil)

	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		trust  *Trust
		want   error
	}{
		{
			name:   "one byte of manifest.yml flipped",
			mutate: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, ManifestFile), 40) },
			want:   ErrTampered,
		},
		{
			name:   "one byte of plugin.wasm flipped",
			mutate: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, ModuleFile), -1) },
			want:   ErrTampered,
		},
		{
			name: "plugin.wasm grew by one byte",
			mutate: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, ModuleFile), append(bytes.Clone(testModule), 0))
			},
			want: ErrTampered,
		},
		{
			name: "manifest changed and its declared hash updated to match",
			mutate: func(t *testing.T, dir string) {
				m := append(exampleManifest(t), "# changed\n"...)
				writeFile(t, filepath.Join(dir, ManifestFile), m)
				sum := sha256.Sum256(m)
				editSignature(t, dir, func(s *signatureJSON) { s.ManifestSHA256 = hex.EncodeToString(sum[:]) })
			},
			want: ErrBadSignature,
		},
		{
			name: "one byte of the Ed25519 signature flipped",
			mutate: func(t *testing.T, dir string) {
				editSignature(t, dir, func(s *signatureJSON) { s.Ed25519 = flipBase64(t, s.Ed25519) })
			},
			want: ErrBadSignature,
		},
		{
			name: "one byte of the ML-DSA-65 signature flipped",
			mutate: func(t *testing.T, dir string) {
				editSignature(t, dir, func(s *signatureJSON) { s.MLDSA65 = flipBase64(t, s.MLDSA65) })
			},
			want: ErrBadSignature,
		},
		{
			name: "Ed25519 valid but ML-DSA-65 signed under another context",
			mutate: func(t *testing.T, dir string) {
				_, ml := otherSignatures(t, signer, dir)
				editSignature(t, dir, func(s *signatureJSON) { s.MLDSA65 = ml })
			},
			want: ErrBadSignature,
		},
		{
			name: "ML-DSA-65 valid but Ed25519 signed another message",
			mutate: func(t *testing.T, dir string) {
				ed, _ := otherSignatures(t, signer, dir)
				editSignature(t, dir, func(s *signatureJSON) { s.Ed25519 = ed })
			},
			want: ErrBadSignature,
		},
		{
			name:   "signature.json missing",
			mutate: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SignatureFile)) },
			want:   ErrUnsigned,
		},
		{
			name: "signature.json has an unknown field",
			mutate: func(t *testing.T, dir string) {
				path := filepath.Join(dir, SignatureFile)
				writeFile(t, path, bytes.Replace(readFile(t, path), []byte(`"version"`), []byte(`"extra": 1, "version"`), 1))
			},
			want: ErrMalformedSignature,
		},
		{
			name: "signature.json truncated",
			mutate: func(t *testing.T, dir string) {
				path := filepath.Join(dir, SignatureFile)
				writeFile(t, path, readFile(t, path)[:100])
			},
			want: ErrMalformedSignature,
		},
		{
			name:  "signed by a key that is not trusted",
			trust: NewTrust([]*PublicKey{stranger.Public()}, nil),
			want:  ErrUntrusted,
		},
		{
			name: "no trust at all",
			want: ErrUntrusted,
		},
		{
			name: "keyId switched to another trusted key",
			mutate: func(t *testing.T, dir string) {
				editSignature(t, dir, func(s *signatureJSON) { s.KeyID = stranger.Public().Fingerprint() })
			},
			trust: NewTrust([]*PublicKey{signer.Public(), stranger.Public()}, nil),
			want:  ErrBadSignature,
		},
		{
			name:  "signer revoked and also trusted",
			trust: NewTrust([]*PublicKey{signer.Public()}, []string{signer.Public().Fingerprint()}),
			want:  ErrRevoked,
		},
		{
			name:  "signer revoked and not trusted",
			trust: NewTrust(nil, []string{signer.Public().Fingerprint()}),
			want:  ErrRevoked,
		},
		{
			name: "signature copied from a bundle with another module",
			mutate: func(t *testing.T, dir string) {
				other := writeBundle(t, exampleManifest(t), []byte("\x00asm\x01\x00\x00\x00other"))
				if err := Sign(other, signer); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, SignatureFile), readFile(t, filepath.Join(other, SignatureFile)))
			},
			want: ErrTampered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := signedBundle(t, signer)
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			trust := tt.trust
			if trust == nil && tt.name != "no trust at all" {
				trust = trusted
			}
			b, err := Open(dir, trust)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if b != nil {
				t.Error("Open returned a bundle (and its module bytes) for a refused bundle")
			}
			r, err := Inspect(dir, trust)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if !errors.Is(r.Err, tt.want) {
				t.Errorf("Inspect Report.Err = %v, want %v (Open's verdict)", r.Err, tt.want)
			}
		})
	}
}

// flipBase64 decodes s, flips one bit of its middle byte and re-encodes it.
func flipBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func TestOpen_RefusesValidlySignedInvalidManifest(t *testing.T) {
	k := testKey(t, 1)
	manifest := []byte("app:\n  id: \"ari:cloud:ecosystem::app/chatbridge\"\n  runtime: { memoryMiB: 4096 }\n")
	dir := writeBundle(t, manifest, testModule)
	// Sign refuses this manifest, so sign the files directly.
	sig, err := signFiles(manifest, testModule, k)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, SignatureFile), sig)

	b, err := Open(dir, NewTrust([]*PublicKey{k.Public()}, nil))
	if !errors.Is(err, ErrInvalidManifest) || b != nil {
		t.Fatalf("Open = %v, %v; want ErrInvalidManifest", b, err)
	}
	if !strings.Contains(err.Error(), "app.runtime.memoryMiB 4096") {
		t.Errorf("error %q does not name the field", err)
	}
}

func TestOpen_MissingFileIsNotExist(t *testing.T) {
	k := testKey(t, 1)
	for _, name := range []string{ManifestFile, ModuleFile} {
		t.Run(name, func(t *testing.T) {
			dir := signedBundle(t, k)
			os.Remove(filepath.Join(dir, name))
			_, err := Open(dir, NewTrust([]*PublicKey{k.Public()}, nil))
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Open error = %v, want not-exist naming %s", err, name)
			}
		})
	}
}

func TestOpen_RefusesOversizedManifestBeforeParsing(t *testing.T) {
	k := testKey(t, 1)
	dir := signedBundle(t, k)
	big := append(exampleManifest(t), make([]byte, maxManifestSize)...)
	writeFile(t, filepath.Join(dir, ManifestFile), big)
	for _, inspect := range []bool{false, true} {
		var err error
		if inspect {
			_, err = Inspect(dir, nil)
		} else {
			_, err = Open(dir, NewTrust([]*PublicKey{k.Public()}, nil))
		}
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("inspect=%v: error = %v, want ErrTooLarge", inspect, err)
		}
	}
}

// Open shares one Trust (and its keys) between goroutines, as the host does.
func TestOpen_ConcurrentCallsShareATrust(t *testing.T) {
	k := testKey(t, 1)
	trust := NewTrust([]*PublicKey{k.Public()}, nil)
	good, tampered := signedBundle(t, k), signedBundle(t, k)
	flipByte(t, filepath.Join(tampered, ModuleFile), 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8*5*2)
	for i := range 8 {
		wg.Go(func() {
			for range 5 {
				if _, err := Open(good, trust); err != nil {
					errs <- err
				}
				if _, err := Open(tampered, trust); !errors.Is(err, ErrTampered) {
					errs <- fmt.Errorf("goroutine %d: tampered bundle: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpen_RefusesModuleThatIsNotARegularFile(t *testing.T) {
	k := testKey(t, 1)
	dir := signedBundle(t, k)
	path := filepath.Join(dir, ModuleFile)
	os.Remove(path)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, NewTrust([]*PublicKey{k.Public()}, nil)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open error = %v, want not a regular file", err)
	}
}

func TestSign_RefusesInvalidManifestAndWritesNoSignature(t *testing.T) {
	dir := writeBundle(t, []byte("app:\n  id: nope\n"), testModule)
	err := Sign(dir, testKey(t, 1))
	if !errors.Is(err, ErrInvalidManifest) {
		t.Fatalf("Sign error = %v, want ErrInvalidManifest", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SignatureFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("signature.json exists after a refused Sign: %v", err)
	}
}

func TestSign_WritesDocumentedSignatureFile(t *testing.T) {
	k := testKey(t, 1)
	dir := signedBundle(t, k)
	path := filepath.Join(dir, SignatureFile)
	s, err := decodeSignature(readFile(t, path))
	if err != nil {
		t.Fatalf("decode own signature.json: %v", err)
	}
	if s.keyID != k.Public().Fingerprint() || s.moduleSum != sha256.Sum256(testModule) {
		t.Errorf("signature.json keyId/moduleSha256 wrong: %+v", s)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("signature.json mode = %04o, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("bundle dir holds %d entries after Sign, want 3 (no temporary files left)", len(entries))
	}
}

func TestInspect_ReportsEachAlgorithmSeparately(t *testing.T) {
	signer := testKey(t, 1)
	trusted := NewTrust([]*PublicKey{signer.Public()}, nil)
	tests := []struct {
		name           string
		mutate         func(t *testing.T, dir string)
		trust          *Trust
		ed, ml         SignatureStatus
		trustedSigner  bool
		revoked        bool
		manifestIntact bool
		moduleIntact   bool
	}{
		{name: "good bundle", trust: trusted, ed: SignatureValid, ml: SignatureValid, trustedSigner: true, manifestIntact: true, moduleIntact: true},
		{name: "unknown signer cannot be checked", ed: SignatureUnknownKey, ml: SignatureUnknownKey, manifestIntact: true, moduleIntact: true},
		{
			name:  "revoked signer is still checked",
			trust: NewTrust([]*PublicKey{signer.Public()}, []string{signer.Public().Fingerprint()}),
			ed:    SignatureValid, ml: SignatureValid, revoked: true, manifestIntact: true, moduleIntact: true,
		},
		{
			name: "only ML-DSA-65 broken",
			mutate: func(t *testing.T, dir string) {
				_, ml := otherSignatures(t, signer, dir)
				editSignature(t, dir, func(s *signatureJSON) { s.MLDSA65 = ml })
			},
			trust: trusted, ed: SignatureValid, ml: SignatureInvalid, trustedSigner: true, manifestIntact: true, moduleIntact: true,
		},
		{
			name: "only Ed25519 broken",
			mutate: func(t *testing.T, dir string) {
				ed, _ := otherSignatures(t, signer, dir)
				editSignature(t, dir, func(s *signatureJSON) { s.Ed25519 = ed })
			},
			trust: trusted, ed: SignatureInvalid, ml: SignatureValid, trustedSigner: true, manifestIntact: true, moduleIntact: true,
		},
		{
			name:   "module tampered",
			mutate: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, ModuleFile), 10) },
			trust:  trusted, ed: SignatureInvalid, ml: SignatureInvalid, trustedSigner: true, manifestIntact: true,
		},
		{
			name:   "unsigned",
			mutate: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SignatureFile)) },
			trust:  trusted, ed: SignatureMissing, ml: SignatureMissing,
		},
		{
			name:   "malformed signature file",
			mutate: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, SignatureFile), []byte("{}")) },
			trust:  trusted, ed: SignatureMalformed, ml: SignatureMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := signedBundle(t, signer)
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			r, err := Inspect(dir, tt.trust)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if r.Ed25519 != tt.ed || r.MLDSA65 != tt.ml {
				t.Errorf("Ed25519 %q, ML-DSA-65 %q; want %q, %q", r.Ed25519, r.MLDSA65, tt.ed, tt.ml)
			}
			if r.Trusted != tt.trustedSigner || r.Revoked != tt.revoked {
				t.Errorf("Trusted %v, Revoked %v; want %v, %v", r.Trusted, r.Revoked, tt.trustedSigner, tt.revoked)
			}
			if r.ManifestIntact != tt.manifestIntact || r.ModuleIntact != tt.moduleIntact {
				t.Errorf("ManifestIntact %v, ModuleIntact %v; want %v, %v", r.ManifestIntact, r.ModuleIntact, tt.manifestIntact, tt.moduleIntact)
			}
			if r.Manifest == nil || r.ManifestErr != nil {
				t.Errorf("Inspect did not decode the manifest for display: %v", r.ManifestErr)
			}
			_, openErr := Open(dir, tt.trust)
			if (openErr == nil) != (r.Err == nil) {
				t.Errorf("Report.Err = %v but Open = %v", r.Err, openErr)
			}
			if want := sha256.Sum256(readFile(t, filepath.Join(dir, ModuleFile))); r.ModuleSHA256 != hex.EncodeToString(want[:]) || r.ModuleSize != len(testModule) {
				t.Errorf("ModuleSHA256 %s size %d do not describe plugin.wasm", r.ModuleSHA256, r.ModuleSize)
			}
		})
	}
}

func TestDecodeSignature_IsStrict(t *testing.T) {
	k := testKey(t, 1)
	good := string(readFile(t, filepath.Join(signedBundle(t, k), SignatureFile)))
	replace := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("signature.json has no %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	var s signatureJSON
	if err := json.Unmarshal([]byte(good), &s); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data, want string
	}{
		{"member name in another case", replace(`"keyId"`, `"KeyID"`), `unknown field "KeyID"`},
		{"duplicate member", replace(`"version": 2,`, `"version": 2, "version": 2,`), `duplicate field "version"`},
		{"missing member", replace(`"version": 2,`, ``), `missing field "version"`},
		{"unknown member", replace(`"version": 2,`, `"version": 2, "comment": "hi",`), `unknown field "comment"`},
		{"nested value", replace(`"version": 2`, `"version": {"v": 2}`), `not a scalar`},
		{"trailing data", good + "{}", `data after the JSON object`},
		{"not an object", `[1]`, `not a JSON object`},
		{"future version", replace(`"version": 2`, `"version": 3`), `unsupported version 3`},
		{"version 2 without its signing time", replace(`"signedAt": "`+s.SignedAt+`",`, ``), `missing field "signedAt"`},
		{"version 1 with a signing time", replace(`"version": 2`, `"version": 1`), `unknown field "signedAt" in a version 1 signature`},
		{"signing time with an offset", replace(s.SignedAt, strings.TrimSuffix(s.SignedAt, "Z")+"+00:00"), `signedAt`},
		{"signing time with fractions", replace(s.SignedAt, strings.TrimSuffix(s.SignedAt, "Z")+".5Z"), `whole seconds`},
		{"signing time not a time", replace(s.SignedAt, "yesterday"), `signedAt "yesterday"`},
		{"keyId without prefix", replace(`"sha256:`, `"`), `keyId`},
		{"upper-case hash", replace(s.ModuleSHA256, strings.ToUpper(s.ModuleSHA256)), `moduleSha256 is not 64 lower-case hex digits`},
		{"short hash", replace(s.ManifestSHA256, s.ManifestSHA256[:10]), `manifestSha256`},
		{"base64 with a line break", replace(s.Ed25519, s.Ed25519[:20]+`\n`+s.Ed25519[20:]), `ed25519 is not canonical`},
		{"URL-safe base64", replace(s.MLDSA65, strings.NewReplacer("+", "-", "/", "_").Replace(s.MLDSA65)), `mldsa65 is not canonical`},
		{"short signature", replace(s.Ed25519, base64.StdEncoding.EncodeToString([]byte("short"))), `ed25519 signature is 5 bytes, want 64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSignature([]byte(tt.data))
			if !errors.Is(err, ErrMalformedSignature) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("decodeSignature error = %v, want ErrMalformedSignature mentioning %q", err, tt.want)
			}
		})
	}
}
