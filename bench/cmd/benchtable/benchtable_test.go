package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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

// Row 9's closed loop runs for about its duration on every worker and
// stops at the first error.
func TestClosedLoopIsBoundedAndStopsAtTheFirstError(t *testing.T) {
	start := time.Now()
	var calls atomic.Int64
	rate, err := closedLoop(t.Context(), 100*time.Millisecond, 4, func(int) error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil || rate <= 0 || calls.Load() < 4 {
		t.Fatalf("rate %.0f/s after %d calls, err %v", rate, calls.Load(), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a 100 ms loop took %v", d)
	}
	boom := errors.New("boom")
	if _, err := closedLoop(t.Context(), 10*time.Second, 4, func(i int) error {
		if i == 10 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("the loop ran on after an error: %v in all", d)
	}
}
