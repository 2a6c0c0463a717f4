package fuel_test

import (
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/fuel"
)

func TestExportGlobalsExportsEveryMutableGlobalAndTheCounter(t *testing.T) {
	for _, c := range []struct {
		name   string
		module []byte
	}{
		{"a Go guest", guestWasm},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stats, err := fuel.RewriteWithStats(c.module, fuel.Config{ExportGlobals: true})
			if err != nil {
				t.Fatal(err)
			}
			// A Go module keeps its stack pointer and a few registers in
			// mutable globals; all of them and the counter must be exported.
			if len(stats.Globals) < 2 {
				t.Fatalf("%d globals exported: %v", len(stats.Globals), stats.Globals)
			}
			r := newRuntime(t, wazero.NewRuntimeConfigInterpreter(), fuel.DefaultQuantum, nil)
			mod := newGuest(t, r, out)
			for _, name := range stats.Globals {
				g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
				if !ok {
					t.Fatalf("%s is not an exported mutable global", name)
				}
				g.Set(g.Get()) // writable from the host
			}
			plain, err := fuel.Rewrite(c.module, fuel.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(plain), fuel.GlobalExportPrefix) {
				t.Fatal("globals exported without ExportGlobals")
			}
		})
	}
}
