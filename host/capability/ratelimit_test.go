package capability

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// The rate-limit tests talk TLS on loopback. They assert what a server saw
// and when, relative to answers it gave (lower bounds only: a slow machine
// makes them pass later, never fail).

// pluginPacing is the pacing table of plugin/manifest.yml, by which the
// host paces the bridge's requests.
func pluginPacing(t *testing.T) *ratelimit.Table {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	table, err := m.Pacing()
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// telegramChatEvery is the spacing plugin/manifest.yml declares for one
// private chat (1 per 1100ms).
const telegramChatEvery = 1100 * time.Millisecond

// egressAll grants every capability and every host.
type egressAll struct{}

func (egressAll) HasCapability(string) bool        { return true }
func (egressAll) EgressAllowedAt(string, int) bool { return true }
func (egressAll) HasQueue(string) bool             { return true }
func (egressAll) HasScope(string) bool             { return true }

const tgToken = "7000000001:AAHdevSimulatorToken_0123456789abcd"

// loopClient sends every connection to srv, verifying its certificate
// (issued to example.com) whatever host name the URL has.
func loopClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// lockedBuffer collects log output from concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type siteOf string

func (s siteOf) JiraBase(context.Context, string) (string, string, error) {
	return string(s), "Basic c2l0ZTpzZWNyZXQ=", nil
}

// limitHost is a capability host whose outbound requests all reach srv.
type limitHost struct {
	h      *host
	m      api.Module
	logs   *lockedBuffer
	mu     sync.Mutex
	events []Event
}

func newLimitHost(t *testing.T, srv *httptest.Server, cfg ratelimit.Config, site JiraSite) *limitHost {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	m, err := r.Instantiate(ctx, memoryModule)
	if err != nil {
		t.Fatal(err)
	}
	lh := &limitHost{m: m, logs: &lockedBuffer{}}
	store := memstore.New()
	for _, inst := range []string{"inst-a", "inst-b"} {
		if err := store.Set(ctx, inst, storage.Secret, "tg", []byte(tgToken), 0); err != nil {
			t.Fatal(err)
		}
	}
	deps := Deps{
		Store: store, Jira: site, HTTP: loopClient(srv), Limiter: ratelimit.New(cfg), Pacing: pluginPacing(t),
		Logger: slog.New(slog.NewTextHandler(lh.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Trace: func(ev Event) {
			lh.mu.Lock()
			lh.events = append(lh.events, ev)
			lh.mu.Unlock()
		},
	}
	lh.h = &host{deps: deps, limits: deps.Limits.withDefaults(), policy: egressAll{}}
	return lh
}

// call runs fetch (or jira) for installation with req in guest memory.
func (lh *limitHost) call(t *testing.T, installation string, jira bool, req abi.Request) (*abi.Response, abi.Code) {
	t.Helper()
	b := req.Append(nil)
	if !lh.m.Memory().Write(0, b) {
		t.Fatal("request too large for the test guest")
	}
	c := &Call{Installation: installation, InvocationID: "inv", Log: lh.h.deps.Logger}
	ctx := WithCall(context.Background(), c)
	var res int64
	if jira {
		res = lh.h.jira(ctx, lh.m, 0, uint32(len(b)))
	} else {
		res = lh.h.fetch(ctx, lh.m, 0, uint32(len(b)))
	}
	code, _ := abi.SplitResult(res)
	if code != abi.OK {
		return nil, code
	}
	var resp abi.Response
	if err := resp.Decode(c.pending); err != nil {
		t.Fatal(err)
	}
	return &resp, abi.OK
}

func sendMessage(chat int64, text string) abi.Request {
	body, _ := json.Marshal(map[string]any{"chat_id": chat, "text": text})
	return abi.Request{Method: "POST", URL: "https://api.telegram.org/bot{{secret:tg}}/sendMessage",
		Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: body}
}

// seen is one request a test server received.
type seen struct {
	at     time.Time
	path   string
	chat   int64
	text   string
	status int
}

// recorder is a TLS server that records requests and answers by script,
// given the request's index.
type recorder struct {
	mu     sync.Mutex
	seen   []seen
	script func(i int, r *http.Request) (status int, header http.Header, body string)
	srv    *httptest.Server
}

func newRecorder(t *testing.T, script func(i int, r *http.Request) (int, http.Header, string)) *recorder {
	rec := &recorder{script: script}
	rec.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			ChatID int64  `json:"chat_id"`
			Text   string `json:"text"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &b)
		rec.mu.Lock()
		i := len(rec.seen)
		status, header, answer := rec.script(i, r)
		// Recorded before answering: a later request is compared with
		// the time this answer was given at the latest.
		rec.seen = append(rec.seen, seen{at: time.Now(), path: r.URL.Path, chat: b.ChatID, text: b.Text, status: status})
		rec.mu.Unlock()
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.seen...)
}

const tgOK = `{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"}}}`

func tg429(n int) string {
	return `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after ` + strconv.Itoa(n) + `","parameters":{"retry_after":` + strconv.Itoa(n) + `}}`
}

// TestTelegramRepliesArriveOnceInOrderPacedAndNotBeforeRetryAfter is the
// acceptance scenario of issue #6 at the host: Telegram answers one call
// 500 and a later one 429 with retry_after 2, and the module (worse than
// the bridge) retries at once each time. Every reply arrives once, in
// order; requests to the chat are at least 1.1 s apart; nothing reaches
// the server before the retry_after has passed.
func TestTelegramRepliesArriveOnceInOrderPacedAndNotBeforeRetryAfter(t *testing.T) {
	rec := newRecorder(t, func(i int, r *http.Request) (int, http.Header, string) {
		switch i {
		case 1:
			return 500, nil, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`
		case 3:
			return 429, nil, tg429(2)
		}
		return 200, nil, tgOK
	})
	lh := newLimitHost(t, rec.srv, ratelimit.Config{MaxWait: 5 * time.Second}, nil)
	start := time.Now()
	replies := []string{"r1", "r2", "r3", "r4"}
	for _, text := range replies {
		for attempt := 0; ; attempt++ {
			resp, code := lh.call(t, "inst-a", false, sendMessage(1001, text))
			if code != abi.OK {
				t.Fatalf("%s: code %v", text, code)
			}
			if resp.Status == 200 {
				break
			}
			if attempt > 3 {
				t.Fatalf("%s: still %d after %d attempts", text, resp.Status, attempt)
			}
		}
	}
	got := rec.requests()
	var delivered []string
	var refused time.Time
	for i, s := range got {
		if s.status == 200 {
			delivered = append(delivered, s.text)
		}
		// Requests to one chat go out 1.1 s apart at least, counted from
		// before the first: the i-th cannot reach the server earlier.
		if min := time.Duration(i) * telegramChatEvery; s.at.Sub(start) < min {
			t.Errorf("request %d reached the server %v after the start, before the chat's pace allows (%v)", i, s.at.Sub(start), min)
		}
		if !refused.IsZero() && s.at.Before(refused.Add(2*time.Second)) {
			t.Errorf("request %d reached the server %v after a 429 with retry_after 2", i, s.at.Sub(refused))
		}
		if s.status == 429 {
			refused = s.at
		}
	}
	if strings.Join(delivered, ",") != strings.Join(replies, ",") {
		t.Errorf("delivered %v, want each of %v once, in order", delivered, replies)
	}
	if len(got) != 6 {
		t.Errorf("the server saw %d requests, want 6 (4 replies, one 500 and one 429 retried)", len(got))
	}
}

// TestTelegramWaitBeyondMaxWaitIsAnsweredAsTelegramWould: a wait longer
// than MaxWait is not sent; the module gets Telegram's own 429 with a
// retry_after covering the rest of the wait.
func TestTelegramWaitBeyondMaxWaitIsAnsweredAsTelegramWould(t *testing.T) {
	rec := newRecorder(t, func(i int, r *http.Request) (int, http.Header, string) {
		if i == 0 {
			return 429, nil, tg429(30)
		}
		return 200, nil, tgOK
	})
	lh := newLimitHost(t, rec.srv, ratelimit.Config{}, nil)
	if resp, _ := lh.call(t, "inst-a", false, sendMessage(1001, "first")); resp == nil || resp.Status != 429 {
		t.Fatalf("first call: %+v", resp)
	}
	// Another chat of the same bot: held back too.
	resp, code := lh.call(t, "inst-a", false, sendMessage(2002, "second"))
	if code != abi.OK || resp.Status != 429 {
		t.Fatalf("second call: code %v response %+v, want a 429", code, resp)
	}
	var body struct {
		OK         bool `json:"ok"`
		ErrorCode  int  `json:"error_code"`
		Parameters struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || body.OK || body.ErrorCode != 429 ||
		body.Parameters.RetryAfter < 20 || body.Parameters.RetryAfter > 30 {
		t.Errorf("synthesized body %s (%v), want a Bot API 429 with retry_after about 30", resp.Body, err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("the server saw %d requests, want only the first", n)
	}
	if s := lh.h.deps.Limiter.Stats(); s.Refused != 1 || s.Blocks != 1 {
		t.Errorf("limiter stats %+v, want one block and one refusal", s)
	}
	lh.mu.Lock()
	last := lh.events[len(lh.events)-1]
	lh.mu.Unlock()
	if last.Outcome != "rate-limited" || last.Status != 429 || last.Host != "api.telegram.org" {
		t.Errorf("trace of the refused call: %+v", last)
	}
}

// TestJira429RetryAfterHoldsBackTheSite: after Jira answers 429 with
// Retry-After, the next call to the site within the window is not sent and
// the module gets a 429 with Retry-After.
func TestJira429RetryAfterHoldsBackTheSite(t *testing.T) {
	rec := newRecorder(t, func(i int, r *http.Request) (int, http.Header, string) {
		if i == 0 {
			return 429, http.Header{"Retry-After": {"30"}}, `{"errorMessages":["rate limited"]}`
		}
		return 201, nil, `{}`
	})
	lh := newLimitHost(t, rec.srv, ratelimit.Config{}, siteOf(rec.srv.URL))
	comment := abi.Request{Method: "POST", URL: "/rest/servicedeskapi/request/SUP-1/comment", Body: []byte(`{"body":"x","public":true}`)}
	if resp, code := lh.call(t, "inst-a", true, comment); code != abi.OK || resp.Status != 429 {
		t.Fatalf("first call: %v %+v", code, resp)
	}
	create := abi.Request{Method: "POST", URL: "/rest/servicedeskapi/request", Body: []byte(`{}`)}
	resp, code := lh.call(t, "inst-a", true, create)
	if code != abi.OK || resp.Status != 429 {
		t.Fatalf("second call: code %v response %+v, want a 429", code, resp)
	}
	if n, err := strconv.Atoi(abi.Get(resp.Headers, "Retry-After")); err != nil || n < 20 || n > 30 {
		t.Errorf("Retry-After %q, want about 30", abi.Get(resp.Headers, "Retry-After"))
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("the site saw %d requests, want only the first", n)
	}
}

// TestInstallationsDoNotHoldEachOtherBack: a 429 to one installation's
// bot does not delay another installation using the same bot and chat.
func TestInstallationsDoNotHoldEachOtherBack(t *testing.T) {
	rec := newRecorder(t, func(i int, r *http.Request) (int, http.Header, string) {
		if i == 0 {
			return 429, nil, tg429(60)
		}
		return 200, nil, tgOK
	})
	lh := newLimitHost(t, rec.srv, ratelimit.Config{}, nil)
	if resp, _ := lh.call(t, "inst-a", false, sendMessage(1001, "a1")); resp == nil || resp.Status != 429 {
		t.Fatalf("inst-a: %+v", resp)
	}
	if resp, _ := lh.call(t, "inst-b", false, sendMessage(1001, "b1")); resp == nil || resp.Status != 200 {
		t.Fatalf("inst-b after inst-a's 429: %+v, want sent", resp)
	}
	if resp, _ := lh.call(t, "inst-a", false, sendMessage(1001, "a2")); resp == nil || resp.Status != 429 {
		t.Fatalf("inst-a again: %+v", resp)
	}
	got := rec.requests()
	if len(got) != 2 || got[1].text != "b1" {
		t.Errorf("the server saw %+v, want a1 then b1 only", got)
	}
}

// TestRateLimitingLogsNoTokenOrChat: the logs and trace of delayed,
// refused and answered calls hold neither the bot token nor the chat id.
func TestRateLimitingLogsNoTokenOrChat(t *testing.T) {
	rec := newRecorder(t, func(i int, r *http.Request) (int, http.Header, string) {
		if i == 1 {
			return 429, nil, tg429(10)
		}
		return 200, nil, tgOK
	})
	lh := newLimitHost(t, rec.srv, ratelimit.Config{}, nil)
	const chat = 987654321
	for _, text := range []string{"one", "two", "three"} { // sent, paced and 429, refused
		if _, code := lh.call(t, "inst-a", false, sendMessage(chat, text)); code != abi.OK {
			t.Fatalf("%s: %v", text, code)
		}
	}
	if s := lh.h.deps.Limiter.Stats(); s.Delayed < 1 || s.Refused != 1 {
		t.Fatalf("stats %+v: the scenario did not delay and refuse", s)
	}
	lh.mu.Lock()
	trace, _ := json.Marshal(lh.events)
	lh.mu.Unlock()
	out := lh.logs.String() + string(trace)
	if !strings.Contains(out, "held back by the rate limiter") {
		t.Fatalf("no log of the refusal in %s", out)
	}
	for _, secret := range []string{tgToken, "AAHdevSimulatorToken", strconv.Itoa(chat)} {
		if strings.Contains(out, secret) {
			t.Errorf("logs or trace show %q", secret)
		}
	}
}

// TestTelegramSimulatorSeesNoFloodAndNoEarlyRetry runs replies through the
// Telegram simulator with its flood control on and an injected 429: the
// simulator, which counts by its own clock, sees no flood and no retry
// before retry_after.
func TestTelegramSimulatorSeesNoFloodAndNoEarlyRetry(t *testing.T) {
	sim := telegram.New(telegram.Config{Tokens: []string{tgToken}, RateLimit: true})
	t.Cleanup(sim.Close)
	srv := httptest.NewTLSServer(sim.API())
	t.Cleanup(srv.Close)
	control := func(method, path, body string) string {
		w := httptest.NewRecorder()
		sim.Control().ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		if w.Code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	control("POST", "/_sim/telegram/send", `{"chat_id":1001,"text":"hello"}`) // the chat exists
	lh := newLimitHost(t, srv, ratelimit.Config{}, nil)
	replies := []string{"r1", "r2", "r3", "r4"}
	for i, text := range replies {
		if i == 2 {
			control("POST", "/_sim/fail", `{"service":"telegram","match":"sendMessage","status":429,"retry_after":1}`)
		}
		for attempt := 0; ; attempt++ {
			resp, code := lh.call(t, "inst-a", false, sendMessage(1001, text))
			if code != abi.OK {
				t.Fatalf("%s: %v", text, code)
			}
			if resp.Status == 200 {
				break
			}
			if attempt > 3 {
				t.Fatalf("%s: still %d: %s", text, resp.Status, resp.Body)
			}
		}
	}
	var st struct {
		EarlyRetries int64 `json:"early_retries"`
		RateLimited  int64 `json:"rate_limited"`
	}
	if err := json.Unmarshal([]byte(control("GET", "/_sim/telegram/stats", "")), &st); err != nil {
		t.Fatal(err)
	}
	if st.EarlyRetries != 0 || st.RateLimited != 0 {
		t.Errorf("simulator stats %+v: want no early retry and no flood", st)
	}
	var sent []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(control("GET", "/_sim/telegram/sent?chat_id=1001", "")), &sent); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, s := range sent {
		texts = append(texts, s.Text)
	}
	if strings.Join(texts, ",") != strings.Join(replies, ",") {
		t.Errorf("the chat got %v, want %v once each, in order", texts, replies)
	}
}
