package jira

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/apispec"
)

// Every ADF document the simulator writes is valid against the official
// schema (issue 16, finding 7: an empty body once came out without the
// required "content").
func TestEveryADFTheSimulatorWritesIsValid(t *testing.T) {
	schema, err := apispec.LoadSchema(filepath.Join(specDir, "adf-full.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	valid := func(t *testing.T, what string, raw []byte) {
		t.Helper()
		if err := schema.ValidateJSON(raw); err != nil {
			t.Errorf("%s: %v\n%s", what, err, raw)
		}
	}
	bodies := []string{"", " ", "\n\n", "a", "a\nb", "a\n\nb", "\nlead", "trail\n", "a\n\n\n\nb", "*wiki* [link|https://x.org]", "  indented", "x\r\ny"}
	t.Run("wikiToADF", func(t *testing.T) {
		for _, b := range bodies {
			raw, _ := json.Marshal(wikiToADF(b))
			valid(t, "wikiToADF("+b+")", raw)
		}
	})
	t.Run("through the API and webhooks", func(t *testing.T) {
		e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
		a := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "10",
			"requestFieldValues": map[string]any{"summary": "blank description", "description": "  \n  "}})
		if a.status != 201 {
			t.Fatalf("create %d %s", a.status, a.raw)
		}
		key := a.json["issueKey"].(string)
		e.hook.next(t)
		is := e.call(t, "GET", "/rest/api/3/issue/"+key, nil)
		if d := dig(is.json, "fields", "description"); d != nil {
			raw, _ := json.Marshal(d)
			valid(t, "issue description", raw)
		}
		for _, b := range bodies[3:] {
			code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": b, "public": true, "adf": true})
			if code != 200 {
				t.Fatalf("control comment %d %s", code, raw)
			}
			for range 2 {
				d := e.hook.next(t)
				body, _ := json.Marshal(d.comment()["body"])
				valid(t, "webhook body of "+b, body)
			}
			g := e.call(t, "GET", "/rest/api/3/issue/"+key+"/comment/"+out["id"].(string), nil)
			body, _ := json.Marshal(g.json["body"])
			valid(t, "GET comment "+b, body)
		}
		l := e.call(t, "GET", "/rest/api/3/issue/"+key+"/comment", nil)
		list, _ := l.json["comments"].([]any)
		for _, c := range list {
			body, _ := json.Marshal(dig(c, "body"))
			valid(t, "listed comment", body)
		}
	})
}
