package hosttest_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/hosttest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// scaffold writes the plugin `chatbridge new` writes for a vendor into a
// temporary folder, its SDK this checkout, and returns the folder.
func scaffold(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command("go", "run", "./host/cmd/chatbridge", "new", "-name", "hello", "-sdk", bundletest.RepoRoot(), dir)
	cmd.Dir = bundletest.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chatbridge new: %v\n%s", err, out)
	}
	return dir
}

type counters struct{ Hits, Worked, Ticks int }

func get(t *testing.T, p *hosttest.Plugin, method string) counters {
	t.Helper()
	resp, err := p.WebTrigger("counter", &abi.WebTriggerRequest{Method: method, Path: "/"})
	if err != nil || resp.Status != 200 {
		t.Fatalf("%s: %+v %v", method, resp, err)
	}
	var c counters
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatalf("%s answered %q: %v", method, resp.Body, err)
	}
	return c
}

// The scaffolded plugin, built to wasm and run by the real host: its web
// trigger counts in storage and queues work, the host's queue delivers the
// work to its consumer, a push from the test does too, and its scheduled
// trigger fires on demand. It needs no Jira site, no listener and no key.
func TestTheScaffoldedPluginRunsInTheHost(t *testing.T) {
	p := hosttest.Start(t, scaffold(t), hosttest.Options{})
	if p.Installation.SiteURL != "" {
		t.Fatalf("installed on site %q", p.Installation.SiteURL)
	}
	for range 2 {
		get(t, p, "POST")
	}
	p.Settle()
	if c := get(t, p, "GET"); c != (counters{Hits: 2, Worked: 2}) {
		t.Fatalf("after two hits and their work: %+v", c)
	}
	if err := p.Push("work", "test", []byte("1")); err != nil {
		t.Fatal(err)
	}
	p.Settle()
	if err := p.Fire("tick"); err != nil {
		t.Fatal(err)
	}
	if c := get(t, p, "GET"); c != (counters{Hits: 2, Worked: 3, Ticks: 1}) {
		t.Fatalf("after a pushed item and a tick: %+v", c)
	}
	// What the manifest does not declare is refused as the host refuses it.
	if err := p.Push("other", "test", nil); err == nil || !strings.Contains(err.Error(), `no consumer of queue "other"`) {
		t.Fatalf("push to an undeclared queue: %v", err)
	}
	if err := p.Fire("nightly"); !errors.Is(err, host.ErrNoTrigger) {
		t.Fatalf("an undeclared scheduled trigger: %v", err)
	}
	resp, err := p.WebTrigger("counter", &abi.WebTriggerRequest{Method: "DELETE", Path: "/"})
	if err != nil || resp.Status != 405 {
		t.Fatalf("DELETE: %+v %v", resp, err)
	}
	if _, err := p.WebTrigger("nope", &abi.WebTriggerRequest{Method: "GET", Path: "/"}); !errors.Is(err, host.ErrNoTrigger) {
		t.Fatalf("an undeclared web trigger: %v", err)
	}
}

// A module importing a capability its manifest does not list is refused
// at load, as `chatbridge serve` refuses it: Build and the host's Load see
// the same bundle.
func TestAnUndeclaredCapabilityFailsTheLoad(t *testing.T) {
	dir := scaffold(t)
	m, err := os.ReadFile(filepath.Join(dir, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	narrowed := strings.Replace(string(m), "capabilities: [storage, queue, log]", "capabilities: [storage, log]", 1)
	if narrowed == string(m) {
		t.Fatal("the scaffold's manifest changed: update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), []byte(narrowed), 0o644); err != nil {
		t.Fatal(err)
	}
	bundleDir, trust := hosttest.Build(t, dir)
	h := hosttest.NewHost(t, trust, hosttest.Options{})
	if err := h.Load(t.Context(), bundleDir); err == nil || !strings.Contains(err.Error(), "queue") {
		t.Fatalf("load: %v, want a refusal naming queue", err)
	}
}
