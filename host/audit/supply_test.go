package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// depsManifest is a manifest for the deps and deps2 test plugins; extra is
// appended under permissions.
func depsManifest(memoryMiB string, capabilities string, extra string) []byte {
	return []byte(`app:
  id: "ari:cloud:ecosystem::app/deps"
  runtime: {memoryMiB: ` + memoryMiB + `}
modules:
  webtrigger: [{key: hook, function: main}]
  function: [{key: main, handler: h}]
permissions:
  capabilities: [` + capabilities + `]
` + extra)
}

func depsBundle(t *testing.T) string {
	return bundletest.Write(t, depsManifest("64", "storage, log", ""), bundletest.Module(t, "./host/audit/testdata/deps"))
}

func deps2Bundle(t *testing.T) string {
	return bundletest.Write(t, depsManifest("128", "storage, log, fetch", "  external: {fetch: {backend: [{address: \"names.example.com:8443\"}]}}\n"),
		bundletest.Module(t, "./host/audit/testdata/deps2"))
}

func run(t *testing.T, dir string) *Report {
	t.Helper()
	r, err := Run(context.Background(), dir, bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// listModules is what the go command says pkg is built from under
// GOOS=wasip1: every module but the main one, as "path version".
func listModules(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", pkg)
	cmd.Dir = bundletest.RepoRoot()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	var mods []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !seen[l] {
			seen[l] = true
			mods = append(mods, l)
		}
	}
	return mods
}

// The SBOM is CycloneDX 1.5 with the fields its schema requires, names the
// plugin (main module, plugin.wasm's SHA-256) and lists every module the go
// command says the plugin is built from, each with version and go.sum hash:
// for the bridge plugin and for a test plugin with dependencies.
func TestTheSBOMListsTheMainModuleAndEveryDependency(t *testing.T) {
	bridgeManifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pkg, dir string
		minDeps  int
	}{
		{"./plugin", bundletest.Write(t, bridgeManifest, bundletest.Module(t, "./plugin")), 0},
		{"./host/audit/testdata/deps", depsBundle(t), 3},
	} {
		t.Run(c.pkg, func(t *testing.T) {
			r := run(t, c.dir)
			bom, err := r.SBOM()
			if err != nil {
				t.Fatal(err)
			}
			data, err := bom.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if doc["bomFormat"] != "CycloneDX" || doc["specVersion"] != "1.5" || doc["version"] != float64(1) {
				t.Fatalf("not a CycloneDX 1.5 document: %v %v %v", doc["bomFormat"], doc["specVersion"], doc["version"])
			}
			meta, _ := doc["metadata"].(map[string]any)
			main, _ := meta["component"].(map[string]any)
			if main["type"] != "application" || main["name"] != "github.com/chatbridge/chatbridge" || !strings.HasPrefix(main["purl"].(string), "pkg:golang/github.com/chatbridge/chatbridge@") {
				t.Errorf("metadata.component: %v", main)
			}
			if hashes, _ := main["hashes"].([]any); len(hashes) != 1 || hashes[0].(map[string]any)["content"] != r.ModuleSHA256 {
				t.Errorf("the plugin's hash is not plugin.wasm's SHA-256: %v", main["hashes"])
			}
			refs := map[string]bool{main["bom-ref"].(string): true}
			listed := map[string]bool{}
			comps, _ := doc["components"].([]any)
			for _, x := range comps {
				comp := x.(map[string]any)
				for _, field := range []string{"type", "name", "version", "purl", "bom-ref"} {
					if s, _ := comp[field].(string); s == "" {
						t.Errorf("component %v lacks %s", comp["name"], field)
					}
				}
				ref := comp["bom-ref"].(string)
				if refs[ref] {
					t.Errorf("bom-ref %s twice", ref)
				}
				refs[ref] = true
				sum := ""
				props, _ := comp["properties"].([]any)
				for _, p := range props {
					if p.(map[string]any)["name"] == propModuleSum {
						sum, _ = p.(map[string]any)["value"].(string)
					}
				}
				if !strings.HasPrefix(sum, "h1:") {
					t.Errorf("component %v has no go.sum hash: %v", comp["name"], props)
				}
				listed[comp["name"].(string)+" "+comp["version"].(string)] = true
			}
			mods := listModules(t, c.pkg)
			if len(mods) < c.minDeps || len(comps) != len(mods) {
				t.Errorf("SBOM lists %d modules, go list %d: %v", len(comps), len(mods), mods)
			}
			for _, m := range mods {
				if !listed[m] {
					t.Errorf("the SBOM lacks %s", m)
				}
			}
			deps, _ := doc["dependencies"].([]any)
			for _, x := range deps {
				d := x.(map[string]any)
				if !refs[d["ref"].(string)] {
					t.Errorf("dependencies names an unknown ref %v", d["ref"])
				}
				for _, on := range d["dependsOn"].([]any) {
					if !refs[on.(string)] {
						t.Errorf("dependsOn names an unknown ref %v", on)
					}
				}
			}
			again, _ := bom.Marshal()
			if !bytes.Equal(data, again) {
				t.Error("the SBOM of one bundle differs between runs")
			}
		})
	}
}

// A dependency inside an OSV record's affected range fails the audit with
// the record's id; records for other versions, other modules, other
// ecosystems and withdrawn ones do not.
func TestAVulnerableDependencyFailsTheAuditWithItsOSVId(t *testing.T) {
	db, err := LoadVulnDB(filepath.Join("testdata", "vulndb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Records) != 5 || db.Newest != "2026-11-01T00:00:00Z" {
		t.Fatalf("loaded %d records, newest %s", len(db.Records), db.Newest)
	}
	r := run(t, depsBundle(t))
	r.CheckVulns(db)
	if len(r.Vulns) != 1 || r.Vulns[0].ID != "GO-TEST-0001" || r.Vulns[0].Version != "v1.14.3" || r.Vulns[0].Fixed != "1.14.4" {
		t.Fatalf("vulns %+v", r.Vulns)
	}
	if !r.Failed() || !hasFinding(r, Fail, "github.com/tidwall/gjson v1.14.3 is affected by GO-TEST-0001 (CVE-0000-0001), fixed in 1.14.4") {
		t.Fatalf("findings %+v", r.Findings)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "vulnerabilities  1 found in testdata/vulndb (5 OSV records") {
		t.Errorf("text report:\n%s", text.String())
	}
	// The same database passes a plugin none of its records hits.
	r = run(t, deps2Bundle(t))
	r.CheckVulns(db)
	for _, f := range r.Findings {
		if f.Check == "vulns" {
			t.Errorf("deps2 (no gjson): %+v", f)
		}
	}
}

func TestLoadVulnDBRefusesAFolderItCannotTrust(t *testing.T) {
	empty := t.TempDir()
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, "x.json"), []byte(`{"summary": "no id"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "x.json"), []byte(`{"id": `), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ dir, want string }{
		"a folder without records": {empty, "holds no OSV records"},
		"a record without an id":   {junk, "no id"},
		"a file that is not JSON":  {broken, "is not an OSV record"},
		"a folder that is missing": {filepath.Join(empty, "nope"), "no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadVulnDB(c.dir); !errors.Is(err, ErrVulnDB) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadVulnDB = %v, want ErrVulnDB mentioning %q", err, c.want)
			}
		})
	}
}

func TestAffectsFollowsTheOSVRangeRules(t *testing.T) {
	rng := func(typ string, events ...[2]string) OSVAffected {
		var a OSVAffected
		r := OSVRange{Type: typ}
		for _, e := range events {
			var ev struct {
				Introduced   string `json:"introduced,omitempty"`
				Fixed        string `json:"fixed,omitempty"`
				LastAffected string `json:"last_affected,omitempty"`
				Limit        string `json:"limit,omitempty"`
			}
			switch e[0] {
			case "introduced":
				ev.Introduced = e[1]
			case "fixed":
				ev.Fixed = e[1]
			case "last_affected":
				ev.LastAffected = e[1]
			case "limit":
				ev.Limit = e[1]
			}
			r.Events = append(r.Events, ev)
		}
		a.Ranges = []OSVRange{r}
		return a
	}
	intro := func(v string) [2]string { return [2]string{"introduced", v} }
	fixed := func(v string) [2]string { return [2]string{"fixed", v} }
	last := func(v string) [2]string { return [2]string{"last_affected", v} }
	cases := []struct {
		name    string
		a       OSVAffected
		version string
		want    bool
	}{
		{"inside introduced..fixed", rng("SEMVER", intro("1.2.0"), fixed("1.4.0")), "v1.3.9", true},
		{"at introduced", rng("SEMVER", intro("1.2.0"), fixed("1.4.0")), "v1.2.0", true},
		{"at fixed", rng("SEMVER", intro("1.2.0"), fixed("1.4.0")), "v1.4.0", false},
		{"before introduced", rng("SEMVER", intro("1.2.0"), fixed("1.4.0")), "v1.1.9", false},
		{"second range after a fix", rng("SEMVER", intro("0"), fixed("1.0.0"), intro("2.0.0"), fixed("2.1.0")), "v2.0.5", true},
		{"between two ranges", rng("SEMVER", intro("0"), fixed("1.0.0"), intro("2.0.0"), fixed("2.1.0")), "v1.5.0", false},
		{"at last_affected", rng("SEMVER", intro("0"), last("1.4.0")), "v1.4.0", true},
		{"after last_affected", rng("SEMVER", intro("0"), last("1.4.0")), "v1.4.1", false},
		{"a pre-release before its fix", rng("SEMVER", intro("0"), fixed("1.4.0")), "v1.4.0-rc.1", true},
		{"a pseudo-version before the fix", rng("SEMVER", intro("0"), fixed("0.1.0")), "v0.0.0-20260803160001-6ac0973c030d", true},
		{"a GIT range is not read", rng("GIT", intro("0")), "v1.0.0", false},
		{"events out of order", rng("SEMVER", fixed("1.4.0"), intro("1.2.0")), "v1.3.0", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := affects(c.a, c.version); got != c.want {
				t.Fatalf("affects(%s) = %v, want %v", c.version, got, c.want)
			}
		})
	}
}

// `audit -diff` of two real builds that differ in a dependency, a
// capability, egress and memory lists exactly those changes.
func TestDiffOfTwoRealBuildsListsWhatChanged(t *testing.T) {
	d := Compare(run(t, depsBundle(t)), run(t, deps2Bundle(t)))
	if got := d.Capabilities; len(got.Added) != 1 || got.Added[0] != "fetch" || len(got.Removed) != 0 {
		t.Errorf("capabilities %+v", got)
	}
	if got := d.Egress; len(got.Added) != 1 || got.Added[0] != "names.example.com:8443" {
		t.Errorf("egress %+v", got)
	}
	if !strings.Contains(strings.Join(d.Imports.Added, ","), "fetch.fetch") {
		t.Errorf("imports %+v", d.Imports)
	}
	var added, removed []string
	for _, dep := range d.Deps.Added {
		added = append(added, dep.Path)
	}
	for _, dep := range d.Deps.Removed {
		removed = append(removed, dep.Path)
	}
	if strings.Join(added, ",") != "gopkg.in/yaml.v3" || strings.Join(removed, ",") != "github.com/tidwall/gjson,github.com/tidwall/match,github.com/tidwall/pretty" {
		t.Errorf("dependencies added %v removed %v", added, removed)
	}
	if len(d.Memory) == 0 || d.Memory[0] != (Change{"memoryMiB", "64", "128"}) {
		t.Errorf("memory %+v", d.Memory)
	}
	if len(d.Exports.Added)+len(d.Exports.Removed)+len(d.Scopes.Added)+len(d.Scopes.Removed) != 0 || d.Empty() {
		t.Errorf("exports %+v scopes %+v", d.Exports, d.Scopes)
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"capabilities  + fetch", "egress        + names.example.com:8443", "dependency    + gopkg.in/yaml.v3 v3.0.1 h1:", "dependency    - github.com/tidwall/gjson v1.14.3", "memory        ~ memoryMiB 64 -> 128", "unchanged     links, links used, scopes, exports"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, text.String())
		}
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatal(err)
	}
	// A bundle against itself: nothing changed.
	dir := depsBundle(t)
	if d := Compare(run(t, dir), run(t, dir)); !d.Empty() {
		t.Errorf("a bundle differs from itself: %+v", d)
	}
}

// A dependency whose version (or replacement) changed is listed as changed,
// not as removed and added.
func TestDiffListsAChangedDependencyVersion(t *testing.T) {
	old := &Report{Build: &Build{GoVersion: "go1.26.8", Deps: []Dependency{{Path: "example.com/a", Version: "v1.0.0", Sum: "h1:old"}}}}
	new := &Report{Build: &Build{GoVersion: "go1.26.8", Deps: []Dependency{{Path: "example.com/a", Version: "v1.0.0", Replace: &Dependency{Path: "example.com/a", Version: "v1.0.1", Sum: "h1:new"}}}}}
	d := Compare(old, new)
	if len(d.Deps.Changed) != 1 || d.Deps.Changed[0] != (Change{"example.com/a", "v1.0.0 h1:old", "v1.0.0 => example.com/a v1.0.1 h1:new"}) || len(d.Deps.Added)+len(d.Deps.Removed) != 0 {
		t.Fatalf("deps %+v", d.Deps)
	}
}

// A scope no Jira or JSM operation accepts fails the audit: the host grants
// nothing for it (issue 22: the audit fails on what the host cannot honour).
// Forge's storage:app is not a Jira scope and passes: a Forge app declares
// it for the storage API.
func TestAuditFailsAScopeTheHostDoesNotKnow(t *testing.T) {
	m := bytes.Replace(probeManifest(t), []byte("scopes: [read:jira-work, read:jira-user]"), []byte("scopes: [read:jira-work, read:jira-wrok, storage:app]"), 1)
	r := run(t, bundletest.Probe(t, m))
	if !hasFinding(r, Fail, "permissions.scopes declares read:jira-wrok, which no Jira or JSM operation") {
		t.Errorf("no failure for read:jira-wrok: %+v", r.Findings)
	}
	for _, s := range []string{"read:jira-work,", "storage:app"} {
		if hasFinding(r, Fail, "declares "+s) {
			t.Errorf("%s failed: %+v", s, r.Findings)
		}
	}
}
