package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/host/engine"
)

// build compiles a plugin of the main module for wasip1.
func build(t *testing.T, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Both echo plugins return their input unchanged, whatever its length
// (including lengths that are not a multiple of the 8-byte loads).
func TestBothEchoPluginsReturnTheirInput(t *testing.T) {
	ctx := context.Background()
	cb, closeCB, err := ChatBridge(ctx, build(t, "./bench/abiecho"), engine.Fuel)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCB()
	ex, closeEx, err := Extism(ctx, build(t, "./bench/extismecho"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeEx()
	for _, n := range []int{1, 7, 8, 1024, 1029, 64 << 10} {
		in := bytes.Repeat([]byte{byte(n)}, n)
		in[0] = 'x'
		for name, echo := range map[string]Echo{"chatbridge": cb, "extism": ex} {
			out, err := echo(ctx, in)
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", name, n, err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("%s, %d bytes: output differs from input (%d bytes back)", name, n, len(out))
			}
		}
	}
}
