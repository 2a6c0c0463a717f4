package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage"
)

// noStore backs capabilities the echo module never imports.
type noStore struct{ storage.Store }

// grantsNothing is a manifest with no capability: the echo module needs none.
type grantsNothing struct{}

func (grantsNothing) HasCapability(string) bool        { return false }
func (grantsNothing) EgressAllowedAt(string, int) bool { return false }
func (grantsNothing) HasQueue(string) bool             { return false }
func (grantsNothing) HasScope(string) bool             { return false }

// The table's echo plugin returns its input through the host's engine, with
// fuel checks, for every length the Extism comparison uses and more (its
// Extism twin is tested in bench/extism, a module of its own).
func TestEchoReturnsItsInputThroughTheEngine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "echo.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(ctx, module, engine.Config{HostModules: func(ctx context.Context, r wazero.Runtime) error {
		return capability.Register(ctx, r, capability.Deps{Store: noStore{}, Logger: log}, grantsNothing{})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	for _, n := range []int{0, 1, 1024, 1029, 64 << 10, 100} {
		in := bytes.Repeat([]byte{byte(n)}, n)
		c := &capability.Call{Installation: "bench", Input: in, Log: log}
		if _, err := eng.Call(capability.WithCall(ctx, c), "bench", "echo", uint64(n)); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(c.Output, in) {
			t.Fatalf("%d bytes in, %d bytes back, or different bytes", n, len(c.Output))
		}
	}
}
