package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/wit/abi"
)

var mechanisms = []engine.Deadline{engine.Unchecked, engine.Fuel, engine.CloseOnContextDone}

// BenchmarkInstance_Acquire measures a fresh instance: instantiate, run
// _initialize and init, then the empty export. MaxInstances 1 with reset
// off makes every iteration evict the last instance and build a new one.
func BenchmarkInstance_Acquire(b *testing.B) {
	f := newFixture(b, nil, engine.Config{MaxInstances: 1, NoReset: true})
	eng := f.host.Engine()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := eng.Call(ctx, fmt.Sprint("k", i), "noop"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstance_Reset measures handing an instance to another
// installation: restore the post-initialisation snapshot, run init, then
// the empty export. One instance, two installations taking turns.
func BenchmarkInstance_Reset(b *testing.B) {
	f := newFixture(b, nil, engine.Config{MaxInstances: 1})
	eng := f.host.Engine()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := eng.Call(ctx, fmt.Sprint("k", i%2), "noop"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if eng.Stats().Resets.Load() == 0 {
		b.Fatal("no resets")
	}
}

// BenchmarkCall_Empty measures the bare cost of calling an export on a warm instance.
func BenchmarkCall_Empty(b *testing.B) {
	for _, m := range mechanisms {
		b.Run(m.String(), func(b *testing.B) {
			f := newFixture(b, nil, engine.Config{Deadline: m})
			eng := f.host.Engine()
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			if _, err := eng.Call(ctx, "k", "noop"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := eng.Call(ctx, "k", "noop"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCall_JSON1KB measures a web trigger whose module decodes a 1 KB
// JSON request and encodes a JSON answer of the same size: the boundary,
// the guest's JSON, and the host's bookkeeping together.
func BenchmarkCall_JSON1KB(b *testing.B) {
	for _, m := range mechanisms {
		b.Run(m.String(), func(b *testing.B) {
			f := newFixture(b, nil, engine.Config{Deadline: m})
			in := f.install(b, "https://example.atlassian.net")
			body, _ := json.Marshal(map[string]any{"op": "echo", "value": strings.Repeat("x", 1000)})
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for b.Loop() {
				resp, err := webtrigger.Invoke(ctx, f.host, in.ID, "probe", &abi.WebTriggerRequest{Method: "POST", Body: body})
				if err != nil || resp.Status != 200 {
					b.Fatal(resp, err)
				}
			}
		})
	}
}
