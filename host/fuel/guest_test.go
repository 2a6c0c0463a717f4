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

// slowCompileUnderRace explains why the race detector run leaves out
// wazero's compiler for the Go guest: compiling it takes 20-60 s there
// instead of 1.5 s, and the code under test (Rewrite, the test hosts) runs
// the same on either engine. Runs without -race use the compiler.
const slowCompileUnderRace = "wazero's compiler takes 20-60 s on the Go guest under the race detector"

// guestEngine is the compiler, as in production, except under the race
// detector.
func guestEngine() wazero.RuntimeConfig {
	if raceEnabled {
		return wazero.NewRuntimeConfigInterpreter()
	}
	return wazero.NewRuntimeConfigCompiler()
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
		{"original/compiler", guestWasm, wazero.NewRuntimeConfigCompiler(), false, raceEnabled},
		{"fuel/interpreter", rewritten, wazero.NewRuntimeConfigInterpreter(), true, false},
		{"fuel/compiler", rewritten, wazero.NewRuntimeConfigCompiler(), true, raceEnabled},
	}
	var want [][]uint64
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if v.skipIf {
				t.Skip(slowCompileUnderRace)
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
	// 200 ms: long enough that scheduler noise on a shared 2-core machine
	// is small beside the 25% allowed, short enough to keep the test quick.
	const deadline = 200 * time.Millisecond
	rewritten := rewrittenGuest(t)
	// The host chooses each next quantum. The race-instrumented
	// interpreter runs about 100x slower than compiled code, so it gets a
	// smaller one to keep about the same time between yields.
	quantum := uint32(fuel.DefaultQuantum)
	if raceEnabled {
		quantum = 100
	}
	r := newRuntime(t, guestEngine(), quantum, nil)
	var took []time.Duration
	for run := range 3 {
		mod := newGuest(t, r, rewritten) // a stopped instance is closed: one per run
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		_, err := mod.ExportedFunction("forever").Call(ctx)
		elapsed := time.Since(start)
		cancel()
		var exit *sys.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitDeadline {
			t.Fatalf("run %d: forever() = %v, want exit code %d", run, err, exitDeadline)
		}
		if _, err := mod.ExportedFunction("spin").Call(t.Context(), 1); err == nil {
			t.Errorf("run %d: a stopped instance still accepts calls", run)
		}
		took = append(took, elapsed)
	}
	// The median forgives one scheduling hiccup on a shared machine; a
	// guest that fuel does not stop never returns at all.
	slices.Sort(took)
	t.Logf("forever() stopped after %v", took)
	if took[1] > deadline*5/4 {
		t.Errorf("forever() stopped after a median of %v, want within 1.25x of %v", took[1], deadline)
	}
}

func TestRewrite_HostGarbageCollectionCompletesWhileGoGuestSpins(t *testing.T) {
	rewritten := rewrittenGuest(t)
	r := newRuntime(t, guestEngine(), fuel.DefaultQuantum, nil)
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
