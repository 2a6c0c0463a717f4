package chatbridge_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginBuildIsReproducible builds the plugin from two copies of the
// tracked sources in different directories, as two vendors' machines would,
// and requires byte-identical modules.
func TestPluginBuildIsReproducible(t *testing.T) {
	files, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var sums []string
	// The second build gets a build cache of its own, so it shares nothing
	// with the first but the sources and the toolchain.
	for i, name := range []string{"first", "second-with-a-longer-path"} {
		dir := filepath.Join(t.TempDir(), name)
		for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(dir, "plugin.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-buildid=", "-o", out, "./plugin")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false")
		if i == 1 {
			cmd.Env = append(cmd.Env, "GOCACHE="+filepath.Join(t.TempDir(), "gocache"))
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build in %s: %v\n%s", dir, err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("mod\tgithub.com/chatbridge/chatbridge")) || !bytes.Contains(b, []byte("go1.")) {
			t.Fatal("the module does not record its build information")
		}
		sum := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(sum[:]))
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds of the same source differ: %s vs %s", sums[0], sums[1])
	}
	t.Logf("plugin.wasm sha256 %s in both builds", sums[0])
}
