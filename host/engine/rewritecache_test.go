package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/host/fuel"
)

// loopModule is (module (memory 1) (global (mut i32) (i32.const 0)) (func (export "f") (loop nop))).
var loopModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
	0x03, 0x02, 0x01, 0x00, // function 0 of type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memory: 1 page
	0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b, // global: mut i32 = 0
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, // export "f"
	0x0a, 0x08, 0x01, 0x06, 0x00, 0x03, 0x40, 0x01, 0x0b, 0x0b, // body: loop nop end
}

// A restart with the same cache directory loads the fuel rewrite instead of
// redoing it; other settings or no directory never read that entry.
func TestFuelRewriteIsCachedBesideTheCompiledCode(t *testing.T) {
	dir := t.TempDir()
	c := fuel.Config{ExportGlobals: true}
	want, wantStats, err := fuel.RewriteWithStats(loopModule, c)
	if err != nil {
		t.Fatal(err)
	}
	got, globals, err := rewrite(loopModule, dir, c)
	if err != nil || !bytes.Equal(got, want) || !slices.Equal(globals, wantStats.Globals) || len(globals) == 0 {
		t.Fatalf("first rewrite: %v, globals %q; want the rewriter's output and globals %q", err, globals, wantStats.Globals)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "fuel", "*.wasm"))
	if len(entries) != 1 {
		t.Fatalf("cache holds %d rewritten modules, want 1", len(entries))
	}
	// Mark the entry: a cache hit returns the mark.
	marked := append(slices.Clone(want), 0x00, 0x05, 0x03, 'h', 'i', 't', 0x01) // a custom section named "hit"
	if err := os.WriteFile(entries[0], marked, 0o600); err != nil {
		t.Fatal(err)
	}
	got, globals, err = rewrite(loopModule, dir, c)
	if err != nil || !bytes.Equal(got, marked) || !slices.Equal(globals, wantStats.Globals) {
		t.Fatalf("second rewrite did not come from the cache: %v, globals %q", err, globals)
	}
	for name, tc := range map[string]struct {
		dir string
		c   fuel.Config
	}{
		"other settings": {dir, fuel.Config{}},
		"other quantum":  {dir, fuel.Config{ExportGlobals: true, Quantum: 7}},
		"no directory":   {"", c},
	} {
		got, _, err := rewrite(loopModule, tc.dir, tc.c)
		if err != nil || bytes.Equal(got, marked) {
			t.Fatalf("%s: read the marked entry (err %v)", name, err)
		}
	}
	// The engine runs what the cache returns: a valid module, twice.
	ctx := context.Background()
	for range 2 {
		e, err := New(ctx, loopModule, Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Call(ctx, "k", "f"); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
