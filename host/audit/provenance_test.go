package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// `make wasm` in a clone of the repository stamps the commit into the
// plugin; the audit names that commit, the Go version and the flags, and
// the command it prints, run in another clone at another path, rebuilds
// plugin.wasm byte for byte. A build from a modified tree is said to be
// one no commit rebuilds.
func TestTheAuditNamesTheCommitAndItsCommandRebuildsThePluginByteForByte(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("the project's build needs make")
	}
	root := bundletest.RepoRoot()
	first := filepath.Join(t.TempDir(), "first")
	gitOut(t, root, "clone", "--quiet", "--no-hardlinks", root, first)
	commit := gitOut(t, first, "rev-parse", "HEAD")
	makeWasm := func() []byte {
		t.Helper()
		cmd := exec.Command("make", "wasm")
		cmd.Dir = first
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make wasm: %v\n%s", err, out)
		} else if !bytes.Contains(out, []byte("-buildvcs=true")) {
			t.Fatalf("make wasm in a clone does not stamp the commit:\n%s", out)
		}
		m, err := os.ReadFile(filepath.Join(first, "bin", "chatbridge.bundle", "plugin.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	module := makeWasm()
	b := buildInfo(module)
	if b == nil || b.Provenance == nil {
		t.Fatal("no build information")
	}
	p := b.Provenance
	if p.VCS != "git" || p.Commit != commit || p.Modified != "false" || p.CommitTime == Unknown {
		t.Fatalf("provenance %+v, want git commit %s unmodified", p, commit)
	}
	if b.GoVersion != runtime.Version() || !p.ByteForByte {
		t.Fatalf("go %s (want %s), byte for byte %v, caveats %v", b.GoVersion, runtime.Version(), p.ByteForByte, p.Caveats)
	}
	for _, want := range []string{"GOTOOLCHAIN=" + runtime.Version(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=true", "-buildmode=c-shared", "-trimpath", "-ldflags=-buildid=", "./plugin"} {
		if !strings.Contains(p.Reproduce, want) {
			t.Errorf("the command lacks %s: %s", want, p.Reproduce)
		}
	}
	second := filepath.Join(t.TempDir(), "second-with-a-longer-path")
	gitOut(t, root, "clone", "--quiet", "--no-hardlinks", root, second)
	cmd := exec.Command("sh", "-c", p.Reproduce)
	cmd.Dir = second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", p.Reproduce, err, out)
	}
	again, err := os.ReadFile(filepath.Join(second, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := sha256.Sum256(module), sha256.Sum256(again)
	if want != got {
		t.Fatalf("the printed command does not rebuild the module: %s vs %s\n%s", hex.EncodeToString(want[:]), hex.EncodeToString(got[:]), p.Reproduce)
	}
	t.Logf("commit %s, plugin.wasm sha256 %s from both clones", commit, hex.EncodeToString(want[:]))

	// An uncommitted change is stamped, and the audit says no commit rebuilds it.
	if err := os.WriteFile(filepath.Join(first, "plugin", "zz_uncommitted.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = buildInfo(makeWasm()).Provenance
	if p.Modified != "true" || p.ByteForByte || !strings.Contains(strings.Join(p.Caveats, "\n"), "uncommitted changes") {
		t.Fatalf("a modified tree: %+v", p)
	}
}

// A module built without a VCS stamp (as in a git worktree) says the commit
// is unknown, and its command builds with -buildvcs=false so that a rebuild
// in a git checkout does not add a stamp the original lacks.
func TestWithoutAVCSStampTheCommitIsUnknown(t *testing.T) {
	b := buildInfo(bundletest.Module(t, "./plugin/examples/probe"))
	p := b.Provenance
	if p.Commit != Unknown || p.Modified != Unknown || p.ByteForByte || !strings.Contains(p.Reproduce, "GOFLAGS=-buildvcs=false") ||
		!strings.Contains(strings.Join(p.Caveats, "\n"), "records no commit") {
		t.Fatalf("provenance %+v", p)
	}
	if b.GoVersion != runtime.Version() {
		t.Errorf("go %s, want %s (the producers section)", b.GoVersion, runtime.Version())
	}
	var text bytes.Buffer
	if err := (&Report{Build: b}).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`commit +unknown \(the module records no VCS stamp\)`, `reproduce +GOTOOLCHAIN=`, `reproducible +not proven byte for byte`} {
		if !regexp.MustCompile(want).MatchString(text.String()) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// A build setting is the vendor's text: in the printed command it stays one
// shell word, whatever it holds.
func TestTheReproduceCommandQuotesHostileSettings(t *testing.T) {
	for _, s := range []string{"$(touch pwned)", "a b", "it's", "`id`", "x;y", "plain-1.2_3"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) = %s: the shell read %q (%v)", s, shellQuote(s), out, err)
		}
	}
	b := &Build{GoVersion: "go1.26.8", Path: "example.com/p", Main: Dependency{Path: "example.com/p"}}
	p := provenance(b, [][2]string{{"-tags", "$(touch pwned)"}, {"GOOS", "wasip1"}}, nil)
	if !strings.Contains(p.Reproduce, "-tags='$(touch pwned)'") {
		t.Errorf("command %s", p.Reproduce)
	}
}
