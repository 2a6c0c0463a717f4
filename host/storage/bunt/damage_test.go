package bunt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/tidwall/buntdb"
)

// tenRecords writes k00..k09 in order and closes the file.
func tenRecords(t *testing.T) (path string, orig []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	for i := 0; i < 10; i++ {
		mustSet(t, d, key(i), val(i))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, orig
}

func key(i int) string { return fmt.Sprintf("k%02d", i) }
func val(i int) string { return fmt.Sprintf("value of record %d, ", i) + strings.Repeat("x", 100) }

// region returns where the set command of key lies in file b.
func region(t *testing.T, b []byte, key string) (int, int) {
	t.Helper()
	for off := 0; off < len(b); {
		c, err := parseCommand(b, off)
		if err != nil {
			t.Fatalf("parse at %d: %v", off, err)
		}
		if isCmd(c, "set") && string(c.parts[1]) == key {
			return c.start, c.end
		}
		off = c.end
	}
	t.Fatalf("no set of %q in the file", key)
	return 0, 0
}

// reopen writes b as the file at path and opens it.
func reopen(t *testing.T, path string, b []byte) *DB {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, Config{CompactEvery: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

func wantOthersIntact(t *testing.T, d *DB, except ...int) {
	t.Helper()
outer:
	for i := 0; i < 10; i++ {
		for _, e := range except {
			if i == e {
				continue outer
			}
		}
		wantValue(t, d, key(i), val(i))
	}
}

func wantDamaged(t *testing.T, d *DB, k string) {
	t.Helper()
	_, err := d.Get(t.Context(), k)
	if !errors.Is(err, storage.ErrIntegrity) || !errors.Is(err, ErrDamaged) {
		t.Fatalf("Get %q: err %v, want ErrDamaged wrapping storage.ErrIntegrity", k, err)
	}
}

func TestOpen_AnAlteredByteDamagesOnlyItsRecord(t *testing.T) {
	path, orig := tenRecords(t)
	start, end := region(t, orig, key(5))
	for off := start; off < end; off++ {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(orig)
			b[off] ^= mask
			d := reopen(t, path, b)
			wantDamaged(t, d, key(5))
			wantOthersIntact(t, d, 5)
			if len(d.Damage()) == 0 || d.Damage()[0].Torn {
				t.Fatalf("byte %d ^ %#x: damage %+v, want an altered record", off-start, mask, d.Damage())
			}
			d.Close()
		}
	}
	// The repair is itself durable: the marker survives another open.
	b := bytes.Clone(orig)
	b[start+1] ^= 1
	d := reopen(t, path, b)
	d.Close()
	d = open(t, path)
	wantDamaged(t, d, key(5))
	wantOthersIntact(t, d, 5)
	if len(d.Damage()) != 0 {
		t.Fatalf("repaired file still reports damage: %+v", d.Damage())
	}
	mustSet(t, d, key(5), "rewritten")
	wantValue(t, d, key(5), "rewritten")
}

func TestOpen_AnAlteredLengthDoesNotDropLaterRecords(t *testing.T) {
	path, orig := tenRecords(t)
	start, _ := region(t, orig, key(3))
	// The value's length line is the sixth line of the command.
	lines := bytes.SplitAfterN(orig[start:], []byte("\r\n"), 7)
	lenLine := start + len(lines[0]) + len(lines[1]) + len(lines[2]) + len(lines[3]) + len(lines[4])
	if orig[lenLine] != '$' {
		t.Fatalf("expected the value length at %d, found %q", lenLine, orig[lenLine:lenLine+4])
	}
	b := append(bytes.Clone(orig[:lenLine]), "$9999999"...)
	b = append(b, orig[bytes.Index(orig[lenLine:], []byte("\r\n"))+lenLine:]...)

	// BuntDB alone: the command runs past the end, so it truncates the file
	// there and loses k03 to k09 without a word.
	raw := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(raw, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := buntdb.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	bdb.View(func(tx *buntdb.Tx) error { n, _ = tx.Len(); return nil })
	bdb.Close()
	if n != 3 {
		t.Fatalf("plain BuntDB kept %d records; the hazard this test guards against is gone?", n)
	}

	d := reopen(t, path, b)
	defer d.Close()
	wantDamaged(t, d, key(3))
	wantOthersIntact(t, d, 3)
}

func TestOpen_SwappedValuesDamageBothRecords(t *testing.T) {
	path, orig := tenRecords(t)
	var cmds [][]byte
	for off := 0; off < len(orig); {
		c, err := parseCommand(orig, off)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c.parts[2])
		off = c.end
	}
	var b []byte
	for i := 0; i < 10; i++ {
		v := cmds[i]
		switch i {
		case 2:
			v = cmds[7]
		case 7:
			v = cmds[2]
		}
		b = appendSet(b, key(i), string(v), 0)
	}
	d := reopen(t, path, b)
	defer d.Close()
	wantDamaged(t, d, key(2))
	wantDamaged(t, d, key(7))
	wantOthersIntact(t, d, 2, 7)
}

func TestOpen_ACutOffTailDropsOnlyTheUnfinishedWrite(t *testing.T) {
	path, orig := tenRecords(t)
	start, end := region(t, orig, key(9))
	for cut := start; cut <= end; cut++ {
		d := reopen(t, path, orig[:cut])
		wantOthersIntact(t, d, 9)
		if cut == end {
			wantValue(t, d, key(9), val(9))
		} else {
			wantNotFound(t, d, key(9))
			if cut > start && (len(d.Damage()) != 1 || !d.Damage()[0].Torn) {
				t.Fatalf("cut at +%d: damage %+v, want one torn write", cut-start, d.Damage())
			}
			if fi, _ := os.Stat(path); fi.Size() != int64(start) {
				t.Fatalf("cut at +%d: file of %d bytes, want the torn write cut off at %d", cut-start, fi.Size(), start)
			}
		}
		d.Close()
	}
}

func TestOpen_ABatchCutShortIsDroppedWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	mustSet(t, d, "before", "b")
	mustSet(t, d, "k2", "old")
	err := d.Apply(t.Context(), []storage.Write{
		{Key: "k1", Value: []byte(strings.Repeat("1", 100))},
		{Key: "k2", Delete: true},
		{Key: "k3", Value: []byte(strings.Repeat("3", 100))},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	orig, _ := os.ReadFile(path)
	_, start := region(t, orig, "k2") // the batch begins after the first write of k2
	var ends []int
	for off := start; off < len(orig); {
		c, err := parseCommand(orig, off)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, c.end)
		off = c.end
	}
	if len(ends) != 3 {
		t.Fatalf("batch of 3 wrote %d commands", len(ends))
	}
	for cut := start + 1; cut < len(orig); cut++ {
		d := reopen(t, path, orig[:cut])
		wantValue(t, d, "before", "b")
		wantValue(t, d, "k2", "old")
		wantNotFound(t, d, "k1")
		wantNotFound(t, d, "k3")
		d.Close()
	}
	d = reopen(t, path, orig)
	defer d.Close()
	wantNotFound(t, d, "k2")
	wantValue(t, d, "k1", strings.Repeat("1", 100))
}

func TestOpen_ZeroBytesFromACrashAreATornWrite(t *testing.T) {
	path, orig := tenRecords(t)
	tests := []struct {
		name     string
		from, to int
	}{}
	s5, e5 := region(t, orig, key(5))
	s9, _ := region(t, orig, key(9))
	tests = append(tests,
		struct {
			name     string
			from, to int
		}{"inside a value, framing intact", e5 - 80, e5 - 8},
		struct {
			name     string
			from, to int
		}{"across a command's framing", s5 + 2, s5 + 80},
		struct {
			name     string
			from, to int
		}{"to the end of the file", s9 + 10, len(orig)},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			clear(b[tt.from:tt.to])
			d := reopen(t, path, b)
			defer d.Close()
			hit := 5
			if tt.from >= s9 {
				hit = 9
			}
			wantNotFound(t, d, key(hit))
			wantOthersIntact(t, d, hit)
			if len(d.Damage()) == 0 || !d.Damage()[0].Torn {
				t.Fatalf("damage %+v, want a torn write", d.Damage())
			}
		})
	}
}

func TestOpen_AnExpiredOverwriteDoesNotBringBackTheOldValue(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	mustSet(t, d, "k", "old value")
	exp := time.Now().Add(time.Second)
	if err := d.Set(t.Context(), "k", []byte("new value"), exp); err != nil {
		t.Fatal(err)
	}
	// Close before BuntDB's background expiry writes a del.
	d.Close()
	time.Sleep(time.Until(time.Unix(ceilUnix(exp), 0)) + 50*time.Millisecond)
	orig, _ := os.ReadFile(path)

	raw := filepath.Join(t.TempDir(), "raw")
	os.WriteFile(raw, orig, 0o600)
	bdb, err := buntdb.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	bdb.View(func(tx *buntdb.Tx) error { got, _ = tx.Get("k"); return nil })
	bdb.Close()
	if !strings.Contains(got, "old value") {
		t.Fatalf("plain BuntDB returned %q; the hazard this test guards against is gone?", got)
	}

	d = reopen(t, path, orig)
	defer d.Close()
	wantNotFound(t, d, "k")
}

func FuzzReplay(f *testing.F) {
	var b []byte
	b = appendSet(b, "a", encodeValue(kindLive, 0, 1, 0, "a", []byte("1")), 0)
	b = appendSet(b, "b", encodeValue(kindLive, 4102444800, 1, 0, "b", []byte("2")), 4102444800)
	b = append(b, "*2\r\n$3\r\ndel\r\n$1\r\na\r\n"...)
	b = appendSet(b, "c", encodeValue(kindLive, 0, 2, 7, "c", []byte("3")), 0)
	b = appendSet(b, "d", encodeValue(kindTombstone, 4102444800, 2, 7, "d", nil), 4102444800)
	f.Add(b)
	f.Add(b[:len(b)-5])
	f.Add([]byte("*1\r\n$0\r\n\r\n"))
	f.Add([]byte("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$99999999999\r\n"))
	f.Add([]byte{0, 0, 0, '*'})
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := replay(b, now)
		if r.rewrite {
			return
		}
		if r.cut >= 0 {
			b = b[:r.cut]
		}
		// A file the replay accepts as it is (once cut), BuntDB must load to
		// the same records.
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := buntdb.Open(path)
		if err != nil {
			t.Fatalf("replay accepted a file BuntDB refuses: %v", err)
		}
		defer db.Close()
		db.View(func(tx *buntdb.Tx) error {
			n := 0
			tx.Ascend("", func(k, v string) bool {
				n++
				if r.items[k] != v {
					t.Errorf("key %q: BuntDB has %q, replay %q", k, v, r.items[k])
				}
				return true
			})
			if n != len(r.items) {
				t.Errorf("BuntDB loaded %d records, replay %d", n, len(r.items))
			}
			return nil
		})
	})
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(encodeValue(kindLive, 0, 1, 0, "key", []byte("payload")))
	f.Add(encodeValue(kindTombstone, 12, 3, 99, "k", nil))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeValue(s)
		if err != nil {
			return
		}
		again, err := decodeValue(encodeValue(v.kind, v.expires, v.count, v.batch, v.key, []byte(v.payload)))
		if err != nil || again != v {
			t.Fatalf("value does not survive re-encoding: %+v, %v", again, err)
		}
		_, _ = decode("k", s, time.Now())
		_ = strconv.Itoa(len(standalone(s)))
	})
}
