package seal

import (
	"bytes"
	"crypto/hpke"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
)

func TestKeyFile_IsRefusedWhenGroupOrOthersCanReadIt(t *testing.T) {
	k := testKeys()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := WriteKeyFile(path, []*MasterKey{k}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("WriteKeyFile made mode %v, want 0600", fi.Mode().Perm())
	}
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o604, false}, {0o660, false}, {0o644, false}}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			keys, err := ReadKeyFile(path)
			if tt.ok {
				if err != nil || len(keys) != 1 || keys[0].ID() != k.ID() {
					t.Fatalf("ReadKeyFile: %v, %v", keys, err)
				}
				return
			}
			if !errors.Is(err, ErrKeyFileMode) {
				t.Fatalf("ReadKeyFile: %v, want ErrKeyFileMode", err)
			}
		})
	}
}

func TestLoadMasterKeys_PrefersTheEnvironmentVariable(t *testing.T) {
	a, _ := GenerateMasterKey()
	b, _ := GenerateMasterKey()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := WriteKeyFile(path, []*MasterKey{a}); err != nil {
		t.Fatal(err)
	}
	seedB, _ := base64.StdEncoding.DecodeString(b.Secret())
	tests := []struct {
		name string
		env  string
		want []string
		err  error
	}{
		{"unset: the key file", "", []string{a.ID()}, nil},
		{"one key", b.Secret(), []string{b.ID()}, nil},
		{"two keys, first primary", b.Secret() + "," + a.Secret(), []string{b.ID(), a.ID()}, nil},
		{"URL alphabet without padding", base64.RawURLEncoding.EncodeToString(seedB), []string{b.ID()}, nil},
		{"not base64", "not a key!", nil, ErrBadMasterKey},
		{"wrong length", base64.StdEncoding.EncodeToString([]byte("short")), nil, ErrBadMasterKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvMasterKey, tt.env)
			keys, err := LoadMasterKeys(path)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID())
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Fatalf("keys %v, want %v", ids, tt.want)
			}
		})
	}
	t.Run("neither set", func(t *testing.T) {
		t.Setenv(EnvMasterKey, "")
		if _, err := LoadMasterKeys(""); !errors.Is(err, ErrNoMasterKey) {
			t.Fatalf("err %v, want ErrNoMasterKey", err)
		}
	})
}

func TestEnsureDevKeyFile_CreatesAPrivateFileOnceAndKeepsIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "dev-master.key")
	first, err := EnsureDevKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v, directory %v", fi.Mode().Perm(), di.Mode().Perm())
	}
	again, err := EnsureDevKeyFile(path)
	if err != nil || again[0].ID() != first[0].ID() {
		t.Fatalf("second call: %v, %v; want the same key", again, err)
	}
}

func TestCheckKeyPlacement_RefusesAKeyBesideTheData(t *testing.T) {
	tests := []struct {
		key, data string
		ok        bool
	}{
		{"/etc/chatbridge/master.key", "/var/lib/chatbridge/chatbridge.db", true},
		{"/var/lib/chatbridge/master.key", "/var/lib/chatbridge/chatbridge.db", false},
		{"/var/lib/chatbridge/keys/master.key", "/var/lib/chatbridge/chatbridge.db", false},
		{"/var/lib/chatbridge-keys/master.key", "/var/lib/chatbridge/chatbridge.db", true},
	}
	for _, tt := range tests {
		err := CheckKeyPlacement(tt.key, tt.data)
		if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, ErrKeyPlacement)) {
			t.Errorf("CheckKeyPlacement(%s, %s) = %v", tt.key, tt.data, err)
		}
	}
}

func TestMasterKey_PrintsOnlyItsID(t *testing.T) {
	k := testKeys()
	seed, _ := base64.StdEncoding.DecodeString(k.Secret())
	leaks := [][]byte{seed, []byte(k.Secret()), []byte(hex.EncodeToString(seed)), []byte(fmt.Sprint(seed))}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, arg := range []any{k, *k, []*MasterKey{k}} {
			out := fmt.Sprintf(format, arg)
			for _, leak := range leaks {
				if bytes.Contains([]byte(out), leak) || bytes.Contains([]byte(strings.ToLower(out)), bytes.ToLower(leak)) {
					t.Fatalf("%s of %T prints the secret: %s", format, arg, out)
				}
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), k.ID()) {
		t.Fatalf("%v does not show the ID", k)
	}
}

// TestWrappedKey_OpensWithGoCryptoHPKE checks the wire format against Go's
// crypto/hpke directly: a data key wrapped by the store (whichever HPKE
// implementation it was built with; see kem_circl_test.go for circl) opens
// with hpke.Open and the master key's seed.
func TestWrappedKey_OpensWithGoCryptoHPKE(t *testing.T) {
	e := newEnv(t)
	e.set(inst, storage.KVS, "x", "y")
	tag := tagOf(e.s.hostKey, inst)
	raw := dataKeyKey(tag, 1)
	rec, err := e.db.Get(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := base64.StdEncoding.DecodeString(testKeys().Secret())
	priv, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	info := wrapInfo(rec.Value[:wrapHeaderSize], raw)
	dataKey, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info, rec.Value[wrapHeaderSize:])
	if err != nil {
		t.Fatalf("crypto/hpke cannot open the wrapped data key: %v", err)
	}
	_, r, _ := e.s.ring(t.Context(), inst, false)
	if len(dataKey) != dataKeySize {
		t.Fatalf("data key of %d bytes", len(dataKey))
	}
	// The key hpke.Open returned is the one the store seals with.
	probe := newKeyring(inst, tag, make([]byte, nameKeySize)).with(1, dataKey, 1)
	sealed, _ := e.db.Get(t.Context(), r.rawKey(storage.KVS, "x"))
	o, err := probe.openName(storage.KVS, r.rawKey(storage.KVS, "x"), sealed.Value)
	if err != nil || o.name != "x" {
		t.Fatalf("the unwrapped key does not open the record: %v", err)
	}
}
