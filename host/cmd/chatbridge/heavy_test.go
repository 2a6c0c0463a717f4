package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// A scenario that calls heavyScenario is skipped by the race step, so it
// runs only if the Makefile's heavy step names it: every such test here is
// in HEAVY_SCENARIOS, and every name there is such a test.
func TestEveryHeavyScenarioRunsInMakeTest(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HEAVY_SCENARIOS := (.+)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no HEAVY_SCENARIOS line")
	}
	listed := map[string]bool{}
	for _, name := range strings.Split(string(m[1]), "|") {
		listed[strings.TrimSpace(name)] = true
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	heavy := map[string]bool{}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "heavyScenario" {
						heavy[fn.Name.Name] = true
					}
				}
				return true
			})
		}
	}
	if len(heavy) == 0 {
		t.Fatal("no test calls heavyScenario: the check found nothing to check")
	}
	for name := range heavy {
		if !listed[name] {
			t.Errorf("%s calls heavyScenario but the Makefile's HEAVY_SCENARIOS does not name it: it never runs in make test", name)
		}
	}
	for name := range listed {
		if !heavy[name] {
			t.Errorf("HEAVY_SCENARIOS names %s, which does not call heavyScenario", name)
		}
	}
}
