package stacktest

import (
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/apispec"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

func TestUndocumentedJiraCallsAreFound(t *testing.T) {
	platform, err := apispec.Load(filepath.Join(bundletest.RepoRoot(), "testdata", "specs", "jira-platform-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsm, err := apispec.Load(filepath.Join(bundletest.RepoRoot(), "testdata", "specs", "jsm.json"))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := apispec.Load(filepath.Join(bundletest.RepoRoot(), "testdata", "specs", "jira-admin-webhooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	for call, want := range map[string]bool{
		"GET /rest/api/3/issue/SUP-1/comment/10001/properties/sd.public.comment": true,
		"PUT /rest/api/2/issue/SUP-1/comment/10001/properties/chatbridge.op":     true,
		"GET /rest/api/3/comment/10001/properties/sd.public.comment":             false,
		"POST /rest/api/2/comment/list":                                          false,
		"POST /rest/servicedeskapi/request/SUP-1/comment":                        false,
		"GET /secure/attachment/10001/a.png":                                     false,
		"GET /wiki/rest/api/space":                                               true,
		"POST /rest/webhooks/1.0/webhook":                                        false,
		"GET /rest/webhooks/1.0/webhook/10003":                                   false,
		"DELETE /rest/webhooks/1.0/webhook/10003":                                false,
		"PATCH /rest/webhooks/1.0/webhook/10003":                                 true,
		"GET /rest/webhooks/2.0/webhook":                                         true,
	} {
		if got := undocumentedJiraCall(platform, jsm, hooks, call); got != want {
			t.Errorf("%s: undocumented %v, want %v", call, got, want)
		}
	}
}
