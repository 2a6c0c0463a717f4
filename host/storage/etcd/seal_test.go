package etcd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

func openSealed(t *testing.T, d *DB, key *seal.MasterKey) *seal.Store {
	t.Helper()
	s, err := seal.Open(t.Context(), d, []*seal.MasterKey{key}, seal.Config{})
	if err != nil {
		t.Fatalf("seal.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func queryAll(t *testing.T, s *seal.Store, inst, prefix string, limit int) []string {
	t.Helper()
	var keys []string
	cursor := ""
	for {
		page, err := s.Query(t.Context(), inst, storage.KVS, prefix, cursor, limit)
		if err != nil {
			t.Fatalf("Query %q: %v", prefix, err)
		}
		for _, e := range page.Entries {
			keys = append(keys, e.Key)
		}
		if page.NextCursor == "" {
			return keys
		}
		cursor = page.NextCursor
	}
}

// TestSeal_OverEtcd runs the sealed store the host uses on a three-member
// cluster: records written through one member are read, queried and purged
// through a host connected to another, and a purge plus compaction leaves
// no trace of the installation in any member's database.
func TestSeal_OverEtcd(t *testing.T) {
	c := etcdtest.Start(t, 3)
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	one, err := Open(ctx, Config{Endpoints: c.Endpoints[:1], Prefix: "cb/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { one.Close() })
	a := openSealed(t, one, key)
	for i := 0; i < 120; i++ {
		for _, inst := range []string{"doomed", "kept"} {
			if err := a.Set(ctx, inst, storage.KVS, fmt.Sprintf("chat:%03d", i), []byte(inst+" value"), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.Set(ctx, "kept", storage.KVS, "issue:SUP-1", []byte("1001"), 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "kept", storage.KVS, "dedupe:1", []byte("x"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	// A second host, through another member.
	two, err := Open(ctx, Config{Endpoints: c.Endpoints[2:], Prefix: "cb/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { two.Close() })
	b := openSealed(t, two, key)
	if v, err := b.Get(ctx, "kept", storage.KVS, "issue:SUP-1"); err != nil || string(v) != "1001" {
		t.Fatalf("Get through the other member = %q, %v", v, err)
	}
	if v, err := b.Get(ctx, "kept", storage.KVS, "dedupe:1"); err != nil || string(v) != "x" {
		t.Fatalf("Get of a record with a TTL = %q, %v", v, err)
	}
	got := queryAll(t, b, "kept", "chat:", 50)
	if len(got) != 120 || !slices.IsSorted(got) || got[0] != "chat:000" {
		t.Fatalf("query chat: returned %d keys (first %q), want 120 in order", len(got), got[:min(3, len(got))])
	}
	if got := queryAll(t, b, "kept", "chat:11", 100); len(got) != 10 {
		t.Fatalf("query chat:11 returned %q", got)
	}

	// The record a purge must remove, as etcd holds it.
	raw, err := one.Scan(ctx, "", "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Purge(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "doomed", storage.KVS, "chat:001"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("purged record through the first host: %v, want ErrNotFound", err)
	}
	if got := queryAll(t, a, "doomed", "", 100); len(got) != 0 {
		t.Fatalf("purged installation lists %q", got)
	}
	if v, err := a.Get(ctx, "kept", storage.KVS, "chat:119"); err != nil || string(v) != "kept value" {
		t.Fatalf("the other installation after the purge: %q, %v", v, err)
	}
	after, err := one.Scan(ctx, "", "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var gone [][]byte
	for _, r := range raw {
		if !slices.ContainsFunc(after, func(x storage.Record) bool { return x.Key == r.Key }) {
			gone = append(gone, r.Value[len(r.Value)-32:])
		}
	}
	if len(gone) < 120 {
		t.Fatalf("the purge removed %d backend records, want at least 120", len(gone))
	}
	for i := range c.Endpoints {
		db, err := os.ReadFile(filepath.Join(c.DataDir(i), "member", "snap", "db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gone {
			if bytes.Contains(db, g) {
				t.Fatalf("member %d's database still holds a purged record's ciphertext", i)
			}
		}
	}

	time.Sleep(1600 * time.Millisecond)
	if _, err := b.Get(ctx, "kept", storage.KVS, "dedupe:1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired record: %v, want ErrNotFound", err)
	}
}
