// Command extism measures the table's host-call row: one echo export of
// the same input through ChatBridge's engine (bench/abiecho, fuel deadline
// checks on, as in production) and through Extism's Go SDK
// (bench/extismecho, Extism's ABI), both on wazero in this process.
//
// It is its own module so that Extism's SDK and what it pulls in
// (observe-sdk, protobuf, wabin) stay out of the product's go.mod.
//
// Usage: go run . -chatbridge abiecho.wasm -extism extismecho.wasm
// prints one line per runtime: "echo <name> <bytes> <ns/call> <allocs/call>".
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"

	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage"
)

// Echo calls one echo export with an input and returns its output.
type Echo func(ctx context.Context, in []byte) ([]byte, error)

// noStore is the storage behind capabilities the echo module never imports.
type noStore struct{}

func (noStore) Get(context.Context, string, storage.Keyspace, string) ([]byte, error) {
	return nil, storage.ErrNotFound
}
func (noStore) Set(context.Context, string, storage.Keyspace, string, []byte, time.Duration) error {
	return storage.ErrDenied
}
func (noStore) Delete(context.Context, string, storage.Keyspace, string) error { return nil }
func (noStore) Query(context.Context, string, storage.Keyspace, string, string, int) (storage.Page, error) {
	return storage.Page{}, nil
}
func (noStore) Purge(context.Context, string) error { return nil }
func (noStore) Close() error                        { return nil }

// grantsNothing is a manifest with no capability: the echo module needs none.
type grantsNothing struct{}

func (grantsNothing) HasCapability(string) bool        { return false }
func (grantsNothing) EgressAllowedAt(string, int) bool { return false }
func (grantsNothing) HasQueue(string) bool             { return false }
func (grantsNothing) HasScope(string) bool             { return false }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// ChatBridge compiles module in the host's engine with deadline mechanism d.
func ChatBridge(ctx context.Context, module []byte, d engine.Deadline) (Echo, func(), error) {
	eng, err := engine.New(ctx, module, engine.Config{Deadline: d, HostModules: func(ctx context.Context, r wazero.Runtime) error {
		return capability.Register(ctx, r, capability.Deps{Store: noStore{}, Logger: discard}, grantsNothing{})
	}})
	if err != nil {
		return nil, nil, err
	}
	call := func(ctx context.Context, in []byte) ([]byte, error) {
		c := &capability.Call{Installation: "bench", Input: in, Log: discard}
		if _, err := eng.Call(capability.WithCall(ctx, c), "bench", "echo", uint64(len(in))); err != nil {
			return nil, err
		}
		return c.Output, nil
	}
	return call, func() { _ = eng.Close(context.Background()) }, nil
}

// Extism compiles module with Extism's SDK, WASI on and real clocks and
// randomness, as the ChatBridge engine grants them to Go guests.
func Extism(ctx context.Context, module []byte) (Echo, func(), error) {
	cp, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: module}}}, extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		return nil, nil, err
	}
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: wazero.NewModuleConfig().
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)})
	if err != nil {
		_ = cp.Close(ctx)
		return nil, nil, err
	}
	call := func(ctx context.Context, in []byte) ([]byte, error) {
		rc, out, err := p.CallWithContext(ctx, "echo", in)
		if err == nil && rc != 0 {
			err = fmt.Errorf("extism: echo returned %d", rc)
		}
		return out, err
	}
	return call, func() { _ = p.Close(ctx); _ = cp.Close(ctx) }, nil
}

// Measure runs echo as a testing.B benchmark of input in (for -test.benchtime).
func Measure(echo Echo, in []byte) (testing.BenchmarkResult, error) {
	ctx := context.Background()
	var failed error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			out, err := echo(ctx, in)
			if err != nil || !bytes.Equal(out, in) {
				failed = errors.Join(err, errors.New("echo: output differs from input"))
				b.FailNow()
			}
		}
	})
	return res, failed
}

func main() {
	cb := flag.String("chatbridge", "", "bench/abiecho built for wasip1")
	ex := flag.String("extism", "", "bench/extismecho built for wasip1")
	size := flag.Int("bytes", 1024, "input size")
	benchtime := flag.Duration("benchtime", time.Second, "time per measurement")
	flag.Parse()
	if err := run(*cb, *ex, *size, *benchtime); err != nil {
		fmt.Fprintln(os.Stderr, "extism:", err)
		os.Exit(1)
	}
}

func run(cbPath, exPath string, size int, benchtime time.Duration) error {
	testing.Init()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		return err
	}
	ctx := context.Background()
	in := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	for _, r := range []struct {
		name string
		path string
		open func(context.Context, []byte) (Echo, func(), error)
	}{
		{"chatbridge", cbPath, func(ctx context.Context, m []byte) (Echo, func(), error) { return ChatBridge(ctx, m, engine.Fuel) }},
		{"chatbridge-unchecked", cbPath, func(ctx context.Context, m []byte) (Echo, func(), error) { return ChatBridge(ctx, m, engine.Unchecked) }},
		{"extism", exPath, Extism},
	} {
		module, err := os.ReadFile(r.path)
		if err != nil {
			return err
		}
		echo, closeFn, err := r.open(ctx, module)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		res, err := Measure(echo, in)
		closeFn()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		fmt.Printf("echo %s %d %d %d\n", r.name, size, res.NsPerOp(), res.AllocsPerOp())
	}
	return nil
}
