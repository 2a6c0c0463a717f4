package bridge

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every attribute any log call of the bridge names is in logVocabulary: a
// source check, so that paths the conversation tests do not reach (a
// failure reported later, a status move) cannot log an issue key either.
func TestEveryLogCallNamesOnlyVocabularyAttributes(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || call.Ellipsis.IsValid() {
				return true // logger(env, attrs...) passes its callers' literals, checked there
			}
			var keys []ast.Expr
			switch sel.Sel.Name {
			case "Debug", "Info", "Warn", "Error":
				if len(call.Args) > 0 {
					keys = call.Args[1:]
				}
			case "With":
				keys = call.Args
			default:
				return true
			}
			for i := 0; i < len(keys); i += 2 {
				lit, ok := keys[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a log attribute whose name is not a literal", fset.Position(keys[i].Pos()))
					continue
				}
				key, _ := strconv.Unquote(lit.Value)
				checked++
				if _, ok := logVocabulary[key]; !ok {
					t.Errorf("%s: log attribute %q is not in the vocabulary", fset.Position(lit.Pos()), key)
				}
			}
			return true
		})
	}
	if checked < 20 {
		t.Fatalf("only %d log attributes found; is the check reading the bridge's sources?", checked)
	}
}
