package capability

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// The scope table the host enforces is the one the specifications give:
// regenerating it from testdata/specs changes nothing.
func TestJiraScopesMatchTheSpecifications(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run")
	}
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
		t.Fatal("jirascopes.go differs from the specifications: run go generate ./host/capability")
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
		op := findJiraOperation(tt.method, tt.path)
		got := ""
		if op != nil {
			got = op.path
		}
		if got != tt.want {
			t.Errorf("%s %s: operation %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestMissingScopesNeedsOneWholeSet(t *testing.T) {
	op := &jiraOperation{scopes: [][]string{{"write:jira-work"}, {"write:issue:jira", "read:issue:jira"}}}
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
		got := missingScopes(op, func(s string) bool { return slices.Contains(tt.has, s) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("with %v: missing %v, want %v", tt.has, got, tt.want)
		}
	}
	if got := missingScopes(&jiraOperation{scopes: [][]string{{}}}, func(string) bool { return false }); got != nil {
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
		if got := dotSegment(path); got != want {
			t.Errorf("dotSegment(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestKnownJiraScopeIsWhatTheSpecificationsAccept(t *testing.T) {
	for _, s := range []string{"read:jira-work", "write:jira-work", "read:jira-user", "read:servicedesk-request", "read:issue:jira"} {
		if !KnownJiraScope(s) {
			t.Errorf("%s is not known", s)
		}
	}
	for _, s := range []string{"storage:app", "read:jira-wrok", "", "read:confluence-content.all"} {
		if KnownJiraScope(s) {
			t.Errorf("%q is known", s)
		}
	}
}
