package stacktest

import (
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/apispec"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// CheckJiraCalls holds every call the Jira simulator of a stack answered
// (the bridge's, the host's installs and download links) against Jira's
// specifications: one they lack is a call real Jira would not serve. Each
// end-to-end stack runs it before it stops.
func CheckJiraCalls(t *testing.T, s *Stack) {
	t.Helper()
	if s.Stopped.Load() {
		return // a test that stopped its stack itself checked it then
	}
	dir := filepath.Join(bundletest.RepoRoot(), "testdata", "specs")
	platform, err := apispec.Load(filepath.Join(dir, "jira-platform-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsm, err := apispec.Load(filepath.Join(dir, "jsm.json"))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := apispec.Load(filepath.Join(dir, "jira-admin-webhooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	calls := s.JiraStats(t).Requests
	if len(calls) == 0 {
		return
	}
	var bad []string
	for call := range calls {
		if undocumentedJiraCall(platform, jsm, hooks, call) {
			bad = append(bad, call)
		}
	}
	sort.Strings(bad)
	for _, call := range bad {
		t.Errorf("a Jira call the specifications lack: %s (%d times)", call, calls[call])
	}
	t.Logf("%d distinct Jira calls held against the specifications, %d undocumented", len(calls), len(bad))
	CheckMessengerCalls(t, s)
}

// CheckMessengerCalls fails for any call the Telegram, WhatsApp or Viber simulator
// of a stack refused as outside its service's specification (each serves
// only what its specification has: TestSpec_* and
// TestRoutes_AreAllInTheSpecification).
func CheckMessengerCalls(t *testing.T, s *Stack) {
	t.Helper()
	for _, service := range []string{"telegram", "whatsapp", "viber"} {
		var st struct {
			Requests map[string]int64 `json:"requests"`
			Refused  map[string]int64 `json:"refused"`
		}
		s.Call(t, "GET", "/_sim/"+service+"/stats", nil, &st, http.StatusOK)
		for call, n := range st.Refused {
			t.Errorf("a %s call its specification lacks: %s (%d times)", service, call, n)
		}
		if len(st.Requests) > 0 {
			t.Logf("%d distinct %s calls, %d outside the specification", len(st.Requests), service, len(st.Refused))
		}
	}
}

// undocumentedJiraCall reports whether "METHOD /path" is not in Jira's
// specifications (the admin webhook API's is a fragment written from its
// sources, RATIONALE.md). The one path outside the REST APIs is where the
// 303 of attachment/content points (Cloud: its media host).
func undocumentedJiraCall(platform, jsm, hooks *apispec.Spec, call string) bool {
	method, path, _ := strings.Cut(call, " ")
	var spec *apispec.Spec
	switch {
	case strings.HasPrefix(path, "/rest/api/2/"), strings.HasPrefix(path, "/rest/api/3/"):
		spec = platform
	case strings.HasPrefix(path, "/rest/servicedeskapi/"):
		spec = jsm
	case strings.HasPrefix(path, "/rest/webhooks/1.0/"):
		spec = hooks
	case method == "GET" && strings.HasPrefix(path, "/secure/attachment/"):
		return false
	default:
		return true
	}
	_, _, ok := spec.Find(method, path)
	return !ok
}
