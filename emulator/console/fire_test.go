package console

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
	"slices"
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

// probeConsole is the console attached to a host running the probe plugin
// (scheduled trigger "housekeeping", trigger "jira-events" on
// avi:jira:commented:issue and avi:jira:updated:issue, consumer
// "deliveries"), installed on a Jira site that answers the install's checks.
func probeConsole(t *testing.T) (*httptest.Server, *host.Host, tenant.Installation) {
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
	c := New()
	c.Attach(h, nil)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return srv, h, in
}

// probeStored reads a key of the probe's storage through its web trigger.
func probeStored(t *testing.T, h *host.Host, in tenant.Installation, key string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"op": "storage.get", "key": key})
	resp, err := webtrigger.Invoke(context.Background(), h, in.ID, "probe", &abi.WebTriggerRequest{Method: "POST", Path: "/", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		OK          bool
		Code, Value string
	}
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("probe answered %q: %v", resp.Body, err)
	}
	if !r.OK {
		return r.Code
	}
	return r.Value
}

func consolePost(t *testing.T, srv *httptest.Server, path, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The console lists the loaded manifest's scheduled triggers, product
// events and consumers, and its fire routes run them through the admin
// API's: the trigger's effect is in the plugin's storage, and the admin
// API's refusals reach the page as they are.
func TestConsoleFiresTheManifestsTriggersThroughTheAdminAPI(t *testing.T) {
	srv, h, in := probeConsole(t)

	resp, err := http.Get(srv.URL + "/_console/state")
	if err != nil {
		t.Fatal(err)
	}
	var st state
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := st.Manifest
	if !slices.Equal(m.WebTriggers, []string{"probe"}) || len(m.Scheduled) != 1 || m.Scheduled[0] != (scheduled{"housekeeping", "hour"}) ||
		len(m.Triggers) != 1 || !slices.Equal(m.Triggers[0].Events, []string{"avi:jira:commented:issue", "avi:jira:updated:issue"}) ||
		len(m.Consumers) != 1 || m.Consumers[0] != (consumer{"deliveries", "deliveries"}) {
		t.Fatalf("the state lists the manifest as %+v", m)
	}

	base := "/_console/fire/" + in.ID
	if code, body := consolePost(t, srv, base+"/schedule/housekeeping", ""); code != http.StatusNoContent {
		t.Fatalf("fire housekeeping: %d %s", code, body)
	}
	if got := probeStored(t, h, in, "scheduled-count:housekeeping"); got != "1" {
		t.Fatalf("the scheduled trigger counted %q firings, want 1", got)
	}
	if code, body := consolePost(t, srv, base+"/events/avi:jira:commented:issue", `{"issue":{"key":"SUP-1"}}`); code != http.StatusNoContent {
		t.Fatalf("send avi:jira:commented:issue: %d %s", code, body)
	}
	if got := probeStored(t, h, in, "event:last"); got != "avi:jira:commented:issue|jira-events" {
		t.Fatalf("the trigger stored %q", got)
	}

	calls := h.Engine().Stats().Calls.Load()
	for _, c := range []struct {
		name, path, body string
		header           []string
		status           int
		says             string
	}{
		{"an undeclared scheduled trigger", base + "/schedule/nope", "", nil, http.StatusNotFound, "no such scheduled trigger"},
		{"an event no trigger subscribes to", base + "/events/avi:jira:created:issue", "{}", nil, http.StatusNotFound, "subscribed: avi:jira:commented:issue"},
		{"a payload that is not JSON", base + "/events/avi:jira:commented:issue", "nope", nil, http.StatusBadRequest, "must be JSON"},
		{"an unknown installation", "/_console/fire/nope/schedule/housekeeping", "", nil, http.StatusNotFound, "no such installation"},
		{"a cross-site page", base + "/schedule/housekeeping", "", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross-site"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := consolePost(t, srv, c.path, c.body, c.header...)
			if code != c.status || !strings.Contains(body, c.says) {
				t.Fatalf("%d %s, want %d saying %q", code, body, c.status, c.says)
			}
		})
	}
	if got := h.Engine().Stats().Calls.Load(); got != calls {
		t.Fatalf("%d guest calls ran for refused firings", got-calls)
	}
}

func TestConsoleFireAnswersUnavailableUntilAttached(t *testing.T) {
	rec := httptest.NewRecorder()
	New().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_console/fire/x/schedule/y", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("fire before Attach: %d", rec.Code)
	}
}
