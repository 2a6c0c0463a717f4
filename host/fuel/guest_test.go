package fuel_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// The Go guest rewritten with the default quantum; every test here uses the
// same bytes so that the compilation cache compiles it once.
func rewrittenGuest(tb testing.TB) []byte {
	tb.Helper()
	out, err := fuel.Rewrite(guestWasm, fuel.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestRewrite_GoGuestGivesTheSameResults(t *testing.T) {
	calls := []struct {
		export string
		arg    uint64
	}{
		{"spin", 0},
		{"spin", 1},
		{"spin", 100_000},
		{"jsonwork", 1},
		{"jsonwork", 5},
		{"callindirect", 0},
		{"callindirect", 1000},
	}
	rewritten := rewrittenGuest(t)
	variants := []struct {
		name   string
		wasm   []byte
		cfg    wazero.RuntimeConfig
		fuel   bool
		skipIf bool
	}{
		{"original/interpreter", guestWasm, wazero.NewRuntimeConfigInterpreter(), false, false},
		// The compiler takes about 20 s for this guest under the race
		// detector; the rewritten variant below still runs compiled.
		{"original/compiler", guestWasm, wazero.NewRuntimeConfigCompiler(), false, raceEnabled},
		{"fuel/interpreter", rewritten, wazero.NewRuntimeConfigInterpreter(), true, false},
		{"fuel/compiler", rewritten, wazero.NewRuntimeConfigCompiler(), true, false},
	}
	var want [][]uint64
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if v.skipIf {
				t.Skip("skipped under the race detector: compiling takes too long")
			}
			var yields atomic.Int64
			// The host hands out a tiny quantum so that the yield path runs
			// often inside every export.
			quantum := uint32(0)
			if v.fuel {
				quantum = 7
			}
			r := newRuntime(t, v.cfg, quantum, &yields)
			mod := newGuest(t, r, v.wasm)
			var got [][]uint64
			for _, c := range calls {
				res, err := mod.ExportedFunction(c.export).Call(t.Context(), c.arg)
				if err != nil {
					t.Fatalf("%s(%d): %v", c.export, c.arg, err)
				}
				got = append(got, res)
			}
			if want == nil {
				want = got
			}
			for i, c := range calls {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("%s(%d) = %v, want %v (from %s)", c.export, c.arg, got[i], want[i], variants[0].name)
				}
			}
			if v.fuel && yields.Load() < 100 {
				t.Errorf("yield called %d times with a quantum of 7, want many", yields.Load())
			}
		})
	}
}

func TestRewrite_GoGuestStopsAtTheDeadline(t *testing.T) {
	const deadline = 50 * time.Millisecond
	rewritten := rewrittenGuest(t)
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler(), fuel.DefaultQuantum, nil)
	for run := range 3 {
		mod := newGuest(t, r, rewritten) // a stopped instance is closed: one per run
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		start := time.Now()
		_, err := mod.ExportedFunction("forever").Call(ctx)
		elapsed := time.Since(start)
		cancel()
		var exit *sys.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitDeadline {
			t.Fatalf("run %d: forever() = %v, want exit code %d", run, err, exitDeadline)
		}
		t.Logf("run %d: stopped after %v", run, elapsed)
		if elapsed > deadline*5/4 {
			t.Errorf("run %d: stopped after %v, want within 1.25x of %v", run, elapsed, deadline)
		}
		if _, err := mod.ExportedFunction("spin").Call(t.Context(), 1); err == nil {
			t.Errorf("run %d: a stopped instance still accepts calls", run)
		}
	}
}

func TestRewrite_HostGarbageCollectionCompletesWhileGoGuestSpins(t *testing.T) {
	rewritten := rewrittenGuest(t)
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler(), fuel.DefaultQuantum, nil)
	mod := newGuest(t, r, rewritten)
	forever := mod.ExportedFunction("forever")

	start := time.Now()
	runtime.GC()
	t.Logf("runtime.GC() took %v with no guest running", time.Since(start))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := forever.Call(ctx)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the guest get into its loop

	gcDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		runtime.GC()
		gcDone <- time.Since(start)
	}()
	select {
	case took := <-gcDone:
		t.Logf("runtime.GC() took %v while the guest spun", took)
	case <-time.After(10 * time.Second):
		t.Fatal("runtime.GC() did not complete within 10s while the guest spun")
	}
	select {
	case err := <-done:
		t.Fatalf("forever() returned before it was cancelled: %v", err)
	default:
	}

	cancel()
	select {
	case err := <-done:
		var exit *sys.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitDeadline {
			t.Fatalf("forever() = %v, want exit code %d", err, exitDeadline)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("forever() did not stop within 5s of its context being cancelled")
	}
}
