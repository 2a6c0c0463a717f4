package seal

import (
	"bytes"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
)

// fuzzRing is a keyring with fixed keys.
func fuzzRing() *keyring {
	return newKeyring(inst, string(make([]byte, tagSize)), bytes.Repeat([]byte{1}, nameKeySize)).
		with(1, bytes.Repeat([]byte{2}, dataKeySize), 1)
}

// FuzzOpenRecord feeds arbitrary bytes to the decoder of sealed records: it
// must never panic, and nothing but a genuine seal of the one record may open.
func FuzzOpenRecord(f *testing.F) {
	r := fuzzRing()
	raw := r.rawKey(storage.KVS, "chat:1")
	genuine := r.seal(storage.KVS, raw, "chat:1", []byte("value"), 0)
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-1])
	f.Add(genuine[:recHeaderSize+2])
	f.Add([]byte{recFormat, aeadAESGCM, 0, 0, 0, 1})
	f.Add([]byte{})
	long := bytes.Clone(genuine)
	long[recHeaderSize], long[recHeaderSize+1] = 0xff, 0xff
	f.Add(long)
	f.Fuzz(func(t *testing.T, rec []byte) {
		o, err := r.openName(storage.KVS, raw, rec)
		if err != nil {
			return
		}
		v, err := r.openValue(o)
		if err != nil {
			return
		}
		if o.name != "chat:1" || string(v) != "value" || o.expires != 0 {
			t.Fatalf("a forged record opened: %x", rec)
		}
	})
}

// FuzzOpenCursor feeds arbitrary strings to the cursor decoder: it must never
// panic, and only the cursor it issued may open.
func FuzzOpenCursor(f *testing.F) {
	r := fuzzRing()
	genuine := r.sealCursor(storage.KVS, "chat:", "chat:7")
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-3])
	f.Add("")
	f.Add("chat:7")
	f.Add("====")
	f.Fuzz(func(t *testing.T, cursor string) {
		last, err := r.openCursor(storage.KVS, "chat:", cursor)
		if err != nil {
			return
		}
		if last != "chat:7" {
			t.Fatalf("a forged cursor opened to %q", last)
		}
	})
}
