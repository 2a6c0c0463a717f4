package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Open returns a new, empty backend for one test; the suite closes it, and
// Open should register its own cleanup for anything else it started.
type Open func(t *testing.T) storage.Backend

// Run runs every check of the contract as subtests of t, each on its own
// backend from open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"SetGetDelete", testSetGetDelete},
		{"ScanReturnsTheRangeInOrderUpToLimit", testScan},
		{"ScanSkipsExpiredRecordsAndStillFillsTheLimit", testScanSkipsExpired},
		{"ApplyIsAllOrNothingUnderPreconditions", testApplyPreconditions},
		{"PreconditionsTreatExpiredRecordsAsAbsent", testPreconditionsExpired},
		{"ApplyKeepsTheLastWriteOfARepeatedKey", testApplyRepeatedKey},
		{"ApplyOfManyWritesWritesThemAll", testApplyMany},
		{"ApplyRefusesAnEmptyKey", testEmptyKey},
		{"ExpiredRecordsAreNeverServed", testExpiry},
		{"SnapshotRestoresIntoAnotherBackend", func(t *testing.T, b storage.Backend) { testSnapshot(t, b, open) }},
		{"CompactKeepsLiveRecords", testCompact},
		{"ConcurrentWritersAndReadersSeeTheirOwnWrites", testConcurrent},
		{"CallsAfterCloseFail", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t)
			t.Cleanup(func() { b.Close() })
			tt.fn(t, b)
		})
	}
}

func mustSet(t testing.TB, b storage.Backend, key, val string) {
	t.Helper()
	if err := b.Set(t.Context(), key, []byte(val), time.Time{}); err != nil {
		t.Fatalf("Set %q: %v", key, err)
	}
}

func wantValue(t testing.TB, b storage.Backend, key, val string) {
	t.Helper()
	rec, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if string(rec.Value) != val || rec.Key != key {
		t.Fatalf("Get %q = %q (key %q), want %q", key, rec.Value, rec.Key, val)
	}
}

func wantNotFound(t testing.TB, b storage.Backend, key string) {
	t.Helper()
	if _, err := b.Get(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get %q: err %v, want ErrNotFound", key, err)
	}
}

func scanKeys(t testing.TB, b storage.Backend, from, to string, limit int) []string {
	t.Helper()
	recs, err := b.Scan(t.Context(), from, to, limit)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	return keys
}

func testSetGetDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	mustSet(t, b, "a", "1")
	mustSet(t, b, "b", "2")
	mustSet(t, b, "a", "3")
	if err := b.Set(ctx, "bin\x00\xff", []byte{0, 1, 0xff}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "empty", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "missing"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	wantValue(t, b, "a", "3")
	wantValue(t, b, "bin\x00\xff", "\x00\x01\xff")
	wantValue(t, b, "empty", "")
	wantNotFound(t, b, "b")
	wantNotFound(t, b, "never")
}

func testScan(t *testing.T, b storage.Backend) {
	for _, k := range []string{"b2", "a", "b1", "b3", "c", "b\xff"} {
		mustSet(t, b, k, "v"+k)
	}
	if err := b.Apply(t.Context(), []storage.Write{{Key: "b4", Value: []byte("x"), Expires: time.Now().Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to string
		limit    int
		want     []string
	}{
		{"prefix b", "b", storage.PrefixEnd("b"), 10, []string{"b1", "b2", "b3", "b\xff"}},
		{"limit stops early", "b", storage.PrefixEnd("b"), 2, []string{"b1", "b2"}},
		{"no upper bound", "b3", "", 10, []string{"b3", "b\xff", "c"}},
		{"everything", "", "", 100, []string{"a", "b1", "b2", "b3", "b\xff", "c"}},
		{"upper bound is exclusive", "a", "b2", 10, []string{"a", "b1"}},
		{"empty range", "d", "", 10, nil},
		{"inverted range", "c", "a", 10, nil},
		{"zero limit", "", "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := b.Scan(t.Context(), tt.from, tt.to, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Key)
				if string(r.Value) != "v"+r.Key {
					t.Errorf("%q holds %q", r.Key, r.Value)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("keys %q, want %q", got, tt.want)
			}
		})
	}
}

func testScanSkipsExpired(t *testing.T, b storage.Backend) {
	// Records that expire in a second, between live ones: once expired they
	// are skipped, and a limited scan still returns limit live records.
	exp := time.Now().Add(time.Second)
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("k%02d", i)
		if i%2 == 0 {
			mustSet(t, b, k, "live")
			continue
		}
		if err := b.Set(t.Context(), k, []byte("short"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if got := scanKeys(t, b, "k", "", 3); fmt.Sprint(got) != "[k00 k01 k02]" {
		t.Fatalf("before expiry: %q", got)
	}
	time.Sleep(time.Until(exp.Add(time.Second).Truncate(time.Second)) + 20*time.Millisecond)
	if got := scanKeys(t, b, "k", "", 3); fmt.Sprint(got) != "[k00 k02 k04]" {
		t.Fatalf("after expiry: %q, want the first three live records", got)
	}
	if got := scanKeys(t, b, "k", "", 100); len(got) != 5 {
		t.Fatalf("after expiry: %q, want the five live records", got)
	}
}

func testApplyPreconditions(t *testing.T, b storage.Backend) {
	mustSet(t, b, "x", "1")
	tests := []struct {
		name  string
		conds []storage.Precondition
		ok    bool
	}{
		{"value matches", []storage.Precondition{{Key: "x", Value: []byte("1")}}, true},
		{"value differs", []storage.Precondition{{Key: "x", Value: []byte("2")}}, false},
		{"absent key is absent", []storage.Precondition{{Key: "nope", Absent: true}}, true},
		{"present key is not absent", []storage.Precondition{{Key: "x", Absent: true}}, false},
		{"missing key has no value", []storage.Precondition{{Key: "nope", Value: []byte("")}}, false},
		{"one failing of two", []storage.Precondition{{Key: "x", Value: []byte("1")}, {Key: "x", Absent: true}}, false},
		{"conditions only", nil, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := fmt.Sprintf("w%d", i)
			mustSet(t, b, "y", "old")
			writes := []storage.Write{{Key: k, Value: []byte("new")}, {Key: "y", Delete: true}}
			err := b.Apply(t.Context(), writes, tt.conds...)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				wantValue(t, b, k, "new")
				wantNotFound(t, b, "y")
				return
			}
			if !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("err %v, want ErrConflict", err)
			}
			wantNotFound(t, b, k)
			wantValue(t, b, "y", "old")
		})
	}
	t.Run("a batch of only preconditions checks them", func(t *testing.T) {
		if err := b.Apply(t.Context(), nil, storage.Precondition{Key: "x", Value: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(t.Context(), nil, storage.Precondition{Key: "x", Absent: true}); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("err %v, want ErrConflict", err)
		}
	})
	t.Run("compare and swap lets one of many racers win", func(t *testing.T) {
		mustSet(t, b, "counter", "0")
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := b.Apply(t.Context(), []storage.Write{{Key: "counter", Value: []byte(fmt.Sprint(g + 1))}},
					storage.Precondition{Key: "counter", Value: []byte("0")})
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, storage.ErrConflict):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d racers won the same compare-and-swap, want 1", wins)
		}
	})
}

func testPreconditionsExpired(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	exp := time.Now().Add(time.Second)
	for _, k := range []string{"a", "v"} {
		if err := b.Set(ctx, k, []byte("short"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Apply(ctx, nil, storage.Precondition{Key: "a", Absent: true}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a live record passed as absent: %v", err)
	}
	if err := b.Apply(ctx, nil, storage.Precondition{Key: "v", Value: []byte("short")}); err != nil {
		t.Fatalf("a live record with an expiry failed its value precondition: %v", err)
	}
	time.Sleep(time.Until(exp.Add(time.Second).Truncate(time.Second)) + 20*time.Millisecond)
	err := b.Apply(ctx, []storage.Write{{Key: "a", Value: []byte("claimed")}}, storage.Precondition{Key: "a", Absent: true})
	if err != nil {
		t.Fatalf("an expired record did not count as absent: %v", err)
	}
	wantValue(t, b, "a", "claimed")
	err = b.Apply(ctx, []storage.Write{{Key: "v", Value: []byte("x")}}, storage.Precondition{Key: "v", Value: []byte("short")})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("an expired record passed a value precondition: %v", err)
	}
}

func testApplyRepeatedKey(t *testing.T, b storage.Backend) {
	err := b.Apply(t.Context(), []storage.Write{
		{Key: "k", Value: []byte("1")}, {Key: "j", Value: []byte("j")}, {Key: "k", Delete: true}, {Key: "k", Value: []byte("3")},
		{Key: "d", Value: []byte("d")}, {Key: "d", Delete: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, b, "k", "3")
	wantValue(t, b, "j", "j")
	wantNotFound(t, b, "d")
}

func testApplyMany(t *testing.T, b storage.Backend) {
	// More writes than etcd's default transaction allows (128), and more
	// bytes than its default request limit (1.5 MiB): the sealing layer
	// deletes ranges and restores snapshots in batches of 256.
	var ws []storage.Write
	val := bytes.Repeat([]byte("v"), 8<<10)
	for i := 0; i < 300; i++ {
		ws = append(ws, storage.Write{Key: fmt.Sprintf("m%03d", i), Value: val})
	}
	if err := b.Apply(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	if got := scanKeys(t, b, "m", "", 1000); len(got) != 300 {
		t.Fatalf("%d records after a batch of 300", len(got))
	}
	for i := range ws {
		ws[i] = storage.Write{Key: ws[i].Key, Delete: true}
	}
	if err := b.Apply(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	if got := scanKeys(t, b, "m", "", 1000); len(got) != 0 {
		t.Fatalf("%d records after deleting all 300", len(got))
	}
}

func testEmptyKey(t *testing.T, b storage.Backend) {
	if err := b.Set(t.Context(), "", []byte("v"), time.Time{}); err == nil {
		t.Fatal("Set of an empty key succeeded")
	}
	if got := scanKeys(t, b, "", "", 10); len(got) != 0 {
		t.Fatalf("records after a refused write: %q", got)
	}
}

func testExpiry(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	mustSet(t, b, "old", "v1")
	if err := b.Set(ctx, "old", []byte("past"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, b, "old")
	exp := time.Now().Add(time.Second)
	if err := b.Set(ctx, "soon", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	rec, err := b.Get(ctx, "soon")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Expires.Before(exp) || rec.Expires.After(exp.Add(time.Second)) {
		t.Fatalf("Expires %v, want %v rounded up to the second", rec.Expires, exp)
	}
	// A record set without expiry over one with an expiry keeps no expiry.
	if err := b.Set(ctx, "kept", []byte("short"), exp); err != nil {
		t.Fatal(err)
	}
	mustSet(t, b, "kept", "forever")
	time.Sleep(time.Until(rec.Expires) + 20*time.Millisecond)
	wantNotFound(t, b, "soon")
	if got := scanKeys(t, b, "", "", 10); fmt.Sprint(got) != "[kept]" {
		t.Fatalf("scan after expiry: %q, want [kept]", got)
	}
	wantValue(t, b, "kept", "forever")
}

func testSnapshot(t *testing.T, b storage.Backend, open Open) {
	ctx := t.Context()
	mustSet(t, b, "a", "1")
	mustSet(t, b, "b", "2")
	exp := time.Now().Add(time.Hour)
	if err := b.Set(ctx, "ttl", []byte("3"), exp); err != nil {
		t.Fatal(err)
	}
	mustSet(t, b, "gone", "x")
	if err := b.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 600; i++ { // more than one page of any paged reader
		mustSetQuiet(t, b, fmt.Sprintf("p%04d", i))
	}
	var snap bytes.Buffer
	if err := b.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	mustSet(t, b, "after", "not in the snapshot")
	dst := open(t)
	t.Cleanup(func() { dst.Close() })
	n, err := storage.RestoreSnapshot(ctx, bytes.NewReader(snap.Bytes()), dst)
	if err != nil {
		t.Fatal(err)
	}
	if n != 603 {
		t.Fatalf("restored %d records, want 603", n)
	}
	wantValue(t, dst, "a", "1")
	wantValue(t, dst, "b", "2")
	wantValue(t, dst, "p0599", "p0599")
	wantNotFound(t, dst, "gone")
	wantNotFound(t, dst, "after")
	rec, err := dst.Get(ctx, "ttl")
	if err != nil || rec.Expires.Before(exp) || rec.Expires.After(exp.Add(time.Second)) {
		t.Fatalf("ttl record: %+v, %v; want it to expire at %v", rec, err, exp)
	}
}

func mustSetQuiet(t testing.TB, b storage.Backend, key string) {
	t.Helper()
	if err := b.Apply(t.Context(), []storage.Write{{Key: key, Value: []byte(key)}}); err != nil {
		t.Fatalf("Set %q: %v", key, err)
	}
}

func testCompact(t *testing.T, b storage.Backend) {
	for i := 0; i < 20; i++ {
		for j := 0; j < 5; j++ {
			mustSet(t, b, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", j))
		}
	}
	for i := 10; i < 20; i++ {
		if err := b.Delete(t.Context(), fmt.Sprintf("k%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		wantValue(t, b, fmt.Sprintf("k%02d", i), "v4")
	}
	if got := scanKeys(t, b, "", "", 100); len(got) != 10 {
		t.Fatalf("%d records after compaction, want 10", len(got))
	}
	mustSet(t, b, "after", "compaction")
	wantValue(t, b, "after", "compaction")
}

func testConcurrent(t *testing.T, b storage.Backend) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				k := fmt.Sprintf("g%d-%d", g, i%5)
				v := fmt.Sprint(i)
				if err := b.Set(t.Context(), k, []byte(v), time.Time{}); err != nil {
					t.Error(err)
					return
				}
				rec, err := b.Get(t.Context(), k)
				if err != nil || string(rec.Value) != v {
					t.Errorf("Get %s = %q, %v; want %q", k, rec.Value, err, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := scanKeys(t, b, "g", "", 100); len(got) != 40 {
		t.Fatalf("%d records, want 40", len(got))
	}
}

func testClose(t *testing.T, b storage.Backend) {
	mustSet(t, b, "a", "1")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Get(ctx, "a"); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if err := b.Set(ctx, "a", []byte("2"), time.Time{}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Set after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Scan(ctx, "", "", 10); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Scan after Close: %v, want ErrClosed", err)
	}
}
