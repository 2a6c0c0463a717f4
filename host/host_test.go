package host_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/devca"
	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/host/trigger/schedule"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/wit/abi"
)

var cacheDir string

func TestMain(m *testing.M) { os.Exit(bundletest.Main(m, &cacheDir)) }

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a host running the probe plugin, with simulated egress
// targets reached through the dev-mode routed client over real TLS.
type fixture struct {
	host  *host.Host
	store *memstore.Store
	logs  *syncBuffer
	// seen records requests that reached the simulated services.
	seenMu sync.Mutex
	seen   []*http.Request
}

// serveTLS starts an HTTPS server on loopback with a certificate for names.
func serveTLS(t testing.TB, ca *devca.CA, h http.Handler, names ...string) string {
	t.Helper()
	cert, err := ca.Leaf(names...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func newFixture(t testing.TB, manifest []byte, ec engine.Config) *fixture {
	t.Helper()
	f := &fixture{store: memstore.New(), logs: &syncBuffer{}}
	ca, err := devca.New()
	if err != nil {
		t.Fatal(err)
	}
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.seenMu.Lock()
		f.seen = append(f.seen, r)
		f.seenMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if answerSiteCheck(w, r) {
			return
		}
		if r.URL.Path == "/hang" {
			// A service that never answers: only the caller's deadline ends it.
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/big" {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 21<<20))
			return
		}
		fmt.Fprintf(w, `{"ok":true,"path":%q,"auth":%q,"body":%q}`, r.URL.Path, r.Header.Get("Authorization"), body)
	})
	telegram := serveTLS(t, ca, record, "api.telegram.org")
	other := serveTLS(t, ca, record, "evil.example.com")
	// Every site a test installs: an install asks the site (jirasite).
	sites := []string{"example.atlassian.net", "other.atlassian.net", "a.atlassian.net", "b.atlassian.net", "c.atlassian.net"}
	for i := range 50 {
		sites = append(sites, fmt.Sprintf("site%d.atlassian.net", i))
	}
	jira := serveTLS(t, ca, record, sites...)
	routes := map[string]string{"api.telegram.org": telegram, "evil.example.com": other}
	for _, s := range sites {
		routes[s] = jira
	}
	ec.CacheDir = cacheDir
	h, err := host.New(context.Background(), host.Config{
		Store:     f.store,
		Trust:     bundletest.Trust(t),
		Engine:    ec,
		HTTP:      reroute.Client(routes, ca.Pool()),
		Logger:    slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PublicURL: "https://127.0.0.1:8443",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	if err := h.Load(context.Background(), bundletest.Probe(t, manifest)); err != nil {
		t.Fatal(err)
	}
	f.host = h
	return f
}

// answerSiteCheck answers what an install asks the Jira site (package
// jirasite), as Jira Cloud does, and reports whether it did.
func answerSiteCheck(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/rest/api/3/myself":
		if r.Header.Get("Authorization") == refusedAuthorization {
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, "Client must be authenticated to access this resource.")
			return true
		}
		fmt.Fprintf(w, `{"accountId":"app-1","displayName":"ChatBridge","accountType":"app","ok":true,"path":%q,"auth":%q}`, r.URL.Path, r.Header.Get("Authorization"))
		return true
	case "/rest/servicedeskapi/servicedesk":
		fmt.Fprint(w, `{"size":1,"start":0,"limit":50,"isLastPage":true,"values":[{"id":"1","projectKey":"SUP"}]}`)
		return true
	}
	return false
}

// siteFor is a site with test credentials.
// refusedAuthorization is credentials the fixture's Jira sites refuse.
const refusedAuthorization = "Basic cmVmdXNlZDpyZWZ1c2Vk"

// An install finds the app account from the credentials it is given, and
// refuses credentials that do not work or belong to another account
// (issue 16, finding 9: an empty account id made the bridge echo the
// customer's own messages).
func TestInstallTakesTheAppAccountFromTheSite(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	ctx := context.Background()
	in, _, err := f.host.Install(ctx, tenant.Site{URL: "https://example.atlassian.net", Authorization: "Basic c2l0ZTp0b2tlbg=="})
	if err != nil || in.AppAccountID != "app-1" {
		t.Fatalf("without an account id: %+v, %v", in, err)
	}
	for _, tt := range []struct {
		name string
		site tenant.Site
		says string
	}{
		{"refused credentials", tenant.Site{URL: "https://a.atlassian.net", Authorization: refusedAuthorization}, "API token"},
		{"another account's credentials", tenant.Site{URL: "https://b.atlassian.net", AppAccountID: "someone-else", Authorization: "Basic c2l0ZTp0b2tlbg=="}, "belong to account app-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.host.Install(ctx, tt.site)
			if !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v", err)
			}
			if len(f.host.Registry().List()) != 1 {
				t.Fatal("a refused install was registered")
			}
		})
	}
}

func siteFor(url string) tenant.Site {
	return tenant.Site{URL: url, AppAccountID: "app-1", Authorization: "Basic c2l0ZTp0b2tlbg=="}
}

func (f *fixture) install(t testing.TB, site string) tenant.Installation {
	t.Helper()
	in, _, err := f.host.Install(context.Background(), siteFor(site))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// result is the probe's JSON answer.
type result struct {
	OK     bool              `json:"ok"`
	Code   string            `json:"code"`
	Value  string            `json:"value"`
	Keys   []string          `json:"keys"`
	Next   string            `json:"next"`
	Status int               `json:"status"`
	Match  bool              `json:"match"`
	Header map[string]string `json:"header"`
}

func (f *fixture) probeCtx(ctx context.Context, in tenant.Installation, op map[string]any) (result, error) {
	body, _ := json.Marshal(op)
	resp, err := webtrigger.Invoke(ctx, f.host, in.ID, "probe", &abi.WebTriggerRequest{Method: "POST", Path: "/", Body: body})
	if err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		return result{}, fmt.Errorf("probe answered %d %q: %w", resp.Status, resp.Body, err)
	}
	return r, nil
}

func (f *fixture) probe(t *testing.T, in tenant.Installation, op map[string]any) result {
	t.Helper()
	r, err := f.probeCtx(context.Background(), in, op)
	if err != nil {
		t.Fatalf("probe %v: %v", op["op"], err)
	}
	return r
}

func TestEveryCapabilityWorksFromARealModule(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")

	t.Run("storage set, get, query with cursor, delete", func(t *testing.T) {
		for i := range 5 {
			if r := f.probe(t, in, map[string]any{"op": "storage.set", "key": fmt.Sprintf("chat:%d", i), "value": fmt.Sprint("v", i)}); !r.OK {
				t.Fatalf("set: %+v", r)
			}
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "chat:3"}); r.Value != "v3" {
			t.Fatalf("get: %+v", r)
		}
		var all []string
		cursor := ""
		for {
			r := f.probe(t, in, map[string]any{"op": "storage.query", "key": "chat:", "cursor": cursor, "limit": 2})
			all = append(all, r.Keys...)
			if r.Next == "" {
				break
			}
			cursor = r.Next
		}
		if strings.Join(all, ",") != "chat:0,chat:1,chat:2,chat:3,chat:4" {
			t.Fatalf("paged query returned %v", all)
		}
		f.probe(t, in, map[string]any{"op": "storage.delete", "key": "chat:3"})
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "chat:3"}); r.Code != "not-found" {
			t.Fatalf("get after delete: %+v", r)
		}
	})

	t.Run("storage transact applies all of a claim or none of it", func(t *testing.T) {
		if r := f.probe(t, in, map[string]any{"op": "storage.claim", "key": "claim:1", "value": "first"}); !r.OK || !r.Match {
			t.Fatalf("first claim: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.claim", "key": "claim:1", "value": "second"}); !r.OK || r.Match {
			t.Fatalf("second claim of a held key: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "claim:1:by"}); r.Value != "first" {
			t.Fatalf("the refused claim's second write went through: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.claim", "key": "bad/key", "value": "x"}); r.Code != "invalid-argument" {
			t.Fatalf("a transaction with an invalid key: %+v", r)
		}
	})

	t.Run("secrets are used by reference and never returned", func(t *testing.T) {
		f.probe(t, in, map[string]any{"op": "secrets.set", "key": "bot-token", "value": "123:SECRET-token"})
		if r := f.probe(t, in, map[string]any{"op": "secrets.compare", "key": "bot-token", "value": "123:SECRET-token"}); !r.Match {
			t.Fatalf("compare with the right value: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "secrets.compare", "key": "bot-token", "value": "wrong"}); r.Match || !r.OK {
			t.Fatalf("compare with a wrong value: %+v", r)
		}
		mac := hmac.New(sha256.New, []byte("123:SECRET-token"))
		mac.Write([]byte("payload"))
		if r := f.probe(t, in, map[string]any{"op": "secrets.verify", "key": "bot-token", "value": "payload", "mac": base64.StdEncoding.EncodeToString(mac.Sum(nil))}); !r.Match {
			t.Fatalf("verify-hmac: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.query", "key": ""}); strings.Contains(strings.Join(r.Keys, ","), "bot-token") {
			t.Fatalf("a storage query returned a secret: %v", r.Keys)
		}
		if r := f.probe(t, in, map[string]any{"op": "secrets.compare", "key": "chatbridge.host.jira-authorization", "value": "x"}); r.Code != "access-denied" {
			t.Fatalf("the host's own secret was reachable: %+v", r)
		}
	})

	t.Run("fetch substitutes a secret the module never sees", func(t *testing.T) {
		r := f.probe(t, in, map[string]any{"op": "fetch", "method": "POST", "url": "https://api.telegram.org/bot{{secret:bot-token}}/getMe", "value": "hi"})
		if !r.OK || r.Status != 200 || !strings.Contains(r.Value, `"/bot123:SECRET-token/getMe"`) {
			t.Fatalf("fetch: %+v", r)
		}
	})

	t.Run("jira adds the installation's credentials", func(t *testing.T) {
		r := f.probe(t, in, map[string]any{"op": "jira", "method": "GET", "url": "/rest/api/3/myself", "headers": map[string]string{"Authorization": "forged"}})
		if !r.OK || !strings.Contains(r.Value, `"auth":"Basic c2l0ZTp0b2tlbg=="`) || !strings.Contains(r.Value, `"/rest/api/3/myself"`) {
			t.Fatalf("jira: %+v", r)
		}
		if r := f.probe(t, in, map[string]any{"op": "jira", "url": "https://evil.example.com/x"}); r.Code != "invalid-argument" {
			t.Fatalf("a jira call off the site: %+v", r)
		}
	})

	t.Run("queue push reaches the consumer, with a retry it asked for", func(t *testing.T) {
		f.probe(t, in, map[string]any{"op": "queue.push", "key": "deliveries", "value": "m1"})
		f.probe(t, in, map[string]any{"op": "queue.push", "key": "deliveries", "value": "retry-once"})
		waitfor.Until(t, 10*time.Second, "the condition", waitfor.True(func() bool {
			a := f.probe(t, in, map[string]any{"op": "storage.get", "key": "queue:got:deliveries:m1"})
			b := f.probe(t, in, map[string]any{"op": "storage.get", "key": "queue:got:deliveries:retry-once"})
			return a.Value == "1" && b.Value == "2"
		}))

		if r := f.probe(t, in, map[string]any{"op": "queue.push", "key": "undeclared", "value": "x"}); r.Code != "invalid-argument" {
			t.Fatalf("push to an undeclared queue: %+v", r)
		}
	})

	t.Run("log is tagged and redacts secrets", func(t *testing.T) {
		f.probe(t, in, map[string]any{"op": "log", "value": "hello from the module", "n": 7})
		logs := f.logs.String()
		if !strings.Contains(logs, `"msg":"hello from the module"`) || !strings.Contains(logs, `"installation":"`+in.ID+`"`) {
			t.Fatalf("log record missing or untagged:\n%s", logs)
		}
		if strings.Contains(logs, "SECRET-token") || strings.Contains(logs, "c2l0ZTp0b2tlbg") {
			t.Fatalf("a secret reached the log:\n%s", logs)
		}
	})

	t.Run("events, scheduled triggers and resolvers reach the module", func(t *testing.T) {
		if err := jiraevent.Deliver(context.Background(), f.host, in.ID, "avi:jira:commented:issue", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "event:last"}); r.Value != "avi:jira:commented:issue|jira-events" {
			t.Fatalf("event: %+v", r)
		}
		// filter.ignoreSelf: the app's own comment never reaches the module.
		self := []byte(`{"webhookEvent":"jira:issue_updated","user":{"accountId":"app-1"}}`)
		if err := jiraevent.Deliver(context.Background(), f.host, in.ID, "avi:jira:updated:issue", self); err != nil {
			t.Fatal(err)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "event:last"}); r.Value != "avi:jira:commented:issue|jira-events" {
			t.Fatalf("an event the app caused reached the module: %+v", r)
		}
		agent := []byte(`{"webhookEvent":"jira:issue_updated","user":{"accountId":"agent-7"}}`)
		if err := jiraevent.Deliver(context.Background(), f.host, in.ID, "avi:jira:updated:issue", agent); err != nil {
			t.Fatal(err)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "event:last"}); r.Value != "avi:jira:updated:issue|jira-events" {
			t.Fatalf("an agent's event: %+v", r)
		}
		if err := schedule.ForHost(f.host).Scheduled(context.Background(), in.ID, "housekeeping"); err != nil {
			t.Fatal(err)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "scheduled:housekeeping"}); r.Value != "fired" {
			t.Fatalf("scheduled: %+v", r)
		}
		out, err := resolver.Call(context.Background(), f.host, in.ID, "config.get", []byte("p"))
		if err != nil || string(out) != "config.get:p" {
			t.Fatalf("resolver: %q %v", out, err)
		}
		if _, err := resolver.Call(context.Background(), f.host, in.ID, "fail", nil); !errors.Is(err, abi.InvalidArgument) {
			t.Fatalf("failing resolver: got %v, want invalid-argument", err)
		}
	})

	t.Run("the module sees its installation's context", func(t *testing.T) {
		r := f.probe(t, in, map[string]any{"op": "context"})
		if r.Value != in.ID+"|https://example.atlassian.net|probe" {
			t.Fatalf("context: %+v", r)
		}
	})
}

func TestRefusalsAreErrorCodesTheModuleSees(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	a := f.install(t, "https://example.atlassian.net")
	b := f.install(t, "https://other.atlassian.net")
	cases := []struct {
		name string
		op   map[string]any
		code string
	}{
		{"undeclared egress", map[string]any{"op": "fetch", "url": "https://evil.example.com/"}, "access-denied"},
		{"plain http egress", map[string]any{"op": "fetch", "url": "http://api.telegram.org/"}, "invalid-argument"},
		{"oversized key", map[string]any{"op": "storage.set", "key": strings.Repeat("k", 501), "value": "v"}, "invalid-argument"},
		{"key outside the charset", map[string]any{"op": "storage.set", "key": "a/b", "value": "v"}, "invalid-argument"},
		{"oversized value", map[string]any{"op": "storage.setbig", "key": "big", "n": 240<<10 + 1}, "limit-exceeded"},
		{"oversized response", map[string]any{"op": "fetch", "url": "https://api.telegram.org/big"}, "limit-exceeded"},
		{"over-long page", map[string]any{"op": "storage.query", "key": "", "limit": 101}, "invalid-argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := f.probe(t, a, c.op); r.OK || r.Code != c.code {
				t.Fatalf("got %+v, want code %s", r, c.code)
			}
		})
	}
	t.Run("a value at the limit is accepted", func(t *testing.T) {
		if r := f.probe(t, a, map[string]any{"op": "storage.setbig", "key": "big", "n": 240 << 10}); !r.OK {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("another installation's key does not exist for this one", func(t *testing.T) {
		f.probe(t, a, map[string]any{"op": "storage.set", "key": "chat:42", "value": "A's mapping"})
		if r := f.probe(t, b, map[string]any{"op": "storage.get", "key": "chat:42"}); r.Code != "not-found" {
			t.Fatalf("B read A's key: %+v", r)
		}
		if r := f.probe(t, b, map[string]any{"op": "storage.query", "key": "chat:"}); len(r.Keys) != 0 {
			t.Fatalf("B's query listed A's keys: %v", r.Keys)
		}
	})
	t.Run("no file, no environment, no arguments", func(t *testing.T) {
		for _, path := range []string{"/etc/passwd", "plugin.wasm", "."} {
			if r := f.probe(t, a, map[string]any{"op": "file", "key": path}); r.OK || !strings.HasPrefix(r.Code, "file:") {
				t.Fatalf("reading %s: %+v", path, r)
			}
		}
		if r := f.probe(t, a, map[string]any{"op": "env"}); r.Value != "0|0" {
			t.Fatalf("environment|args = %s, want 0|0", r.Value)
		}
	})
	t.Run("the clock is real", func(t *testing.T) {
		r := f.probe(t, a, map[string]any{"op": "time"})
		if got := r.Value; got < fmt.Sprint(time.Now().Add(-time.Minute).Unix()) {
			t.Fatalf("module clock reads %s, host %d", got, time.Now().Unix())
		}
	})
}

func TestAnInfiniteLoopIsStoppedAtTheDeadlineAndTheHostServesOn(t *testing.T) {
	for _, mech := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		t.Run(mech.String(), func(t *testing.T) {
			f := newFixture(t, nil, engine.Config{Deadline: mech})
			in := f.install(t, "https://example.atlassian.net")
			f.probe(t, in, map[string]any{"op": "echo"}) // a warm instance, so the deadline measures the loop
			const deadline = time.Second
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			_, err := f.probeCtx(ctx, in, map[string]any{"op": "loop"})
			took := time.Since(start)
			if !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("loop ended with %v, want a timeout", err)
			}
			if took > deadline*5/4 {
				t.Fatalf("loop stopped after %v, more than 1.25x the %v deadline", took, deadline)
			}
			t.Logf("stopped after %v (deadline %v)", took, deadline)
			if r := f.probe(t, in, map[string]any{"op": "echo"}); !r.OK {
				t.Fatalf("the next request failed: %+v", r)
			}
			if got := f.host.Engine().Stats().Timeouts.Load(); got != 1 {
				t.Fatalf("timeouts counted %d, want 1", got)
			}
		})
	}
}

func TestMemoryOverTheCapTrapsWithoutHarmingTheHost(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")
	_, err := f.probeCtx(context.Background(), in, map[string]any{"op": "hog", "n": 100}) // 100 MiB against a 64 MiB cap
	if !errors.Is(err, engine.ErrTrap) {
		t.Fatalf("hog ended with %v, want a trap", err)
	}
	if r := f.probe(t, in, map[string]any{"op": "hog", "n": 1}); !r.OK || r.Value != "1" {
		t.Fatalf("after the trap: %+v (a fresh instance should hold exactly 1 MiB)", r)
	}
}

func TestAGlobalOfOneInstallationIsNeverSeenByAnother(t *testing.T) {
	f := newFixture(t, nil, engine.Config{MaxInstances: 2})
	a := f.install(t, "https://a.atlassian.net")
	b := f.install(t, "https://b.atlassian.net")
	c := f.install(t, "https://c.atlassian.net")
	f.probe(t, a, map[string]any{"op": "stash.set", "value": "A's secret"})
	for range 20 {
		for _, other := range []tenant.Installation{b, c} {
			if r := f.probe(t, other, map[string]any{"op": "stash.get"}); r.Value != "" {
				t.Fatalf("installation %s saw %q stashed by another", other.ID, r.Value)
			}
		}
		// Back to A on whatever instance is free: its own stash may be gone
		// (instances are reset between installations), never another's.
		if r := f.probe(t, a, map[string]any{"op": "stash.get"}); r.Value != "" && r.Value != "A's secret" {
			t.Fatalf("installation A saw %q", r.Value)
		}
		f.probe(t, a, map[string]any{"op": "stash.set", "value": "A's secret"})
	}
	// With two instances for three installations, instances were handed
	// from one installation to another: the test proved the reset, not
	// just separate instances.
	if resets := f.host.Engine().Stats().Resets.Load(); resets == 0 {
		t.Fatal("no instance was reset between installations")
	}
}

func TestConcurrentInvocationsAcrossInstallationsStayUnmixed(t *testing.T) {
	// Fewer instances than installations: calls are served by instances
	// handed from one installation to another (reset), as in production.
	f := newFixture(t, nil, engine.Config{MaxInstances: 16})
	const sites, calls = 50, 1000
	insts := make([]tenant.Installation, sites)
	for i := range insts {
		insts[i] = f.install(t, fmt.Sprintf("https://site%d.atlassian.net", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := insts[i%sites]
			key := fmt.Sprintf("call:%d", i)
			want := fmt.Sprintf("%s/%d", in.ID, i)
			r, err := f.probeCtx(ctx, in, map[string]any{"op": "storage.set", "key": key, "value": want})
			if err == nil && !r.OK {
				err = fmt.Errorf("set: %+v", r)
			}
			if err == nil {
				r, err = f.probeCtx(ctx, in, map[string]any{"op": "context"})
				if err == nil && !strings.HasPrefix(r.Value, in.ID+"|") {
					err = fmt.Errorf("call %d for %s ran as %q", i, in.ID, r.Value)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every value is where it was written, and nowhere else.
	for i := range calls {
		in := insts[i%sites]
		for _, other := range []tenant.Installation{in, insts[(i+1)%sites]} {
			r := f.probe(t, other, map[string]any{"op": "storage.get", "key": fmt.Sprintf("call:%d", i)})
			if other.ID == in.ID && r.Value != fmt.Sprintf("%s/%d", in.ID, i) {
				t.Fatalf("call %d: stored %+v", i, r)
			}
			if other.ID != in.ID && r.Code != "not-found" {
				t.Fatalf("call %d's value leaked to %s: %+v", i, other.ID, r)
			}
		}
	}
	if live := f.host.Engine().Live(); live > 16 {
		t.Fatalf("%d live instances, over the cap of 16", live)
	}
	t.Logf("%d instantiations, %d resets for %d calls", f.host.Engine().Stats().Instantiations.Load(), f.host.Engine().Stats().Resets.Load(), 2*calls)
}

func TestATamperedOrUnsignedBundleIsRefusedBeforeCompile(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	good := bundletest.Probe(t, nil)
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   error
	}{
		{"module replaced by garbage after signing", func(t *testing.T, dir string) {
			// Not even wasm: if the host compiled before verifying, the error would be a compile error.
			writeFile(t, filepath.Join(dir, "plugin.wasm"), []byte("not a module"))
		}, bundle.ErrTampered},
		{"manifest widened after signing", func(t *testing.T, dir string) {
			m, _ := os.ReadFile(filepath.Join(dir, "manifest.yml"))
			writeFile(t, filepath.Join(dir, "manifest.yml"), bytes.Replace(m, []byte("api.telegram.org"), []byte("evil.example.com"), 1))
		}, bundle.ErrTampered},
		{"signature removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "signature.json")); err != nil {
				t.Fatal(err)
			}
		}, bundle.ErrUnsigned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, good)
			c.mutate(t, dir)
			err := f.host.Load(context.Background(), dir)
			if !errors.Is(err, c.want) {
				t.Fatalf("Load: got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("signed by an untrusted key", func(t *testing.T) {
		dir := copyDir(t, good)
		other, err := bundle.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := bundle.Sign(dir, other); err != nil {
			t.Fatal(err)
		}
		if err := f.host.Load(context.Background(), dir); !errors.Is(err, bundle.ErrUntrusted) {
			t.Fatalf("Load: got %v, want ErrUntrusted", err)
		}
	})
	if f.host.Bundle() == nil {
		t.Fatal("a refused bundle unloaded the running one")
	}
}

func TestAModuleImportingAnUndeclaredCapabilityIsRefused(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	narrowed := bytes.Replace(m, []byte("capabilities: [storage, secrets, fetch, jira, queue, log, realtime]"), []byte("capabilities: [storage, log]"), 1)
	err = f.host.Load(context.Background(), bundletest.Probe(t, narrowed))
	if err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("Load: got %v, want an undeclared-capability error", err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, e.Name()), b)
	}
	return dst
}
