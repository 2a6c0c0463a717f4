package jirascopes

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The scope table the host enforces is the one the specifications give:
// regenerating it from testdata/specs changes nothing.
func TestJiraScopesMatchTheSpecifications(t *testing.T) {
	out := filepath.Join(t.TempDir(), "jirascopes.go")
	cmd := exec.Command("go", "run", "gen_jirascopes.go", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen_jirascopes: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("jirascopes.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("jirascopes.go differs from the specifications: run go generate ./wit/jirascopes")
	}
}

func TestFindJiraOperationTakesTheDocumentedOperation(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/rest/api/3/issue", "/rest/api/3/issue"},
		{"GET", "/rest/api/3/issue/SUP-1", "/rest/api/3/issue/{issueIdOrKey}"},
		{"get", "/rest/api/2/issue/SUP-1", "/rest/api/3/issue/{issueIdOrKey}"}, // the v2 alias
		{"POST", "/rest/api/3/comment/list", "/rest/api/3/comment/list"},       // literal wins
		{"PUT", "/rest/api/3/comment/10/properties/chatbridge.op", "/rest/api/3/comment/{commentId}/properties/{propertyKey}"},
		{"POST", "/rest/servicedeskapi/request/SUP-1/comment", "/rest/servicedeskapi/request/{issueIdOrKey}/comment"},
		{"GET", "/rest/api/3/no/such/thing", ""},
		{"DELETE", "/rest/servicedeskapi/servicedesk", ""}, // the path, not the method
		{"GET", "/rest/agile/1.0/board", ""},
		{"GET", "/rest/api/3/issue/", ""}, // an empty parameter
	} {
		op := Find(tt.method, tt.path)
		got := ""
		if op != nil {
			got = op.Path
		}
		if got != tt.want {
			t.Errorf("%s %s: operation %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestMissingScopesNeedsOneWholeSet(t *testing.T) {
	op := &Operation{Scopes: [][]string{{"write:jira-work"}, {"write:issue:jira", "read:issue:jira"}}}
	for _, tt := range []struct {
		has  []string
		want []string
	}{
		{[]string{"write:jira-work"}, nil},
		{[]string{"write:issue:jira", "read:issue:jira"}, nil},
		{[]string{"read:jira-work"}, []string{"write:jira-work"}},
		{[]string{"write:issue:jira"}, []string{"write:jira-work"}}, // one of each set missing: the classic one is named
		{nil, []string{"write:jira-work"}},
	} {
		got := op.Missing(func(s string) bool { return slices.Contains(tt.has, s) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("with %v: missing %v, want %v", tt.has, got, tt.want)
		}
	}
	if got := (&Operation{Scopes: [][]string{{}}}).Missing(func(string) bool { return false }); got != nil {
		t.Errorf("an empty set needs nothing, got %v", got)
	}
}

func TestDotSegmentsAreRefused(t *testing.T) {
	for path, want := range map[string]bool{
		"/rest/api/3/issue/SUP-1":                  false,
		"/rest/api/3/issue/../../servicedeskapi/x": true,
		"/rest/api/3/issue/%2e%2E/x":               true,
		"/rest/api/3/issue/./x":                    true,
		"/rest/api/3/issue/SUP-1/properties/a.b":   false,
		"/rest/api/3/issue/%zz":                    true,
	} {
		if got := DotSegment(path); got != want {
			t.Errorf("DotSegment(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestKnownJiraScopeIsWhatTheSpecificationsAccept(t *testing.T) {
	for _, s := range []string{"read:jira-work", "write:jira-work", "read:jira-user", "read:servicedesk-request", "read:issue:jira"} {
		if !Known(s) {
			t.Errorf("%s is not known", s)
		}
	}
	for _, s := range []string{"storage:app", "read:jira-wrok", "", "read:confluence-content.all"} {
		if Known(s) {
			t.Errorf("%q is known", s)
		}
	}
}

func TestDecideChecksThePathThenTheOperationThenTheScopes(t *testing.T) {
	has := func(s string) bool { return s == "read:jira-work" }
	for _, tt := range []struct {
		method, url string
		want        Verdict
		missing     string
	}{
		{"", "/rest/api/3/issue/SUP-1", Allowed, ""},
		{"GET", "/rest/api/3/myself", MissingScope, "read:jira-user"},
		{"GET", "/rest/api/3/issue/SUP-1?fields=a/../b", Allowed, ""}, // the query is not the path
		{"POST", "/rest/api/3/issue", MissingScope, "write:jira-work"},
		{"GET", "/rest/agile/1.0/board", NoOperation, ""},
		{"PUT", "/rest/api/3/mypreferences/locale", NoApp, ""},
		{"GET", "rest/api/3/myself", InvalidPath, ""},
		{"GET", "//evil.example.com/x", InvalidPath, ""},
		{"GET", "/x@evil.example.com", InvalidPath, ""},
		{"GET", "/rest\\api", InvalidPath, ""},
		{"GET", "/r?u=https://evil.example.com", InvalidPath, ""},
		{"GET", "/rest/api/3/issue/%2e%2e/x", InvalidPath, ""},
	} {
		d := Decide(tt.method, tt.url, has)
		if d.Verdict != tt.want || strings.Join(d.Missing, " ") != tt.missing {
			t.Errorf("%s %s: %v missing %v, want %v missing %q", tt.method, tt.url, d.Verdict, d.Missing, tt.want, tt.missing)
		}
		if d.Method == "" {
			t.Errorf("%s %s: no method in the decision", tt.method, tt.url)
		}
	}
}
