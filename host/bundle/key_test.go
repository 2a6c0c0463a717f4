package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestFingerprint_IdentifiesTheCompositeKey(t *testing.T) {
	a, again, b := testKey(t, 1), testKey(t, 1), testKey(t, 2)
	fp := a.Public().Fingerprint()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(fp) {
		t.Errorf("fingerprint %q is not sha256:<64 hex>", fp)
	}
	if again.Public().Fingerprint() != fp {
		t.Error("the same seed gave a different fingerprint")
	}
	if b.Public().Fingerprint() == fp {
		t.Error("different keys share a fingerprint")
	}
	// Changing either half changes the identity.
	for _, half := range []string{"Ed25519", "ML-DSA-65"} {
		raw := bytes.Clone(a.Public().raw)
		if half == "Ed25519" {
			raw[0] ^= 1
		} else {
			raw[len(raw)-1] ^= 1
		}
		k, err := parsePublicKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		if k.Fingerprint() == fp {
			t.Errorf("changing the %s half kept the fingerprint", half)
		}
	}
}

func TestPrivateKey_FormattingNeverShowsTheSeed(t *testing.T) {
	k := testKey(t, 1)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		want := "bundle.PrivateKey(" + k.Public().Fingerprint() + ")"
		if out := fmt.Sprintf(verb, k); out != want {
			t.Errorf("%s formats a private key as %q, want %q", verb, out, want)
		}
	}
}

func TestPrivateKeyFile_RoundTripsWithMode0600(t *testing.T) {
	k := testKey(t, 1)
	path := filepath.Join(t.TempDir(), "vendor.key")
	if err := WritePrivateKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("private key file mode = %04o, want 0600", fi.Mode().Perm())
		}
	}
	got, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatalf("ReadPrivateKeyFile: %v", err)
	}
	if got.Public().Fingerprint() != k.Public().Fingerprint() {
		t.Error("read key differs from the written key")
	}
	// The key read back signs bundles the original's public key accepts.
	dir := signedBundle(t, got)
	if _, err := Open(dir, NewTrust([]*PublicKey{k.Public()}, nil)); err != nil {
		t.Errorf("bundle signed with the re-read key: %v", err)
	}
}

func TestWritePrivateKeyFile_RefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vendor.key")
	if err := WritePrivateKeyFile(path, testKey(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKeyFile(path, testKey(t, 2)); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write error = %v, want ErrExist", err)
	}
	k, err := ReadPrivateKeyFile(path)
	if err != nil || k.Public().Fingerprint() != testKey(t, 1).Public().Fingerprint() {
		t.Fatalf("the first key did not survive: %v", err)
	}
}

func TestReadPrivateKeyFile_RefusesFileOthersCanRead(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vendor.key")
			if err := WritePrivateKeyFile(path, testKey(t, 1)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := ReadPrivateKeyFile(path)
			if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("error = %v, want ErrKeyPermissions with a chmod hint", err)
			}
		})
	}
}

func TestKeyFiles_RefuseMalformedContent(t *testing.T) {
	k := testKey(t, 1)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	if err := WritePrivateKeyFile(privPath, k); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKeyFile(pubPath, k.Public()); err != nil {
		t.Fatal(err)
	}
	priv, pub := string(readFile(t, privPath)), string(readFile(t, pubPath))
	otherFP := testKey(t, 2).Public().Fingerprint()

	tests := []struct {
		name, data string
		private    bool
		want       string
	}{
		{"public key given as private", pub, true, `want "CHATBRIDGE BUNDLE PRIVATE KEY"`},
		{"private key given as public", priv, false, `want "CHATBRIDGE BUNDLE PUBLIC KEY"`},
		{"not PEM", "hello", false, "no PEM block"},
		{"trailing data", pub + "junk\n", false, "trailing data"},
		{"unknown header", strings.Replace(pub, "Key-Id:", "Comment: hi\nKey-Id:", 1), false, `unexpected PEM header "Comment"`},
		{"public Key-Id of another key", strings.Replace(pub, k.Public().Fingerprint(), otherFP, 1), false, "does not match the key"},
		{"private Key-Id of another key", strings.Replace(priv, k.Public().Fingerprint(), otherFP, 1), true, "does not match the key"},
		{"truncated public key", truncatePEM(t, pub), false, "public key is"},
		{"truncated private key", truncatePEM(t, priv), true, "private key is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			var err error
			if tt.private {
				_, err = ReadPrivateKeyFile(path)
			} else {
				_, err = ReadPublicKeyFile(path)
			}
			if !errors.Is(err, ErrMalformedKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrMalformedKey mentioning %q", err, tt.want)
			}
		})
	}
}

// truncatePEM drops the last base64 line of a PEM block's body.
func truncatePEM(t *testing.T, s string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("PEM too short: %q", s)
	}
	return strings.Join(append(lines[:len(lines)-2:len(lines)-2], lines[len(lines)-1]), "\n") + "\n"
}

func TestPublicKeyFile_RoundTripsWithMode0644(t *testing.T) {
	k := testKey(t, 1).Public()
	path := filepath.Join(t.TempDir(), "vendor.pub")
	if err := WritePublicKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644) {
		t.Errorf("public key file: %v, mode %v; want 0644", err, fi.Mode().Perm())
	}
	got, err := ReadPublicKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != k.Fingerprint() {
		t.Errorf("fingerprint %s after round trip, want %s", got.Fingerprint(), k.Fingerprint())
	}
}

func TestLoadTrust(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	newDir := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	pubPEM := func(k *PrivateKey) string {
		p := filepath.Join(t.TempDir(), "x.pub")
		if err := WritePublicKeyFile(p, k.Public()); err != nil {
			t.Fatal(err)
		}
		return string(readFile(t, p))
	}

	t.Run("trusts every .pub key except revoked ones", func(t *testing.T) {
		dir := newDir(t, map[string]string{
			"a.pub":     pubPEM(a),
			"b.pub":     pubPEM(b),
			".gitkeep":  "",
			RevokedFile: "# compromised 2026-01-02\n\n" + b.Public().Fingerprint() + "\n",
		})
		trust, err := LoadTrust(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			k    *PrivateKey
			want error
		}{{a, nil}, {b, ErrRevoked}, {c, ErrUntrusted}} {
			if _, err := Open(signedBundle(t, tc.k), trust); !errors.Is(err, tc.want) {
				t.Errorf("bundle signed by key %s: Open = %v, want %v", tc.k.Public().Fingerprint()[:15], err, tc.want)
			}
		}
	})
	t.Run("follows symbolic links to key files", func(t *testing.T) {
		keys := newDir(t, map[string]string{"a.pub": pubPEM(a)})
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(keys, "a.pub"), filepath.Join(dir, "a.pub")); err != nil {
			t.Skip("no symbolic links:", err)
		}
		trust, err := LoadTrust(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(signedBundle(t, a), trust); err != nil {
			t.Errorf("Open = %v, want the linked key trusted", err)
		}
	})
	t.Run("empty directory trusts nobody", func(t *testing.T) {
		trust, err := LoadTrust(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(signedBundle(t, a), trust); !errors.Is(err, ErrUntrusted) {
			t.Errorf("Open = %v, want ErrUntrusted", err)
		}
	})

	bad := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"malformed revoked line", map[string]string{RevokedFile: "sha256:abc\n"}, "revoked:1: \"sha256:abc\" is not a fingerprint"},
		{"unexpected file", map[string]string{"a.pem": pubPEM(a)}, "unexpected file"},
		{"malformed key file", map[string]string{"a.pub": "nope"}, "no PEM block"},
		{"private key in place of a public one", map[string]string{"a.pub": "-----BEGIN CHATBRIDGE BUNDLE PRIVATE KEY-----\n-----END CHATBRIDGE BUNDLE PRIVATE KEY-----\n"}, "want \"CHATBRIDGE BUNDLE PUBLIC KEY\""},
	}
	for _, tt := range bad {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := LoadTrust(newDir(t, tt.files))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadTrust error = %v, want mention of %q", err, tt.want)
			}
		})
	}
	t.Run("refuses a world-writable directory", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("Unix permission bits")
		}
		dir := newDir(t, map[string]string{"a.pub": pubPEM(a)})
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTrust(dir); !errors.Is(err, ErrInvalidTrust) {
			t.Fatalf("LoadTrust error = %v, want ErrInvalidTrust", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if _, err := LoadTrust(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("LoadTrust error = %v, want ErrNotExist", err)
		}
	})
}
