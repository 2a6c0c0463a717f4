package capability

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// manifestPolicy is the manifest as the host adapts it (host.policy).
type manifestPolicy struct{ *bundle.Manifest }

func (manifestPolicy) HasQueue(string) bool { return false }

// A host the manifest declares in permissions.external.links is text for
// people, not egress: the module's fetch to it is access-denied and never
// leaves the host, while the same server reached as a backend host answers.
func TestFetchToALinksOnlyHostIsDenied(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	m, err := bundle.ParseManifest([]byte(`app: {id: "ari:cloud:ecosystem::app/x"}
permissions:
  capabilities: [fetch]
  external:
    fetch:
      backend: [{address: api.example.com}]
    links: [www.openstreetmap.org]
`))
	if err != nil {
		t.Fatal(err)
	}
	lh := newLimitHost(t, srv, ratelimit.Config{}, nil)
	lh.h.policy = manifestPolicy{m}

	// Every connection goes to srv: a denial below is the policy's, not
	// an unreachable name.
	if resp, code := lh.call(t, "inst-a", false, abi.Request{Method: "GET", URL: "https://api.example.com/"}); code != abi.OK || resp.Status != 200 {
		t.Fatalf("fetch to the backend host: %v %+v", code, resp)
	}
	for _, u := range []string{
		"https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481",
		"https://WWW.OpenStreetMap.org/",
		"https://www.openstreetmap.org:8443/",
	} {
		if _, code := lh.call(t, "inst-a", false, abi.Request{Method: "GET", URL: u}); code != abi.AccessDenied {
			t.Errorf("fetch %s = %v, want access-denied", u, code)
		}
	}
	if n := served.Load(); n != 1 {
		t.Errorf("the server answered %d requests, want 1 (the backend's only)", n)
	}
}
