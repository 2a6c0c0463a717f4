package fuel_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
)

func BenchmarkRewrite_GoGuest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(guestWasm)))
	var out []byte
	var err error
	for b.Loop() {
		if out, err = fuel.Rewrite(guestWasm, fuel.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100*float64(len(out)-len(guestWasm))/float64(len(guestWasm)), "%growth")
}

// benchmarkCall measures one call of export(args) on the Go guest with no
// way to stop it, with wazero's WithCloseOnContextDone, and with fuel. Every
// call gets its own deadline, as a host would give it.
func benchmarkCall(b *testing.B, export string, args ...uint64) {
	rewritten, err := fuel.Rewrite(guestWasm, fuel.Config{})
	if err != nil {
		b.Fatal(err)
	}
	variants := []struct {
		name    string
		cfg     wazero.RuntimeConfig
		wasm    []byte
		quantum uint32
	}{
		{"none", wazero.NewRuntimeConfigCompiler(), guestWasm, 0},
		{"closeOnContextDone", wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true), guestWasm, 0},
		{"fuel", wazero.NewRuntimeConfigCompiler(), rewritten, fuel.DefaultQuantum},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			r := newRuntime(b, v.cfg, v.quantum, nil)
			fn := newGuest(b, r, v.wasm).ExportedFunction(export)
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := fn.Call(ctx, args...)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCall_Spin(b *testing.B) { benchmarkCall(b, "spin", 1_000_000) }

func BenchmarkCall_JSON(b *testing.B) { benchmarkCall(b, "jsonwork", 1) }

func BenchmarkCall_Noop(b *testing.B) { benchmarkCall(b, "noop") }
