package bundletest

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle"
)

var (
	mu     sync.Mutex // guards built and dir
	built  = map[string][]byte{}
	dir    string
	keyMu  sync.Mutex
	vendor *bundle.PrivateKey
)

// RepoRoot returns the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Module builds the main package at pkg (relative to the repository root,
// e.g. "./plugin/examples/probe") as a wasip1 reactor and returns its bytes.
func Module(tb testing.TB, pkg string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[pkg]; ok {
		return b
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "chatbridge-testbundle-")
		if err != nil {
			tb.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, fmt.Sprintf("m%d.wasm", len(built)))
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[pkg] = b
	return b
}

// Cleanup removes the built modules; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
		dir = ""
	}
}

// Main runs a package's tests with a fresh folder for the engine's compile
// cache in *cacheDir, and removes it and the built modules afterwards:
// call it as os.Exit(bundletest.Main(m, &cacheDir)) from TestMain.
func Main(m *testing.M, cacheDir *string) int {
	d, err := os.MkdirTemp("", "chatbridge-test-cache-")
	if err != nil {
		panic(err)
	}
	*cacheDir = d
	code := m.Run()
	Cleanup()
	_ = os.RemoveAll(d)
	return code
}

// Key returns the test vendor key, the same for the whole process.
func Key(tb testing.TB) *bundle.PrivateKey {
	tb.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if vendor == nil {
		k, err := bundle.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		vendor = k
	}
	return vendor
}

// Trust trusts only the test vendor key.
func Trust(tb testing.TB) *bundle.Trust {
	return bundle.NewTrust([]*bundle.PublicKey{Key(tb).Public()}, nil)
}

// Write writes manifest and module into a new bundle directory under
// tb.TempDir() and signs it with the test vendor key.
func Write(tb testing.TB, manifest, module []byte) string {
	tb.Helper()
	d := filepath.Join(tb.TempDir(), "bundle")
	if err := os.MkdirAll(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "manifest.yml"), manifest, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "plugin.wasm"), module, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := bundle.Sign(d, Key(tb)); err != nil {
		tb.Fatal(err)
	}
	return d
}

// Probe returns a signed bundle of the probe example plugin, with its own
// manifest or, if manifest is non-nil, that one.
func Probe(tb testing.TB, manifest []byte) string {
	tb.Helper()
	if manifest == nil {
		m, err := os.ReadFile(filepath.Join(RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
		if err != nil {
			tb.Fatal(err)
		}
		manifest = m
	}
	return Write(tb, manifest, Module(tb, "./plugin/examples/probe"))
}
