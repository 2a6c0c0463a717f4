package bundle

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeV1Signature signs dir's files the way version 1 did (no signing
// time), as bundles signed before version 2 are.
func writeV1Signature(t *testing.T, dir string, k *PrivateKey) {
	t.Helper()
	s := &signature{version: 1, keyID: k.pub.fp,
		manifestSum: sha256.Sum256(readFile(t, filepath.Join(dir, ManifestFile))),
		moduleSum:   sha256.Sum256(readFile(t, filepath.Join(dir, ModuleFile)))}
	msg, ctx := s.signed(s.manifestSum, s.moduleSum)
	var err error
	if s.ed, s.ml, err = k.sign(msg, ctx); err != nil {
		t.Fatal(err)
	}
	data, err := encodeSignature(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "signedAt") || !strings.Contains(string(data), `"version": 1`) {
		t.Fatalf("not a version 1 signature:\n%s", data)
	}
	writeFile(t, filepath.Join(dir, SignatureFile), data)
}

// Sign records the signing time in signature.json, Open and Inspect report
// it, and the signature covers it: a changed time fails verification.
func TestSign_RecordsASigningTimeTheSignatureCovers(t *testing.T) {
	k := testKey(t, 1)
	trust := NewTrust([]*PublicKey{k.Public()}, nil)
	dir := writeBundle(t, exampleManifest(t), testModule)
	at := time.Date(2026, 12, 4, 21, 17, 43, 900, time.FixedZone("CET", 3600))
	if err := signAt(dir, k, at); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readFile(t, filepath.Join(dir, SignatureFile))), `"signedAt": "2026-12-04T20:17:43Z"`) {
		t.Fatalf("signature.json does not record the time in UTC seconds:\n%s", readFile(t, filepath.Join(dir, SignatureFile)))
	}
	b, err := Open(dir, trust)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.UTC().Truncate(time.Second); !b.SignedAt.Equal(want) {
		t.Errorf("SignedAt %v, want %v", b.SignedAt, want)
	}
	editSignature(t, dir, func(s *signatureJSON) { s.SignedAt = "2025-01-01T00:00:00Z" })
	if _, err := Open(dir, trust); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a backdated signing time: Open = %v, want ErrBadSignature", err)
	}
	r, err := Inspect(dir, trust)
	if err != nil {
		t.Fatal(err)
	}
	if !r.SignedAt.IsZero() {
		t.Errorf("Inspect reports an unverified signing time %v", r.SignedAt)
	}
}

// A version 1 signature, which records no time, still verifies; relabelled
// as version 2 with any time, it does not (the two versions sign different
// messages under different ML-DSA contexts).
func TestOpen_AVersion1SignatureStillVerifiesAndCannotBecomeVersion2(t *testing.T) {
	k := testKey(t, 1)
	trust := NewTrust([]*PublicKey{k.Public()}, nil)
	dir := writeBundle(t, exampleManifest(t), testModule)
	writeV1Signature(t, dir, k)
	b, err := Open(dir, trust)
	if err != nil {
		t.Fatalf("a version 1 signature no longer verifies: %v", err)
	}
	if !b.SignedAt.IsZero() {
		t.Errorf("a version 1 signature reports a signing time %v", b.SignedAt)
	}
	editSignature(t, dir, func(s *signatureJSON) { s.Version, s.SignedAt = 2, "2026-01-01T00:00:00Z" })
	if _, err := Open(dir, trust); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a version 1 signature relabelled as version 2: Open = %v, want ErrBadSignature", err)
	}
}

// A public key file can name its owner; the name survives the trust
// directory and is reported with the signer, and is not part of the
// fingerprint.
func TestTrust_NamesTheSigner(t *testing.T) {
	k := testKey(t, 1)
	named, err := k.Public().WithName("Acme Plugins Ltd")
	if err != nil {
		t.Fatal(err)
	}
	trustDir := t.TempDir()
	if err := WritePublicKeyFile(filepath.Join(trustDir, "acme.pub"), named); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readFile(t, filepath.Join(trustDir, "acme.pub"))), "Name: Acme Plugins Ltd\n") {
		t.Fatalf("no Name header:\n%s", readFile(t, filepath.Join(trustDir, "acme.pub")))
	}
	trust, err := LoadTrust(trustDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(signedBundle(t, k), trust)
	if err != nil {
		t.Fatal(err)
	}
	if b.SignerName != "Acme Plugins Ltd" || b.Signer != k.Public().Fingerprint() || named.Fingerprint() != k.Public().Fingerprint() {
		t.Errorf("signer %q %s; want Acme Plugins Ltd %s", b.SignerName, b.Signer, k.Public().Fingerprint())
	}
	// An unnamed key file still loads, with no name.
	if err := os.Remove(filepath.Join(trustDir, "acme.pub")); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKeyFile(filepath.Join(trustDir, "acme.pub"), k.Public()); err != nil {
		t.Fatal(err)
	}
	if trust, err = LoadTrust(trustDir); err != nil {
		t.Fatal(err)
	}
	if r, err := Inspect(signedBundle(t, k), trust); err != nil || r.SignerName != "" || !r.Trusted {
		t.Fatalf("unnamed key: %+v, %v", r, err)
	}
}

func TestWithName_RefusesANameThatCannotBePrintedSafely(t *testing.T) {
	k := testKey(t, 1)
	for _, name := range []string{"two\nlines", "esc\x1b[2A", "rtl\u202e", strings.Repeat("x", 201), " padded", "bad\xff"} {
		if _, err := k.Public().WithName(name); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("WithName(%q) = %v, want ErrMalformedKey", name, err)
		}
	}
}
