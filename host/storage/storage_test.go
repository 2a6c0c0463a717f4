package storage

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"", ""},
		{"a", "b"},
		{"ab", "ac"},
		{"a\xff", "b"},
		{"\xff\xff", ""},
		{"r\x01\xff\xff", "r\x02"},
	}
	for _, tt := range tests {
		if got := PrefixEnd(tt.prefix); got != tt.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
		if tt.want != "" && !(tt.prefix+"\xff\xff" < tt.want) {
			t.Errorf("PrefixEnd(%q) = %q is not above every key with the prefix", tt.prefix, tt.want)
		}
	}
}

func snapshotOf(t testing.TB, recs ...Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	sw := NewSnapshotWriter(&buf)
	for _, r := range recs {
		if err := sw.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTripsRecordsInOrder(t *testing.T) {
	exp := time.Unix(1900000000, 123)
	in := []Record{{Key: "a", Value: []byte("1")}, {Key: "b\x00", Value: nil, Expires: exp}, {Key: strings.Repeat("k", 300), Value: bytes.Repeat([]byte{7}, 5000)}}
	var out []Record
	if err := ReadSnapshot(bytes.NewReader(snapshotOf(t, in...)), func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d records back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Key != in[i].Key || !bytes.Equal(out[i].Value, in[i].Value) || !out[i].Expires.Equal(in[i].Expires) {
			t.Errorf("record %d: %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestSnapshotRejectsEveryTruncationAndAlteredByte(t *testing.T) {
	snap := snapshotOf(t, Record{Key: "a", Value: []byte("one")}, Record{Key: "b", Value: []byte("two")})
	nop := func(Record) error { return nil }
	for cut := 0; cut < len(snap); cut++ {
		if err := ReadSnapshot(bytes.NewReader(snap[:cut]), nop); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("cut at %d: err %v, want ErrSnapshot", cut, err)
		}
	}
	for i := range snap {
		b := bytes.Clone(snap)
		b[i] ^= 0x01
		if err := ReadSnapshot(bytes.NewReader(b), nop); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("byte %d altered: err %v, want ErrSnapshot", i, err)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(snapshotOf(f, Record{Key: "a", Value: []byte("1")}))
	f.Add([]byte("CBSNAP1\n\x01\xff\xff\xff\xff\x0f"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ReadSnapshot(bytes.NewReader(b), func(Record) error { return nil })
	})
}
