package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// Row 6 compares like with like: the plain baseline stores, reads and
// queries the same records as the sealed store.
func TestPlainBaselineAnswersAsTheSealedStoreDoes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pdb, err := bunt.Open(filepath.Join(dir, "plain.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	sdb, err := bunt.Open(filepath.Join(dir, "sealed.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal.Open(ctx, sdb, []*seal.MasterKey{key}, seal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sealed.Close()
	for name, s := range map[string]kv{"plain": plain{pdb}, "sealed": sealed} {
		for _, k := range []string{"chat:000001", "chat:000002", "chat:000100", "issue:000001"} {
			if err := s.Set(ctx, "inst", storage.KVS, k, []byte("value of "+k), 0); err != nil {
				t.Fatal(name, err)
			}
		}
		v, err := s.Get(ctx, "inst", storage.KVS, "chat:000002")
		if err != nil || string(v) != "value of chat:000002" {
			t.Fatalf("%s: get = %q, %v", name, v, err)
		}
		p, err := s.Query(ctx, "inst", storage.KVS, "chat:0000", "", 10)
		if err != nil {
			t.Fatal(name, err)
		}
		var keys []string
		for _, e := range p.Entries {
			keys = append(keys, e.Key)
		}
		if want := []string{"chat:000001", "chat:000002"}; !slices.Equal(keys, want) {
			t.Fatalf("%s: query chat:0000 = %q, want %q", name, keys, want)
		}
	}
}

// Row 8 reads resident memory from /proc/self/status.
func TestRSSReadsProcStatus(t *testing.T) {
	if rss("VmRSS") <= 0 || rss("VmHWM") < rss("VmRSS")/2 {
		t.Fatalf("VmRSS %d KiB, VmHWM %d KiB: want both read", rss("VmRSS"), rss("VmHWM"))
	}
}
