package console

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// The console shows decrypted storage without a token, so only the
// emulator may mount it: no code but the emulator's start (emulator/stack)
// and dev mode's live reload imports this package, and nothing but
// this package opens storage with seal's Inspect.
func TestOnlyDevModeWiresTheConsoleAndTheInspector(t *testing.T) {
	root := bundletest.RepoRoot()
	const self = "github.com/chatbridge/chatbridge/emulator/console"
	allowed := map[string]bool{"emulator/stack/stack.go": true, "host/cmd/chatbridge/watch.go": true}
	importers := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "bin", "data", ".cache":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return nil // another package's work in progress; go vet reports it
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self {
				importers++
				if !allowed[rel] {
					t.Errorf("%s imports the dev console; only the emulator (emulator/stack, watch.go) may", rel)
				}
			}
		}
		if strings.HasPrefix(rel, "host/storage/seal/") || strings.HasPrefix(rel, "emulator/console/") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), ".Inspect(") && strings.Contains(string(src), "storage/seal\"") {
			t.Errorf("%s opens sealed records with Inspect; only the dev console may", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if importers == 0 {
		t.Fatal("nothing imports the dev console: the walk found no emulator/stack")
	}
}
