package jira

import (
	"strings"

	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/sim")

// golden compares JSON with testdata/sim/jira/<name>.json (indented).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s is not JSON: %s", name, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("..", "..", "..", "testdata", "sim", "jira", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s (run with -update if the change is intended):\n%s", name, path, buf.Bytes())
	}
}

func TestGolden_WireShapes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, Config{NoCommentRule: true, Now: func() time.Time { return now }}) // the comments' own events only; automation_test.go has the rule
	a := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{
		"serviceDeskId": "1", "requestTypeId": "10",
		"requestFieldValues": map[string]any{"summary": "Chat with Anna: order #4711", "description": "Hello, my order has not arrived."},
	})
	golden(t, "request_created", a.raw)
	golden(t, "issue_created", e.hook.next(t).body)

	c := e.call(t, "POST", "/rest/servicedeskapi/request/SUP-1/comment", map[string]any{"body": "From Anna: any news?", "public": true})
	golden(t, "request_comment", c.raw)
	golden(t, "comment_created_by_app", e.hook.next(t).body)
	golden(t, "issue_updated_commented_by_app", e.hook.next(t).body)

	e.control(t, "POST", "/_sim/jira/requests/SUP-1/comment", map[string]any{"body": "It ships *today*.", "public": true})
	golden(t, "comment_created_public", e.hook.next(t).body)
	e.hook.next(t)
	e.control(t, "POST", "/_sim/jira/requests/SUP-1/comment", map[string]any{"body": "VIP customer", "public": false, "internal_shape": "visibility"})
	golden(t, "comment_created_visibility", e.hook.next(t).body)
	e.hook.next(t)

	e.control(t, "POST", "/_sim/jira/requests/SUP-1/transition", map[string]any{"status": "Done"})
	golden(t, "issue_updated_done", e.hook.next(t).body)

	e.sim.faults.Add(mustRule(t, `{"service":"jira","match":"GET /rest/api/3/myself","status":429,"retry_after":30}`))
	golden(t, "error_429", e.call(t, "GET", "/rest/api/3/myself", nil).raw)
}

func mustRule(t *testing.T, s string) simctl.Rule {
	t.Helper()
	r, err := simctl.Decode(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
