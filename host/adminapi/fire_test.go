package adminapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/devca"
	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/wit/abi"
)

var cacheDir string

func TestMain(m *testing.M) { os.Exit(bundletest.Main(m, &cacheDir)) }

// probeHost runs the probe plugin (a Jira event trigger on
// avi:jira:commented:issue and avi:jira:updated:issue, a scheduled trigger
// "housekeeping") installed on a Jira site that answers the install's
// checks, and serves the admin API with token "s3cret".
func probeHost(t *testing.T) (*host.Host, tenant.Installation, *httptest.Server) {
	t.Helper()
	ca, err := devca.New()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Leaf("example.atlassian.net")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	site := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/rest/api/3/myself":
			fmt.Fprint(w, `{"accountId":"app-1","accountType":"app"}`)
		case "/rest/servicedeskapi/servicedesk":
			fmt.Fprint(w, `{"size":1,"start":0,"limit":50,"isLastPage":true,"values":[{"id":"1","projectKey":"SUP"}]}`)
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = site.Serve(ln) }()
	t.Cleanup(func() { _ = site.Close() })
	h, err := host.New(context.Background(), host.Config{
		Store:  memstore.New(),
		Trust:  bundletest.Trust(t),
		Engine: engine.Config{CacheDir: cacheDir},
		HTTP:   reroute.Client(map[string]string{"example.atlassian.net": ln.Addr().String()}, ca.Pool()),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	if err := h.Load(context.Background(), bundletest.Probe(t, nil)); err != nil {
		t.Fatal(err)
	}
	in, _, err := h.Install(context.Background(), tenant.Site{URL: "https://example.atlassian.net", Authorization: "Basic c2l0ZTp0b2tlbg=="})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(h, "s3cret", Node{}))
	t.Cleanup(srv.Close)
	return h, in, srv
}

// stored reads a key of the probe's storage through its web trigger.
func stored(t *testing.T, h *host.Host, in tenant.Installation, key string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"op": "storage.get", "key": key})
	resp, err := webtrigger.Invoke(context.Background(), h, in.ID, "probe", &abi.WebTriggerRequest{Method: "POST", Path: "/", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		OK    bool   `json:"ok"`
		Code  string `json:"code"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("probe answered %q: %v", resp.Body, err)
	}
	if !r.OK {
		return r.Code
	}
	return r.Value
}

func post(t *testing.T, srv *httptest.Server, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// POST /admin/installations/{id}/events/{type} delivers a product event to
// the triggers that subscribe to it, which run on the installation; a type
// that is not a product event, or one no trigger subscribes to, is a 4xx
// that names the events the bundle subscribes to, and runs nothing.
func TestFireDeliversAProductEventToItsSubscribedTrigger(t *testing.T) {
	h, in, srv := probeHost(t)
	if got := stored(t, h, in, "event:last"); got != "not-found" {
		t.Fatalf("before any event the probe stored %q", got)
	}
	path := "/admin/installations/" + in.ID + "/events/"
	payload := `{"comment":{"id":"10","author":{"accountId":"customer-1"}},"issue":{"key":"SUP-1"}}`
	if code, body := post(t, srv, path+"avi:jira:commented:issue", "", payload); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d %s", code, body)
	}
	if code, body := post(t, srv, path+"avi:jira:commented:issue", "s3cret", payload); code != http.StatusNoContent {
		t.Fatalf("fire avi:jira:commented:issue: %d %s", code, body)
	}
	if got := stored(t, h, in, "event:last"); got != "avi:jira:commented:issue|jira-events" {
		t.Fatalf("the trigger stored %q, want the event and its trigger", got)
	}
	if code, body := post(t, srv, path+"avi:jira:updated:issue", "s3cret", ""); code != http.StatusNoContent {
		t.Fatalf("fire avi:jira:updated:issue with no body: %d %s", code, body)
	}
	if got := stored(t, h, in, "event:last"); got != "avi:jira:updated:issue|jira-events" {
		t.Fatalf("the trigger stored %q after the second event", got)
	}
	calls := h.Engine().Stats().Calls.Load()
	for _, c := range []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"an event no trigger subscribes to", path + "avi:jira:created:issue", payload, http.StatusNotFound,
			"subscribed: avi:jira:commented:issue, avi:jira:updated:issue"},
		{"a Jira webhook name, not a product event", path + "comment_created", payload, http.StatusBadRequest, "is not a product event"},
		{"a payload that is not JSON", path + "avi:jira:commented:issue", "comment", http.StatusBadRequest, "must be JSON"},
		{"an unknown installation", "/admin/installations/nope/events/avi:jira:commented:issue", payload, http.StatusNotFound, "no such installation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, srv, c.path, "s3cret", c.body)
			if code != c.status || !strings.Contains(body, c.says) {
				t.Fatalf("%d %s, want %d saying %q", code, body, c.status, c.says)
			}
		})
	}
	if got := h.Engine().Stats().Calls.Load(); got != calls {
		t.Fatalf("%d guest calls ran for refused events", got-calls)
	}
	if got := stored(t, h, in, "event:last"); got != "avi:jira:updated:issue|jira-events" {
		t.Fatalf("a refused event reached the trigger: %q", got)
	}
}

// POST /admin/installations/{id}/schedule/{key}/fire runs the scheduled
// trigger once per call; an undeclared key is a 404.
func TestFireRunsAScheduledTriggerOnDemand(t *testing.T) {
	h, in, srv := probeHost(t)
	path := "/admin/installations/" + in.ID + "/schedule/"
	for i := range 2 {
		if code, body := post(t, srv, path+"housekeeping/fire", "s3cret", ""); code != http.StatusNoContent {
			t.Fatalf("fire %d: %d %s", i, code, body)
		}
	}
	if got := stored(t, h, in, "scheduled-count:housekeeping"); got != "2" {
		t.Fatalf("the trigger counted %q firings, want 2", got)
	}
	if code, body := post(t, srv, path+"nope/fire", "s3cret", ""); code != http.StatusNotFound || !strings.Contains(body, "no such scheduled trigger") {
		t.Fatalf("an undeclared trigger: %d %s", code, body)
	}
}
