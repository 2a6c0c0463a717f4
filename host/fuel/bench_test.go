package fuel_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
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

type callVariant struct {
	name    string
	cfg     wazero.RuntimeConfig
	wasm    []byte
	quantum uint32
}

// callVariants are the Go guest with no way to stop it, with wazero's
// WithCloseOnContextDone, and with fuel.
func callVariants(b *testing.B) []callVariant {
	rewritten, err := fuel.Rewrite(guestWasm, fuel.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return []callVariant{
		{"none", wazero.NewRuntimeConfigCompiler(), guestWasm, 0},
		{"closeOnContextDone", wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true), guestWasm, 0},
		{"fuel", wazero.NewRuntimeConfigCompiler(), rewritten, fuel.DefaultQuantum},
	}
}

// callWithDeadline calls fn with its own deadline, as a host would.
func callWithDeadline(b *testing.B, fn api.Function, args ...uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_, err := fn.Call(ctx, args...)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
}

// benchmarkCall measures one call of export(args) in each variant.
func benchmarkCall(b *testing.B, export string, args ...uint64) {
	for _, v := range callVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			r := newRuntime(b, v.cfg, v.quantum, nil)
			fn := newGuest(b, r, v.wasm).ExportedFunction(export)
			b.ReportAllocs()
			for b.Loop() {
				callWithDeadline(b, fn, args...)
			}
		})
	}
}

// benchmarkInterleaved calls export(args) in every variant in turn and
// reports each one's time per call, so that all three see the same load on
// a shared machine and their ratios can be trusted.
func benchmarkInterleaved(b *testing.B, export string, args ...uint64) {
	variants := callVariants(b)
	fns := make([]api.Function, len(variants))
	for i, v := range variants {
		r := newRuntime(b, v.cfg, v.quantum, nil)
		fns[i] = newGuest(b, r, v.wasm).ExportedFunction(export)
	}
	spent := make([]time.Duration, len(variants))
	n := 0
	for b.Loop() {
		for k := range fns { // a different variant goes first each round
			i := (n + k) % len(fns)
			start := time.Now()
			callWithDeadline(b, fns[i], args...)
			spent[i] += time.Since(start)
		}
		n++
	}
	for i, v := range variants {
		b.ReportMetric(float64(spent[i].Nanoseconds())/float64(n), v.name+"-ns/call")
	}
	b.ReportMetric(float64(spent[2])/float64(spent[0]), "fuel/none")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "closeOnContextDone/none")
}

func BenchmarkCall_SpinInterleaved(b *testing.B) { benchmarkInterleaved(b, "spin", 1_000_000) }

func BenchmarkCall_JSONInterleaved(b *testing.B) { benchmarkInterleaved(b, "jsonwork", 1) }

func BenchmarkCall_Spin(b *testing.B) { benchmarkCall(b, "spin", 1_000_000) }

func BenchmarkCall_JSON(b *testing.B) { benchmarkCall(b, "jsonwork", 1) }

func BenchmarkCall_Noop(b *testing.B) { benchmarkCall(b, "noop") }
