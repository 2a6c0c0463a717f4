package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// `chatbridge audit -sbom FILE -vulndb DIR` writes the SBOM, fails on the
// fixture's record that hits gjson v1.14.3 and names its id; `audit -diff
// -json` reports the changed dependencies of two builds.
func TestAuditCommandWritesTheSBOMChecksVulnsAndDiffs(t *testing.T) {
	manifest := []byte("app: {id: \"ari:cloud:ecosystem::app/deps\"}\nmodules:\n  webtrigger: [{key: hook, function: main}]\n  function: [{key: main, handler: h}]\npermissions:\n  capabilities: [storage, log]\n")
	oldDir := bundletest.Write(t, manifest, bundletest.Module(t, "./host/audit/testdata/deps"))
	newDir := bundletest.Write(t, append(bytes.Replace(manifest, []byte("[storage, log]"), []byte("[storage, log, fetch]"), 1),
		[]byte("  external: {fetch: {backend: [{address: \"names.example.com:8443\"}]}}\n")...), bundletest.Module(t, "./host/audit/testdata/deps2"))
	trustDir := t.TempDir()
	named, err := bundletest.Key(t).Public().WithName("Acme Plugins")
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.WritePublicKeyFile(filepath.Join(trustDir, "acme.pub"), named); err != nil {
		t.Fatal(err)
	}
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	vulndb := filepath.Join(bundletest.RepoRoot(), "host", "audit", "testdata", "vulndb")
	var out, errOut bytes.Buffer
	err = runAudit([]string{"-trust", trustDir, "-sbom", sbom, "-vulndb", vulndb, oldDir}, &out, &errOut)
	if !errors.Is(err, errAuditFailed) || !strings.Contains(out.String(), "GO-TEST-0001") || !strings.Contains(out.String(), "Acme Plugins sha256:") {
		t.Fatalf("audit = %v:\n%s", err, out.String())
	}
	var doc struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct{ Name, Version string }
	}
	data, err := os.ReadFile(sbom)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.BOMFormat != "CycloneDX" || len(doc.Components) != 3 {
		t.Fatalf("SBOM %v: %s", err, data)
	}
	out.Reset()
	if err := runAudit([]string{"-trust", trustDir, "-vulndb", vulndb, newDir}, &out, &errOut); err != nil {
		t.Fatalf("the changed plugin has none of the fixture's vulnerabilities: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runAudit([]string{"-diff", "-json", oldDir, newDir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Capabilities struct{ Added []string }
		Deps         struct{ Added, Removed []struct{ Path string } }
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Capabilities.Added) != 1 || len(d.Deps.Added) != 1 || d.Deps.Added[0].Path != "gopkg.in/yaml.v3" || len(d.Deps.Removed) != 3 {
		t.Fatalf("diff %s", out.String())
	}
	if err := runAudit([]string{"-trust", trustDir, "-vulndb", t.TempDir(), oldDir}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "holds no OSV records") {
		t.Fatalf("an empty vulndb folder: %v", err)
	}
}
