package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// hookDelivery is one webhook request the receiver got.
type hookDelivery struct {
	header  http.Header
	body    []byte
	payload map[string]any
}

func (d hookDelivery) event() string { s, _ := d.payload["webhookEvent"].(string); return s }

// comment is the payload's comment object.
func (d hookDelivery) comment() map[string]any {
	m, _ := d.payload["comment"].(map[string]any)
	return m
}

// receiver is the bridge's Jira webhook endpoint in tests.
type receiver struct {
	srv *httptest.Server
	got chan hookDelivery

	mu      sync.Mutex
	answers []int
	stall   time.Duration // wait this long before answering the next one
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan hookDelivery, 100)}
	rc.srv = newTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := hookDelivery{header: r.Header.Clone(), body: body}
		json.Unmarshal(body, &d.payload)
		rc.mu.Lock()
		status := http.StatusOK
		if len(rc.answers) > 0 {
			status, rc.answers = rc.answers[0], rc.answers[1:]
		}
		stall := rc.stall
		rc.stall = 0
		rc.mu.Unlock()
		rc.got <- d
		if stall > 0 {
			select {
			case <-time.After(stall):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) answer(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answers = append(rc.answers, statuses...)
}

func (rc *receiver) next(t *testing.T) hookDelivery {
	t.Helper()
	select {
	case d := <-rc.got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivery within 5 s")
		return hookDelivery{}
	}
}

func (rc *receiver) none(t *testing.T, s *Sim) {
	t.Helper()
	waitfor.Until(t, 0, "the simulator to end the deliveries it started", func() string {
		if a := s.Activity(); a.Pending > 0 {
			return fmt.Sprintf("%d under way", a.Pending)
		}
		return ""
	})
	select {
	case got := <-rc.got:
		t.Fatalf("unexpected delivery %s", got.body)
	default:
	}
}

// env is a simulated site over TLS with a webhook receiver.
type env struct {
	sim  *Sim
	api  *httptest.Server
	hook *receiver
}

const testSecret = "whsec-test"

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	rc := newReceiver(t)
	if cfg.Client == nil {
		cfg.Client = rc.srv.Client()
		cfg.Client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	}
	if cfg.WebhookURL == "" {
		cfg.WebhookURL, cfg.WebhookSecret = "https://example.com/jira-events", testSecret
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 20 * time.Millisecond
	}
	s := New(cfg)
	t.Cleanup(s.Close)
	api := newTLSServer(s.API())
	t.Cleanup(api.Close)
	return &env{sim: s, api: api, hook: rc}
}

// answer is a decoded API answer.
type answer struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (e *env) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	client := *e.api.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &a.json)
	return a
}

// call makes an authenticated JSON call.
func (e *env) call(t *testing.T, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.api.URL+path, rd)
	req.Header.Set("Authorization", DefaultAuthorization)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(t, req)
}

// control calls the control API in process.
func (e *env) control(t *testing.T, method, path string, body any) (int, map[string]any, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	rec := httptest.NewRecorder()
	e.sim.Control().ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m, rec.Body.Bytes()
}

// newRequest creates a request through JSM and drains its
// jira:issue_created delivery.
func (e *env) newRequest(t *testing.T, summary string) string {
	t.Helper()
	a := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{
		"serviceDeskId": "1", "requestTypeId": "10",
		"requestFieldValues": map[string]any{"summary": summary, "description": "from chat"},
	})
	if a.status != 201 {
		t.Fatalf("create request: %d %s", a.status, a.raw)
	}
	if d := e.hook.next(t); d.event() != "jira:issue_created" {
		t.Fatalf("first delivery %s", d.body)
	}
	return a.json["issueKey"].(string)
}

// requests is GET /_sim/jira/requests.
func (e *env) requests(t *testing.T) []RequestState {
	t.Helper()
	rec := httptest.NewRecorder()
	e.sim.Control().ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/jira/requests", nil))
	var out []RequestState
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// dig follows a path of keys through decoded JSON.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// newTLSServer is httptest.NewTLSServer without the log lines of
// handshakes cut short when tests end.
func newTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}
