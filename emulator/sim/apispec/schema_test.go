package apispec

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adfSchema loads the official ADF schema from testdata/specs.
func adfSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := LoadSchema(filepath.Join(Dir, "adf-full.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheADFSchemaTellsValidFromInvalid(t *testing.T) {
	s := adfSchema(t)
	tests := []struct {
		name, doc string
		valid     bool
	}{
		{"an empty document", `{"type":"doc","version":1,"content":[]}`, true},
		{"a paragraph with text and a hard break", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b","marks":[{"type":"strong"}]}]}]}`, true},
		{"an empty paragraph", `{"type":"doc","version":1,"content":[{"type":"paragraph"}]}`, true},
		{"a document without content", `{"type":"doc","version":1}`, false},
		{"a document without version", `{"type":"doc","content":[]}`, false},
		{"an empty text node", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}`, false},
		{"an unknown node", `{"type":"doc","version":1,"content":[{"type":"fancy"}]}`, false},
		{"an unknown mark", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"a","marks":[{"type":"fancy"}]}]}]}`, false},
		{"a heading level out of range", `{"type":"doc","version":1,"content":[{"type":"heading","attrs":{"level":7},"content":[]}]}`, false},
		{"a text colour that is not #rrggbb", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"a","marks":[{"type":"textColor","attrs":{"color":"red"}}]}]}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.ValidateJSON([]byte(tt.doc))
			if (err == nil) != tt.valid {
				t.Errorf("valid %v, want %v (%v)", err == nil, tt.valid, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

func TestASchemaWithAnUnknownKeywordDoesNotLoad(t *testing.T) {
	f := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(f, []byte(`{"type":"object","oneOf":[{"type":"object"}]}`), 0o644)
	if _, err := LoadSchema(f); err == nil {
		t.Error("a schema with oneOf loaded: its rule would be skipped")
	}
}

// Every ADF document in the project's test files is valid against the
// official schema, unless the file's name starts with "invalid_" (then it
// must hold an invalid one): a test file never passes invalid ADF off as
// what Jira sends (issue 16, finding 7).
func TestADFTestFilesAreValidUnlessNamedInvalid(t *testing.T) {
	s := adfSchema(t)
	root := filepath.Join("..", "..", "..")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || path == filepath.Join(root, "testdata", "specs")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".json") || !strings.Contains(filepath.ToSlash(path), "/testdata/") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil
		}
		docs := adfDocs(v)
		if len(docs) == 0 {
			return nil
		}
		seen++
		named := strings.HasPrefix(d.Name(), "invalid_")
		var bad error
		for _, doc := range docs {
			if err := s.Validate(doc); err != nil {
				bad = err
				break
			}
		}
		switch {
		case bad != nil && !named:
			t.Errorf("%s: invalid ADF in a file not named invalid_: %v", path, bad)
		case bad == nil && named:
			t.Errorf("%s: named invalid_ but every document in it is valid", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 5 {
		t.Errorf("only %d files with ADF found", seen)
	}
}

// adfDocs finds the ADF documents ({"type": "doc", ...}) in decoded JSON.
func adfDocs(v any) []any {
	var out []any
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "doc" {
			return []any{x}
		}
		for _, e := range x {
			out = append(out, adfDocs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, adfDocs(e)...)
		}
	}
	return out
}
