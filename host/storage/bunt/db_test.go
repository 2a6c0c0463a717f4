package bunt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/tidwall/buntdb"
)

var ctx = context.Background()

func open(t testing.TB, path string) *DB {
	t.Helper()
	d, err := Open(path, Config{CompactEvery: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustSet(t testing.TB, d *DB, key, val string) {
	t.Helper()
	if err := d.Set(ctx, key, []byte(val), time.Time{}); err != nil {
		t.Fatalf("Set %q: %v", key, err)
	}
}

func wantValue(t testing.TB, d *DB, key, val string) {
	t.Helper()
	rec, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if string(rec.Value) != val {
		t.Fatalf("Get %q = %q, want %q", key, rec.Value, val)
	}
}

func wantNotFound(t testing.TB, d *DB, key string) {
	t.Helper()
	if _, err := d.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get %q: err %v, want ErrNotFound", key, err)
	}
}

func TestDB_SetGetDeleteAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	mustSet(t, d, "a", "1")
	mustSet(t, d, "b", "2")
	mustSet(t, d, "a", "3")
	if err := d.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "missing"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	wantValue(t, d, "a", "3")
	wantNotFound(t, d, "b")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := d.Get(ctx, "a"); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	d = open(t, path)
	wantValue(t, d, "a", "3")
	wantNotFound(t, d, "b")
	if len(d.Damage()) != 0 {
		t.Fatalf("clean file reported damage: %+v", d.Damage())
	}
}

func TestDB_NewFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	open(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("data file mode %v, want no group or world access", fi.Mode().Perm())
	}
}

func TestDB_OpenRefusesAFileInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	if _, err := Open(path, Config{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	d.Close()
	d2 := open(t, path)
	d2.Close()
}

func TestDB_BatchDeletesReadAsAbsentAndLeaveWithCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	mustSet(t, d, "gone1", "secret-one")
	mustSet(t, d, "keep", "k")
	err := d.Apply(ctx, []storage.Write{{Key: "gone1", Delete: true}, {Key: "gone2", Delete: true}, {Key: "new", Value: []byte("n")}})
	if err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, d, "gone1")
	wantNotFound(t, d, "gone2")
	recs, err := d.Scan(ctx, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("scan sees %d records, want keep and new", len(recs))
	}
	if err := d.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	d.Close()
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("gone1")) || bytes.Contains(b, []byte("secret-one")) {
		t.Fatalf("compacted file still holds a deleted record")
	}
	d = open(t, path)
	wantNotFound(t, d, "gone1")
	wantValue(t, d, "new", "n")
}

func TestDB_GroupCommitSharesOneFsyncBetweenConcurrentWriters(t *testing.T) {
	d := open(t, filepath.Join(t.TempDir(), "db"))
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				mustSet(t, d, fmt.Sprintf("g%d-%d", g, i), "v")
			}
		}()
	}
	wg.Wait()
	s := d.Stats()
	if s.Writes != 320 {
		t.Fatalf("Writes = %d, want 320", s.Writes)
	}
	if s.Syncs >= s.Writes {
		t.Fatalf("Syncs = %d for %d writes: no group commit", s.Syncs, s.Writes)
	}
	t.Logf("%d writes, %d fsyncs (%.1f writes per fsync)", s.Writes, s.Syncs, float64(s.Writes)/float64(s.Syncs))
}

func TestDB_FailedFsyncStopsTheDB(t *testing.T) {
	d := open(t, filepath.Join(t.TempDir(), "db"))
	mustSet(t, d, "a", "1")
	d.mu.Lock()
	good := d.file
	bad, _ := os.Open(os.DevNull)
	bad.Close() // Sync on a closed file fails
	d.file = bad
	d.mu.Unlock()
	if err := d.Set(ctx, "b", []byte("2"), time.Time{}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Set with a failing fsync: %v, want ErrFailed", err)
	}
	if _, err := d.Get(ctx, "a"); !errors.Is(err, ErrFailed) {
		t.Fatalf("Get after a failed fsync: %v, want ErrFailed", err)
	}
	d.mu.Lock()
	d.file = good
	d.mu.Unlock()
}

func TestDB_CompactKeepsLiveRecordsAndShrinksTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	for i := 0; i < 50; i++ {
		for j := 0; j < 10; j++ {
			mustSet(t, d, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", j))
		}
	}
	before := d.Stats().FileSize
	if err := d.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	after := d.Stats().FileSize
	if after*5 > before {
		t.Fatalf("file %d bytes after compaction, %d before", after, before)
	}
	mustSet(t, d, "after", "compaction")
	d.Close()
	d = open(t, path)
	for i := 0; i < 50; i++ {
		wantValue(t, d, fmt.Sprintf("k%02d", i), "v9")
	}
	wantValue(t, d, "after", "compaction")
}

func TestDB_CompactRunsBesideReadersAndWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("g%d-%d", g, i%20)
				v := fmt.Sprint(i)
				if err := d.Set(ctx, k, []byte(v), time.Time{}); err != nil {
					t.Error(err)
					return
				}
				rec, err := d.Get(ctx, k)
				if err != nil || string(rec.Value) != v {
					t.Errorf("Get %s = %q, %v; want %q", k, rec.Value, err, v)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if err := d.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if d.Stats().Compactions != 5 {
		t.Fatalf("Compactions = %d", d.Stats().Compactions)
	}
}

func TestDB_CompactCarriesOverWritesMadeWhileItRan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	for _, k := range []string{"keep", "overwrite", "delete", "batchdel"} {
		mustSet(t, d, k, "before")
	}
	d.testHookCompact = func() {
		mustSet(t, d, "new", "during")
		mustSet(t, d, "overwrite", "during")
		if err := d.Delete(ctx, "delete"); err != nil {
			t.Error(err)
		}
		err := d.Apply(ctx, []storage.Write{{Key: "batchdel", Delete: true}, {Key: "batchnew", Value: []byte("during")},
			{Key: "ttl", Value: []byte("during"), Expires: time.Now().Add(time.Hour)}})
		if err != nil {
			t.Error(err)
		}
	}
	if err := d.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	d.testHookCompact = nil
	check := func() {
		t.Helper()
		wantValue(t, d, "keep", "before")
		wantValue(t, d, "new", "during")
		wantValue(t, d, "overwrite", "during")
		wantValue(t, d, "batchnew", "during")
		wantValue(t, d, "ttl", "during")
		wantNotFound(t, d, "delete")
		wantNotFound(t, d, "batchdel")
	}
	check()
	d.Close()
	d = open(t, path)
	check()
	if len(d.Damage()) != 0 {
		t.Fatalf("compacted file reported damage: %+v", d.Damage())
	}
}

func TestOpen_RemovesALeftoverCompactionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	d := open(t, path)
	mustSet(t, d, "a", "1")
	d.Close()
	// A crash after writing part of the new file, before the rename.
	if err := os.WriteFile(path+".compact", []byte("*3\r\n$3\r\nset\r\n$1\r\na\r\n$9\r\ngarb"), 0o600); err != nil {
		t.Fatal(err)
	}
	d = open(t, path)
	wantValue(t, d, "a", "1")
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover compaction file still there: %v", err)
	}
}

func TestBuntDBShrinkIsNotUsed(t *testing.T) {
	// BuntDB's Shrink renames <file>.tmp over the file without fsyncing
	// either: the package must keep its automatic shrink off.
	d := open(t, filepath.Join(t.TempDir(), "db"))
	var cfg buntdb.Config
	d.mu.RLock()
	err := d.db.ReadConfig(&cfg)
	d.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AutoShrinkDisabled || cfg.SyncPolicy != buntdb.Never {
		t.Fatalf("BuntDB config %+v, want Never and auto-shrink off", cfg)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := open(t, filepath.Join(dir, "db"))
	mustSet(t, d, "a", "1")
	mustSet(t, d, "b", "2")
	exp := time.Now().Add(time.Hour)
	if err := d.Set(ctx, "ttl", []byte("3"), exp); err != nil {
		t.Fatal(err)
	}
	mustSet(t, d, "gone", "x")
	if err := d.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := d.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	mustSet(t, d, "after", "not in the snapshot")
	target := filepath.Join(dir, "restored")
	if err := Restore(ctx, target, bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	r := open(t, target)
	wantValue(t, r, "a", "1")
	wantValue(t, r, "b", "2")
	wantNotFound(t, r, "gone")
	wantNotFound(t, r, "after")
	rec, err := r.Get(ctx, "ttl")
	if err != nil || rec.Expires.Unix() != ceilUnix(exp) {
		t.Fatalf("ttl record: %+v, %v", rec, err)
	}

	t.Run("refuses an existing file", func(t *testing.T) {
		if err := Restore(ctx, target, bytes.NewReader(snap.Bytes())); !errors.Is(err, ErrExists) {
			t.Fatalf("err %v, want ErrExists", err)
		}
	})
	t.Run("leaves no file from a damaged snapshot", func(t *testing.T) {
		for _, cut := range []int{10, snap.Len() / 2, snap.Len() - 1} {
			bad := filepath.Join(dir, fmt.Sprintf("bad%d", cut))
			if err := Restore(ctx, bad, bytes.NewReader(snap.Bytes()[:cut])); !errors.Is(err, storage.ErrSnapshot) {
				t.Fatalf("cut at %d: err %v, want ErrSnapshot", cut, err)
			}
			if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("cut at %d: a file was left behind", cut)
			}
		}
		flipped := bytes.Clone(snap.Bytes())
		flipped[len(flipped)/2] ^= 1
		if err := Restore(ctx, filepath.Join(dir, "flipped"), bytes.NewReader(flipped)); !errors.Is(err, storage.ErrSnapshot) {
			t.Fatalf("flipped byte: err %v, want ErrSnapshot", err)
		}
	})
}
