package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

func TestReceipt_VerifiesAndATamperedOneDoesNot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "receipt.key")
	k, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(path)
	if err != nil || again.Public().Fingerprint() != k.Public().Fingerprint() {
		t.Fatalf("LoadOrCreate made another key: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v, %v", fi.Mode(), err)
	}
	pub, err := ReadPublicKeyFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.Sign(FromShredding(storage.Shredding{Installation: "inst-1", Tag: "00ff", Apart: true, At: time.Now(),
		Keys: []storage.DestroyedKey{{Kind: "name", WrappedBy: "ab", Fingerprint: "cd"}}}))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Verify(data, pub)
	if err != nil || b.Installation != "inst-1" || len(b.Destroyed) != 1 || !b.BackupsShredded || b.HostKey != pub.Fingerprint() {
		t.Fatalf("Verify = %+v, %v", b, err)
	}
	other, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tampered := map[string][]byte{
		"another installation": bytes.Replace(data, []byte("inst-1"), []byte("inst-2"), 1),
		"fewer keys destroyed": bytes.Replace(data, []byte(`"kind":"name"`), []byte(`"kind":"nome"`), 1),
		"not shredded":         bytes.Replace(data, []byte(`"backupsShredded":true`), []byte(`"backupsShredded":false`), 1),
		"no signature":         bytes.Replace(data, []byte(`"ed25519":"`), []byte(`"ed25519":"A`), 1),
		"not json":             data[:len(data)-2],
	}
	for name, d := range tampered {
		if bytes.Equal(d, data) {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		if _, err := Verify(d, pub); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Verify = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Verify(data, other.Public()); !errors.Is(err, ErrInvalid) {
		t.Errorf("another host's key: Verify = %v, want ErrInvalid", err)
	}
}

func TestReceiptKey_IsRefusedWhenOthersCanReadIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipt.key")
	if _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); !errors.Is(err, ErrKeyFileMode) {
		t.Fatalf("LoadOrCreate of a 0640 key = %v, want ErrKeyFileMode", err)
	}
}
