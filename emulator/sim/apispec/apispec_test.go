package apispec

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Refreshing the pruned files (RATIONALE.md, "The services' own
// specifications"):
//
//	go test ./host/sim/apispec -run TestRefresh -jira-full=swagger-v3.v3.json -jsm-full=service_management.json
var (
	jiraFull = flag.String("jira-full", "", "the full Jira Cloud platform OpenAPI document to prune into testdata/specs")
	jiraSrc  = flag.String("jira-source", "github.com/jarekbird/jira-api-mcp-wrapper@fea6054694f99860c85887a64b9f169fec71ed18:swagger-v3.v3.json", "where -jira-full came from")
	jsmFull  = flag.String("jsm-full", "", "the full Jira Service Management OpenAPI document to prune into testdata/specs")
	jsmSrc   = flag.String("jsm-source", "github.com/xvrh/atlassian_apis@77a145823f6175435ebe9ee62db4edd1119fb697:tool/apis/service_management.json", "where -jsm-full came from")
)

// Dir is where the pruned specifications live, from this package.
var Dir = filepath.Join("..", "..", "..", "testdata", "specs")

func TestRefresh(t *testing.T) {
	if *jiraFull == "" && *jsmFull == "" {
		t.Skip("give -jira-full and/or -jsm-full to refresh testdata/specs")
	}
	for _, r := range []struct{ full, src, prefix, out string }{
		{*jiraFull, *jiraSrc, "/rest/api/3/", "jira-platform-v3.json"},
		{*jsmFull, *jsmSrc, "/rest/servicedeskapi/", "jsm.json"},
	} {
		if r.full == "" {
			continue
		}
		raw, err := os.ReadFile(r.full)
		if err != nil {
			t.Fatal(err)
		}
		var aliases map[string]string
		if r.prefix == "/rest/api/3/" {
			aliases = map[string]string{"/rest/api/2/": "/rest/api/3/"}
		}
		out, err := Prune(raw, r.prefix, r.src, aliases)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(Dir, r.out), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindMatchesDocumentedCallsOnly(t *testing.T) {
	jira, err := Load(filepath.Join(Dir, "jira-platform-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsm, err := Load(filepath.Join(Dir, "jsm.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec         *Spec
		method, path string
		want         string // the template, "" for none
	}{
		{jira, "GET", "/rest/api/3/comment/10001/properties/sd.public.comment", "/rest/api/3/comment/{commentId}/properties/{propertyKey}"},
		{jira, "PUT", "/rest/api/2/comment/10001/properties/chatbridge.op", "/rest/api/3/comment/{commentId}/properties/{propertyKey}"},
		{jira, "POST", "/rest/api/2/comment/list", "/rest/api/3/comment/list"},
		{jira, "GET", "/rest/api/3/issue/SUP-1/comment/10001/properties/sd.public.comment", ""},
		{jira, "PUT", "/rest/api/2/issue/SUP-1/comment/10001/properties/chatbridge.op", ""},
		{jira, "DELETE", "/rest/api/3/myself", ""},
		{jira, "GET", "/rest/api/3/myself", "/rest/api/3/myself"},
		{jira, "GET", "/rest/api/3/issue//comment", ""},
		{jsm, "POST", "/rest/servicedeskapi/request/SUP-1/comment", "/rest/servicedeskapi/request/{issueIdOrKey}/comment"},
		{jsm, "GET", "/rest/servicedeskapi/servicedesk", "/rest/servicedeskapi/servicedesk"},
		{jsm, "GET", "/rest/servicedeskapi/request/SUP-1/nope", ""},
	}
	for _, tt := range tests {
		_, got, ok := tt.spec.Find(tt.method, tt.path)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s %s: %q %v, want %q", tt.method, tt.path, got, ok, tt.want)
		}
	}
}

func TestMissingNamesWhatARequiredPartLacks(t *testing.T) {
	jira, err := Load(filepath.Join(Dir, "jira-platform-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	op, _, _ := jira.Find("POST", "/rest/api/3/comment/list")
	if op.Body == nil || len(op.Body.Fields) != 1 || op.Body.Fields[0] != "ids" {
		t.Errorf("comment/list body %+v", op.Body)
	}
	if m := op.Missing(nil, false); len(m) != 1 || m[0] != "request body" {
		t.Errorf("missing %v", m)
	}
	if m := op.Missing(nil, true); len(m) != 0 {
		t.Errorf("missing %v", m)
	}
	op, _, _ = jira.Find("DELETE", "/rest/api/3/group/user")
	if m := op.Missing(map[string][]string{"groupname": {"x"}}, false); len(m) != 1 || m[0] != "query parameter accountId" {
		t.Errorf("DELETE /group/user without accountId: missing %v", m)
	}
}

func TestLoadRefusesWhatIsNotAPrunedSpec(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(f, []byte(`{"paths":{}}`), 0o644)
	if _, err := Load(f); err == nil {
		t.Error("an empty spec loaded")
	}
}
