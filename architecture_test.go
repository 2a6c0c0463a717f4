package chatbridge_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/chatbridge/chatbridge/"

// rule forbids the non-test code under from (a folder, or "host" for the
// runtime package alone) from importing any of the module's folders in
// forbid, except those in allow. ARCHITECTURE.md says why each holds.
type rule struct {
	from   string
	forbid []string
	allow  []string
	// except are folders under from that the rule does not hold.
	except []string
}

// platform is every host package that is neither the runtime nor a way in.
var platform = []string{"host/audit", "host/bundle", "host/capability", "host/cluster",
	"host/engine", "host/fuel", "host/jirasite", "host/medialink", "host/queue", "host/ratelimit", "host/storage", "host/tenant"}

var rules = []rule{
	{from: "wit", forbid: []string{""}, allow: []string{"wit"}},
	{from: "plugin", forbid: []string{""}, allow: []string{"plugin", "wit"}},
	{from: "proxy", forbid: []string{""}, allow: []string{"proxy"}},
	{from: "host", forbid: []string{"plugin", "emulator", "bench", "proxy", "host/cmd"}, allow: []string{"proxy/publicurl", "host/hostedge:proxy", "host/node:proxy"}, except: []string{"host/cmd"}},
	{from: "host=", forbid: []string{"host/trigger", "host/hostedge", "host/adminapi", "host/adminui"}},
	{from: "emulator", forbid: []string{"plugin", "bench", "host/cmd"}},
	// The admin UI is a client of the admin API: it imports nothing of the project.
	{from: "host/adminui", forbid: []string{""}, allow: []string{"host/adminui"}},
	{from: "emulator/sim", forbid: []string{""}, allow: []string{"emulator", "host/trigger/jiraevent"}},
	// Test helpers are for tests: no product code imports them. The
	// end-to-end harness is one, and may use the others; so is
	// host/hosttest, the plugin-in-the-host helper.
	{from: "", forbid: []string{"internal", "emulator/stack/stacktest", "host/hosttest"}, except: []string{"internal", "emulator/stack/stacktest", "host/hosttest"}},
}

func init() {
	// The platform services sit below the runtime and its ways in.
	for _, p := range platform {
		rules = append(rules, rule{from: p, forbid: []string{"host=", "host/trigger", "host/hostedge", "host/adminapi", "host/adminui"}})
	}
}

// under reports whether pkg (relative to the module) is dir or below it;
// "x=" means the package x alone, and "" the whole module.
func under(pkg, dir string) bool {
	if exact, ok := strings.CutSuffix(dir, "="); ok {
		return pkg == exact
	}
	return dir == "" || pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// imports lists, for every package folder of the module, the module's
// packages its non-test files import.
func imports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "bin") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != "." {
				return filepath.SkipDir // a module of its own (bench/extism)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rel, ok := strings.CutPrefix(p, module); ok {
				out[pkg][rel] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoPackageImportsWhatTheArchitectureForbids holds the import rules of
// ARCHITECTURE.md: the plugin and the host never import each other, the
// runtime never imports its ways in, the simulators never import the
// clients they stand in front of, and nothing of the product imports the
// emulator.
func TestNoPackageImportsWhatTheArchitectureForbids(t *testing.T) {
	all := imports(t)
	if len(all) < 40 {
		t.Fatalf("found only %d packages; is the test running at the module root?", len(all))
	}
	for pkg, imps := range all {
		for imp := range imps {
			for _, r := range rules {
				if !under(pkg, r.from) {
					continue
				}
				if forbidden(pkg, imp, r) {
					t.Errorf("%s imports %s, which ARCHITECTURE.md forbids (rule for %q)", pkg, imp, r.from)
				}
			}
		}
	}
}

func forbidden(pkg, imp string, r rule) bool {
	for _, e := range r.except {
		if under(pkg, e) {
			return false
		}
	}
	hit := false
	for _, f := range r.forbid {
		if under(imp, f) {
			hit = true
		}
	}
	if !hit {
		return false
	}
	for _, a := range r.allow {
		if from, to, ok := strings.Cut(a, ":"); ok {
			if pkg == from && under(imp, to) {
				return false
			}
			continue
		}
		if under(imp, a) {
			return false
		}
	}
	return true
}

// The rules catch what they are written for.
func TestTheImportRulesRefuseTheirExamples(t *testing.T) {
	find := func(from string) []rule {
		var rs []rule
		for _, r := range rules {
			if under(from, r.from) {
				rs = append(rs, r)
			}
		}
		return rs
	}
	refused := func(pkg, imp string) bool {
		for _, r := range find(pkg) {
			if forbidden(pkg, imp, r) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		pkg, imp string
		want     bool
	}{
		{"plugin/bridge", "host/storage", true},
		{"plugin/bridge", "wit/abi", false},
		{"host", "host/trigger/jiraevent", true},
		{"host/queue", "host", true},
		{"host/trigger/jiraevent", "host", false},
		{"host/capability", "proxy", true},
		{"host/medialink", "proxy/publicurl", false},
		{"host/hostedge", "proxy", false},
		{"host/engine", "emulator/devca", true},
		{"emulator/sim/jira", "plugin/jira", true},
		{"emulator/sim/jira", "host/storage", true},
		{"emulator/sim/jira", "host/trigger/jiraevent", false},
		{"emulator/console", "host", false},
		{"host/cmd/chatbridge", "emulator/sim", false},
		{"host/adminapi", "host/trigger/resolver", false},
		{"host/tenant", "host/adminapi", true},
		{"proxy", "host", true},
		{"wit/abi", "plugin/sdk", true},
	} {
		if got := refused(c.pkg, c.imp); got != c.want {
			t.Errorf("%s importing %s: refused %v, want %v", c.pkg, c.imp, got, c.want)
		}
	}
}

// TestEveryPackageHasADocAndArchitectureNamesIt keeps ARCHITECTURE.md and
// the tree in step: every package folder has a doc.go, and is named in
// ARCHITECTURE.md (itself, or its folder below the top level); every folder the document
// names exists.
func TestEveryPackageHasADocAndArchitectureNamesIt(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:wit|plugin|proxy|host|emulator|bench|internal)(?:/[a-z0-9_]+)*)/?`").FindAllStringSubmatch(string(doc), -1) {
		named[m[1]] = true
	}
	for dir := range named {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("ARCHITECTURE.md names %s/, which is not a folder", dir)
		}
	}
	for pkg := range imports(t) {
		if _, err := os.Stat(filepath.Join(pkg, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", pkg)
		}
		parent := filepath.ToSlash(filepath.Dir(pkg))
		if !named[pkg] && !(named[parent] && strings.Contains(parent, "/")) {
			t.Errorf("ARCHITECTURE.md names neither %s nor its folder", pkg)
		}
	}
}
