package fuel_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

var (
	// guestWasm is the Go wasip1 reactor built from testdata/guest.
	guestWasm []byte
	// compilationCache is shared by every runtime in this test binary, so
	// that the guest compiles once per variant.
	compilationCache wazero.CompilationCache
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fuel-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if guestWasm, err = buildGuest(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	compilationCache, err = wazero.NewCompilationCacheWithDir(filepath.Join(dir, "cache"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer compilationCache.Close(context.Background())
	return m.Run()
}

func buildGuest(dir string) ([]byte, error) {
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the guest: %w\n%s", err, msg)
	}
	return os.ReadFile(out)
}

// exitDeadline is the exit code the test hosts' yield ends a call with once
// its context is done, like timeout(1).
const exitDeadline = 124

// newRuntime returns a runtime with WASI and, when quantum is not zero, the
// fuel import. The import counts its calls in yields and ends the call when
// the call's context is done, as proc_exit does.
func newRuntime(tb testing.TB, cfg wazero.RuntimeConfig, quantum uint32, yields *atomic.Int64) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, cfg.WithCompilationCache(compilationCache))
	tb.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if quantum != 0 {
		yield := func(ctx context.Context, mod api.Module, stack []uint64) {
			if yields != nil {
				yields.Add(1)
			}
			if ctx.Err() != nil {
				_ = mod.CloseWithExitCode(ctx, exitDeadline)
				panic(sys.NewExitError(exitDeadline))
			}
			stack[0] = api.EncodeU32(quantum)
		}
		_, err := r.NewHostModuleBuilder(fuel.ImportModule).
			NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(yield), nil, []api.ValueType{api.ValueTypeI32}).
			Export(fuel.ImportName).
			Instantiate(ctx)
		if err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// newGuest compiles wasm (a Go reactor) and returns a fresh instance with
// real clocks and randomness, _initialize already run.
func newGuest(tb testing.TB, r wazero.Runtime, wasm []byte) api.Module {
	tb.Helper()
	ctx := context.Background()
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithSysNanotime().
		WithSysWalltime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	return mod
}
