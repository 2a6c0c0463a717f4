package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/host/audit"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// The bridge plugin with its manifest passes the audit's egress and
// capability checks: every https host the module names is declared. (The
// bundle is unsigned here; make bundle signs it.)
func TestBridgePluginPassesTheEgressAudit(t *testing.T) {
	dir := t.TempDir()
	manifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), bundletest.Module(t, "./plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Run(context.Background(), dir, bundle.NewTrust(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Severity == audit.Fail && f.Check != "signature" {
			t.Errorf("%s: %s", f.Check, f.Message)
		}
	}
	for _, host := range []string{"api.telegram.org", "chatapi.viber.com", "graph.facebook.com"} {
		found := false
		for _, h := range r.EgressUsed {
			found = found || h == host
		}
		if !found {
			t.Errorf("the module does not name %s (egress used: %v)", host, r.EgressUsed)
		}
	}
}
