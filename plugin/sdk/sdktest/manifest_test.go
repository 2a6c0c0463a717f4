package sdktest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

const manifest = `app:
  id: "ari:cloud:ecosystem::app/t"
modules:
  consumer:
    - key: work
      queue: work
      function: main
  function:
    - key: main
permissions:
  capabilities: [storage, fetch, queue]
  external:
    fetch:
      backend:
        - address: api.example.com
        - address: "*.cdn.example.net:8443"
`

func envFor(t *testing.T) *sdktest.Env {
	t.Helper()
	m, err := sdktest.ParseManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	e := sdktest.NewEnvFor(m)
	e.HTTP.Handler = func(*abi.Request) (*abi.Response, error) { return &abi.Response{Status: 200}, nil }
	return e
}

// A unit test meets the host's refusals: fetch outside the declared hosts
// and ports, a capability the manifest does not list, a queue no consumer
// reads.
func TestNewEnvForRefusesWhatTheManifestDoesNotAllow(t *testing.T) {
	e := envFor(t)
	for _, tt := range []struct {
		url  string
		want error
	}{
		{"https://api.example.com/v1/x", nil},
		{"https://API.example.com./v1/x", nil},
		{"https://api.example.com:443/x", nil},
		{"https://api.example.com:8443/x", sdk.ErrAccessDenied},
		{"https://evil.example.com/x", sdk.ErrAccessDenied},
		{"https://img.cdn.example.net:8443/a.png", nil},
		{"https://img.cdn.example.net/a.png", sdk.ErrAccessDenied},
		{"https://a.b.cdn.example.net:8443/a.png", sdk.ErrAccessDenied},
		{"http://api.example.com/x", sdk.ErrInvalidArgument},
	} {
		_, err := e.Fetch.Fetch(&abi.Request{Method: "GET", URL: tt.url})
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("fetch %s: %v, want %v", tt.url, err, tt.want)
		}
	}
	if n := len(e.HTTP.Requests()); n != 4 {
		t.Errorf("%d requests reached the fake, want the 4 allowed", n)
	}
	if _, err := e.Jira.Request(&abi.Request{Method: "GET", URL: "/rest/api/3/myself"}); !errors.Is(err, sdk.ErrAccessDenied) {
		t.Errorf("jira without the capability: %v, want access-denied", err)
	}
	if err := e.Secrets.Set("k", []byte("v")); !errors.Is(err, sdk.ErrAccessDenied) {
		t.Errorf("secrets without the capability: %v, want access-denied", err)
	}
	if err := e.Queue.Push("work", "", []byte("x"), 0); err != nil {
		t.Errorf("push to a declared queue: %v", err)
	}
	if err := e.Queue.Push("other", "", []byte("x"), 0); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("push to an undeclared queue: %v, want invalid-argument", err)
	}
	if err := e.Storage.Set("k", []byte("v"), time.Minute); err != nil {
		t.Errorf("storage, declared: %v", err)
	}
}

// The fake's egress rule is the host's: both agree on every pair of
// address and destination below.
func TestEgressAllowedAgreesWithTheHost(t *testing.T) {
	addresses := []string{"api.example.com", "*.cdn.example.net:8443", "api.other.org:8080"}
	var backends []bundle.Backend
	for _, a := range addresses {
		backends = append(backends, bundle.Backend{Address: a})
	}
	m := &bundle.Manifest{Permissions: bundle.Permissions{External: bundle.External{Fetch: bundle.Fetch{Backend: backends}}}}
	for _, host := range []string{"api.example.com", "API.EXAMPLE.COM", "api.example.com.", "x.api.example.com", "example.com",
		"a.cdn.example.net", "cdn.example.net", "a.b.cdn.example.net", "api.other.org", ""} {
		for _, port := range []int{443, 8443, 8080, 0} {
			t.Run(fmt.Sprintf("%s:%d", host, port), func(t *testing.T) {
				if got, want := sdktest.EgressAllowed(addresses, host, port), m.EgressAllowedAt(host, port); got != want {
					t.Fatalf("sdktest says %v, the host %v", got, want)
				}
			})
		}
	}
}

// A unit test is refused a Jira call outside the manifest's scopes, as the
// host refuses it (the host's side: TestSdktestDecidesJiraCallsAsTheHost
// in host/).
func TestNewEnvForRefusesJiraCallsOutsideTheScopes(t *testing.T) {
	m, err := sdktest.ParseManifest([]byte(`permissions:
  scopes: [read:jira-work]
  capabilities: [jira]
`))
	if err != nil {
		t.Fatal(err)
	}
	e := sdktest.NewEnvFor(m)
	e.JiraAPI.Handler = func(*abi.Request) (*abi.Response, error) { return &abi.Response{Status: 200}, nil }
	for _, tt := range []struct {
		method, url string
		want        error
	}{
		{"GET", "/rest/api/3/issue/SUP-1", nil},
		{"POST", "/rest/api/3/issue", sdk.ErrAccessDenied},            // needs write:jira-work
		{"POST", "/rest/servicedeskapi/request", sdk.ErrAccessDenied}, // needs write:servicedesk-request
		{"GET", "/rest/agile/1.0/board", sdk.ErrAccessDenied},         // not in the specifications
		{"GET", "/rest/api/3/issue/../../servicedeskapi/request", sdk.ErrInvalidArgument},
		{"GET", "https://evil.example.com/rest/api/3/myself", sdk.ErrInvalidArgument},
	} {
		_, err := e.Jira.Request(&abi.Request{Method: tt.method, URL: tt.url})
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("jira %s %s: %v, want %v", tt.method, tt.url, err, tt.want)
		}
	}
	if n := len(e.JiraAPI.Requests()); n != 1 {
		t.Errorf("%d requests reached the fake, want the 1 allowed", n)
	}
	if _, ok := e.Jira.(sdk.AttachmentLinker); !ok {
		t.Error("the scoped jira fake lost attachment links")
	}
}

// Upload links as the host hands them out: the scopes of
// attachTemporaryFile, the manifest's app.uploads.maxBytes, and a result
// only once the test, standing for the browser, has uploaded.
func TestNewEnvForHoldsUploadLinksToTheScopesAndTheManifestsLimit(t *testing.T) {
	parse := func(doc string) *sdktest.Env {
		t.Helper()
		m, err := sdktest.ParseManifest([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return sdktest.NewEnvFor(m)
	}
	e := parse("app:\n  uploads: {maxBytes: 4096}\npermissions:\n  scopes: [read:servicedesk-request, write:servicedesk-request]\n  capabilities: [jira]\n")
	up, ok := e.Jira.(sdk.UploadLinker)
	if !ok {
		t.Fatal("the scoped jira fake has no upload links")
	}
	link, err := up.UploadLink("7", "https://shop.example", "s1", "image/png", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a := e.Uploads.Asked(); len(a) != 1 || a[0].MaxBytes != 4096 || a[0].TTL != abi.DefaultUploadLinkTTL*time.Second {
		t.Errorf("asked %+v: want the manifest's 4096 bytes and the default lifetime", a)
	}
	if _, err := up.UploadLink("7", "https://shop.example", "s1", "image/png", 4097, 0); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("a link over app.uploads.maxBytes: %v", err)
	}
	if _, err := up.UploadResult(link); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("a result before the upload: %v", err)
	}
	e.Uploads.Upload(link, 100, "temp-1")
	if r, err := up.UploadResult(link); err != nil || r.Subject != "s1" || r.TemporaryAttachmentIDs[0] != "temp-1" || r.Bytes != 100 {
		t.Errorf("result %+v, %v", r, err)
	}
	noScope := parse("permissions:\n  scopes: [read:jira-work]\n  capabilities: [jira]\n")
	if _, err := noScope.Jira.(sdk.UploadLinker).UploadLink("7", "https://shop.example", "s", "image/png", 0, 0); !errors.Is(err, sdk.ErrAccessDenied) {
		t.Errorf("without the service desk's scopes: %v", err)
	}
}
