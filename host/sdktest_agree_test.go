package host_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// A plugin's unit test is refused the Jira calls the host refuses (issue
// 22: sdktest's fakes ignored the scopes, so a unit test could not catch
// access-denied): every call below gets the same answer from the probe in
// the real host and from sdktest.NewEnvFor on the same manifest, under
// two sets of scopes.
func TestSdktestDecidesJiraCallsAsTheHost(t *testing.T) {
	calls := []struct{ method, url string }{
		{"GET", "/rest/api/3/issue/SUP-1?fields=status"},
		{"", "/rest/api/3/myself"},
		{"get", "/rest/api/3/issue/SUP-1"},
		{"POST", "/rest/api/3/issue"},
		{"POST", "/rest/api/2/issue/SUP-1/comment"},
		{"POST", "/rest/api/3/comment/list"},
		{"PUT", "/rest/api/3/comment/10/properties/chatbridge.op"},
		{"GET", "/rest/servicedeskapi/request/SUP-1"},
		{"POST", "/rest/servicedeskapi/request"},
		{"POST", "/rest/servicedeskapi/request/SUP-1/comment"},
		{"DELETE", "/rest/servicedeskapi/servicedesk"},
		{"GET", "/rest/agile/1.0/board"},
		{"PUT", "/rest/api/3/mypreferences/locale"}, // offered to no app
		{"GET", "/rest/api/3/issue/"},
		{"GET", "/rest/api/3/issue/SUP-1/../../../servicedeskapi/request"},
		{"GET", "/rest/api/3/issue/%2e%2e/x"},
		{"GET", "/rest/api/3/issue/%zz"},
		{"GET", "//evil.example.com/rest/api/3/myself"},
		{"GET", "https://evil.example.com/rest/api/3/myself"},
		{"GET", "/rest/api/3/myself@evil.example.com"},
		{"GET", "/rest/api/3/issue\\SUP-1"},
		{"GET", "rest/api/3/myself"},
		{"GET", "/rest/api/3/issue/SUP-1\n"},
	}
	raw, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scopes := range []string{
		"[read:jira-work, read:jira-user]", // the probe's own
		"[read:jira-work, write:jira-work, read:servicedesk-request, write:servicedesk-request, read:comment.property:jira]",
	} {
		t.Run(scopes, func(t *testing.T) {
			manifest := bytes.Replace(raw, []byte("scopes: [read:jira-work, read:jira-user]"), []byte("scopes: "+scopes), 1)
			if bytes.Equal(manifest, raw) != (scopes == "[read:jira-work, read:jira-user]") {
				t.Fatal("the probe's manifest no longer declares its scopes as this test expects")
			}
			f := newFixture(t, manifest, engine.Config{})
			in := f.install(t, "https://example.atlassian.net")
			m, err := sdktest.ParseManifest(manifest)
			if err != nil {
				t.Fatal(err)
			}
			env := sdktest.NewEnvFor(m)
			env.JiraAPI.Handler = func(*abi.Request) (*abi.Response, error) { return &abi.Response{Status: 200}, nil }
			allowed := 0
			for _, c := range calls {
				r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "jira", "method": c.method, "url": c.url, "value": "{}"})
				if err != nil {
					t.Fatalf("%s %q on the host: %v", c.method, c.url, err)
				}
				host := "ok"
				if !r.OK {
					host = r.Code
				}
				fake := "ok"
				if _, err := env.Jira.Request(&abi.Request{Method: c.method, URL: c.url, Body: []byte("{}")}); err != nil {
					var code abi.Code
					if !errors.As(err, &code) {
						t.Fatalf("%s %q: sdktest failed with %v, not a code", c.method, c.url, err)
					}
					fake = code.String()
				}
				if host != fake {
					t.Errorf("%s %q: the host answers %s, sdktest %s", c.method, c.url, host, fake)
				}
				if host == "ok" {
					allowed++
				}
			}
			// Both answers occur, so the comparison is not of two constants.
			if allowed == 0 || allowed == len(calls) {
				t.Fatalf("%d of %d calls allowed", allowed, len(calls))
			}
			if n := len(env.JiraAPI.Requests()); n != allowed {
				t.Errorf("%d calls reached sdktest's fake, want the %d allowed", n, allowed)
			}
			t.Logf("%d of %d calls allowed by both", allowed, len(calls))
		})
	}
}
