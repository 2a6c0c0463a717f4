package host_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
)

// Every trigger of one product event runs on the bundle that was running
// when the event arrived: a reload in between neither splits the event
// across two bundles nor closes the held one under it.
func TestAHeldBundleOutlivesAReloadUntilReleased(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")
	ctx := context.Background()

	held, err := f.host.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	oldManifest, oldEngine := held.Manifest(), f.host.Engine()

	m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := bytes.Replace(m, []byte("name: ChatBridge probe"), []byte("name: ChatBridge probe, reloaded"), 1)
	if err := f.host.Load(ctx, bundletest.Probe(t, renamed)); err != nil {
		t.Fatal(err)
	}
	if f.host.Engine() == oldEngine || f.host.Bundle().Manifest.App.Name != "ChatBridge probe, reloaded" {
		t.Fatal("the reload did not take effect for new invocations")
	}
	if held.Manifest() != oldManifest {
		t.Fatal("the held bundle's manifest changed under it")
	}
	before := oldEngine.Stats().Calls.Load()
	if err := jiraevent.DeliverOn(ctx, held, f.host, in.ID, "avi:jira:commented:issue", []byte(`{}`)); err != nil {
		t.Fatalf("an event on the held bundle after a reload: %v", err)
	}
	if got := oldEngine.Stats().Calls.Load(); got != before+1 {
		t.Fatalf("the held bundle's engine ran %d calls, want 1", got-before)
	}
	held.Release()
	held.Release() // a second release does nothing
}
