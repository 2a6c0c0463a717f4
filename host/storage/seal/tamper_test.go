package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

// encodings lists the forms a secret could take in a file.
func encodings(s string) map[string][]byte {
	out := map[string][]byte{
		"raw":       []byte(s),
		"hex":       []byte(hex.EncodeToString([]byte(s))),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString([]byte(s)))),
		"utf16le":   utf16Bytes(s, binary.LittleEndian),
		"utf16be":   utf16Bytes(s, binary.BigEndian),
		"lowercase": []byte(strings.ToLower(s)),
	}
	// base64 at each of the three alignments a substring can have, trimmed
	// of the characters that depend on the bytes around it.
	for align := 0; align < 3 && align < len(s); align++ {
		sub := []byte(s[align:])
		sub = sub[:len(sub)/3*3]
		for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding,
			"rawstd": base64.RawStdEncoding, "rawurl": base64.RawURLEncoding} {
			if len(sub) >= 6 {
				out[fmt.Sprintf("base64 %s +%d", name, align)] = []byte(enc.EncodeToString(sub))
			}
		}
	}
	return out
}

func utf16Bytes(s string, order binary.AppendByteOrder) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

func TestFile_RevealsNoKeyValueOrInstallationInAnyEncoding(t *testing.T) {
	secrets := map[string]string{
		"bot token":      "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
		"chat id":        "-1001234567890",
		"issue key":      "JSM-4242",
		"message":        "my printer is on fire since Monday",
		"installation":   "acme-support.atlassian.net",
		"chat id digits": "1001234567890",
	}
	e := newEnv(t)
	site := secrets["installation"]
	for _, s := range []string{secrets["bot token"], secrets["chat id"], secrets["issue key"], secrets["message"]} {
		e.set(site, storage.KVS, s, s)
		e.set(site, storage.Secret, s, s)
		e.set(site, storage.KVS, "chat:"+s+":issue", "issue:"+s)
	}
	e.set(storage.HostInstallation, storage.Registry, site, site)
	e.set(site, storage.KVS, "issue:"+secrets["issue key"], secrets["chat id"])
	if err := e.s.Set(t.Context(), site, storage.Dedupe, "update:"+secrets["chat id"], []byte(secrets["message"]), time.Hour); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		file, err := os.ReadFile(e.path)
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			for enc, b := range encodings(s) {
				if bytes.Contains(file, b) {
					t.Errorf("%s: the file holds the %s in %s form", when, what, enc)
				}
			}
		}
	}
	e.close()
	check("append-only log")
	e.open()
	if err := e.s.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.close()
	check("after compaction")
	e.open()
	e.want(site, storage.KVS, secrets["issue key"], secrets["issue key"])
}

func TestFile_AlteredByteInARecordFailsThatRecordOnly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i := 0; i < 5; i++ {
		e.set(inst, storage.KVS, fmt.Sprintf("chat:%d", i), fmt.Sprintf("value %d", i))
	}
	e.set(inst, storage.KVS, "other:1", "elsewhere")
	before := fileSize(t, e.path)
	e.set(inst, storage.KVS, "chat:target", "the target's value")
	after := fileSize(t, e.path)
	for i := 5; i < 10; i++ {
		e.set(inst, storage.KVS, fmt.Sprintf("chat:%d", i), fmt.Sprintf("value %d", i))
	}
	e.close()
	orig, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for off := before; off < after; off++ {
		b := bytes.Clone(orig)
		b[off] ^= 0x01
		if err := os.WriteFile(e.path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		e.open()
		_, err := e.s.Get(ctx, inst, storage.KVS, "chat:target")
		if !errors.Is(err, storage.ErrIntegrity) {
			t.Fatalf("byte %d of %d altered: Get %v, want ErrIntegrity", off-before, after-before, err)
		}
		for _, i := range []int{0, 4, 5, 9} {
			e.want(inst, storage.KVS, fmt.Sprintf("chat:%d", i), fmt.Sprintf("value %d", i))
		}
		if _, err := e.s.Query(ctx, inst, storage.KVS, "chat:", "", 100); !errors.Is(err, storage.ErrIntegrity) {
			t.Fatalf("byte %d altered: a query over the record: %v, want ErrIntegrity", off-before, err)
		}
		if got := e.queryAll(inst, storage.KVS, "other:", 10); len(got) != 1 {
			t.Fatalf("byte %d altered: a query elsewhere lists %q", off-before, got)
		}
		e.close()
	}

	t.Run("Check finds it and dropping it lets queries work again", func(t *testing.T) {
		b := bytes.Clone(orig)
		b[(before+after)/2] ^= 0x01
		os.WriteFile(e.path, b, 0o600)
		e.open()
		rep, err := e.s.Check(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Damaged) != 1 || rep.Damaged[0].Installation != inst || rep.Damaged[0].Space != storage.KVS || rep.Records != 12 {
			t.Fatalf("Check: %+v", rep)
		}
		if rep, err = e.s.Check(ctx, true); err != nil || len(rep.Damaged) != 1 {
			t.Fatalf("Check with drop: %+v, %v", rep, err)
		}
		if got := e.queryAll(inst, storage.KVS, "chat:", 100); len(got) != 10 {
			t.Fatalf("after dropping, the query lists %d keys, want 10", len(got))
		}
		e.wantErr(inst, storage.KVS, "chat:target", storage.ErrNotFound)
	})
}

func fileSize(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

func TestBackend_TamperedRecordsAreNeverServed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.set(inst, storage.KVS, "chat:1", "one")
	e.set(inst, storage.KVS, "chat:2", "two")
	e.set(inst, storage.Queue, "chat:1", "queued one")
	e.set("other-site", storage.KVS, "chat:1", "other one")
	raw1 := e.rawKeyOf(inst, storage.KVS, "chat:1")
	rec1, err := e.db.Get(ctx, raw1)
	if err != nil {
		t.Fatal(err)
	}
	sealed := rec1.Value
	put := func(t *testing.T, raw string, v []byte) {
		t.Helper()
		if err := e.db.Set(ctx, raw, v, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		put(t, raw1, sealed)
		e.want(inst, storage.KVS, "chat:1", "one")
	}
	wantIntegrity := func(t *testing.T, inst string, space storage.Keyspace, key string) {
		t.Helper()
		v, err := e.s.Get(ctx, inst, space, key)
		if !errors.Is(err, storage.ErrIntegrity) {
			t.Fatalf("Get: %q, %v; want ErrIntegrity", v, err)
		}
	}

	t.Run("every flipped bit of the sealed value", func(t *testing.T) {
		for i := range sealed {
			for bit := 0; bit < 8; bit++ {
				v := bytes.Clone(sealed)
				v[i] ^= 1 << bit
				put(t, raw1, v)
				wantIntegrity(t, inst, storage.KVS, "chat:1")
				e.want(inst, storage.KVS, "chat:2", "two")
			}
		}
		restore()
	})
	t.Run("every truncation", func(t *testing.T) {
		for n := 0; n < len(sealed); n++ {
			put(t, raw1, sealed[:n])
			wantIntegrity(t, inst, storage.KVS, "chat:1")
		}
		put(t, raw1, append(bytes.Clone(sealed), 0))
		wantIntegrity(t, inst, storage.KVS, "chat:1")
		restore()
	})
	t.Run("swapped between two keys", func(t *testing.T) {
		raw2 := e.rawKeyOf(inst, storage.KVS, "chat:2")
		rec2, _ := e.db.Get(ctx, raw2)
		put(t, raw1, rec2.Value)
		put(t, raw2, sealed)
		wantIntegrity(t, inst, storage.KVS, "chat:1")
		wantIntegrity(t, inst, storage.KVS, "chat:2")
		put(t, raw2, rec2.Value)
		restore()
	})
	t.Run("moved to another keyspace", func(t *testing.T) {
		rawQ := e.rawKeyOf(inst, storage.Queue, "chat:1")
		recQ, _ := e.db.Get(ctx, rawQ)
		put(t, rawQ, sealed)
		wantIntegrity(t, inst, storage.Queue, "chat:1")
		put(t, rawQ, recQ.Value)
	})
	t.Run("moved to another installation", func(t *testing.T) {
		rawO := e.rawKeyOf("other-site", storage.KVS, "chat:1")
		recO, _ := e.db.Get(ctx, rawO)
		put(t, rawO, sealed)
		wantIntegrity(t, "other-site", storage.KVS, "chat:1")
		put(t, rawO, recO.Value)
		e.want("other-site", storage.KVS, "chat:1", "other one")
	})
	t.Run("expiry cannot be stretched", func(t *testing.T) {
		if err := e.s.Set(ctx, inst, storage.Dedupe, "d", []byte("short"), time.Minute); err != nil {
			t.Fatal(err)
		}
		rawD := e.rawKeyOf(inst, storage.Dedupe, "d")
		recD, _ := e.db.Get(ctx, rawD)
		put(t, rawD, recD.Value) // same sealed bytes, no backend TTL any more
		e.clock.advance(2 * time.Minute)
		e.wantErr(inst, storage.Dedupe, "d", storage.ErrNotFound)
	})
	t.Run("a damaged data key fails its installation only", func(t *testing.T) {
		tag := raw1[len(prefixRecords) : len(prefixRecords)+tagSize]
		dk := dataKeyKey(tag, 1)
		rec, err := e.db.Get(ctx, dk)
		if err != nil {
			t.Fatal(err)
		}
		v := bytes.Clone(rec.Value)
		v[len(v)-5] ^= 1
		put(t, dk, v)
		e.reopen()
		wantIntegrity(t, inst, storage.KVS, "chat:2")
		e.want("other-site", storage.KVS, "chat:1", "other one")
		put(t, dk, rec.Value)
		e.reopen()
		e.want(inst, storage.KVS, "chat:2", "two")
	})
}

func TestOpen_RefusesTheWrongMasterKey(t *testing.T) {
	e := newEnv(t)
	e.set(inst, storage.KVS, "k", "v")
	e.close()
	other, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bunt.Open(e.path, bunt.Config{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(t.Context(), db, []*MasterKey{other}, Config{}); !errors.Is(err, ErrUnknownMasterKey) {
		t.Fatalf("Open with another key: %v, want ErrUnknownMasterKey", err)
	}
}
