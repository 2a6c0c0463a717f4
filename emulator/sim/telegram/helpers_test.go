package telegram

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// delivery is one webhook request the receiver got.
type delivery struct {
	secret      string
	contentType string
	body        []byte
	update      Update
}

// receiver is the bridge's webhook endpoint in tests: HTTPS on loopback,
// answering with the statuses queued in answers (then 200).
type receiver struct {
	srv *httptest.Server
	got chan delivery

	mu      sync.Mutex
	answers []int
	reply   string // JSON body of 2xx answers, if set
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan delivery, 100)}
	rc.srv = newTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{secret: r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), contentType: r.Header.Get("Content-Type"), body: body}
		json.Unmarshal(body, &d.update)
		rc.mu.Lock()
		status := http.StatusOK
		if len(rc.answers) > 0 {
			status, rc.answers = rc.answers[0], rc.answers[1:]
		}
		reply := rc.reply
		rc.mu.Unlock()
		rc.got <- d
		if status == http.StatusOK && reply != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, reply)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// answer queues the statuses of the next deliveries.
func (rc *receiver) answer(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answers = append(rc.answers, statuses...)
}

// next waits for a delivery.
func (rc *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-rc.got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivery within 5 s")
		return delivery{}
	}
}

// none checks, once the simulator has no delivery under way, that none
// came: it waits for the simulator's own count, not for a time.
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

// env is a simulator served over TLS with a webhook receiver whose
// certificate its Client trusts ("https://example.com/..." reaches the
// receiver).
type env struct {
	sim   *Sim
	api   *httptest.Server
	hook  *receiver
	token string
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	rc := newReceiver(t)
	if cfg.Client == nil {
		cfg.Client = rc.srv.Client()
		cfg.Client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 20 * time.Millisecond
	}
	s := New(cfg)
	t.Cleanup(s.Close)
	api := newTLSServer(s.API())
	t.Cleanup(api.Close)
	token := DefaultToken
	if len(cfg.Tokens) > 0 {
		token = cfg.Tokens[0]
	}
	return &env{sim: s, api: api, hook: rc, token: token}
}

// apiResult is a decoded Bot API answer.
type apiResult struct {
	Status      int
	OK          bool               `json:"ok"`
	Result      json.RawMessage    `json:"result"`
	ErrorCode   int                `json:"error_code"`
	Description string             `json:"description"`
	Parameters  ResponseParameters `json:"parameters"`
	Raw         string
}

func (r apiResult) into(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Result, v); err != nil {
		t.Fatalf("decode result %s: %v", r.Result, err)
	}
}

func (e *env) do(t *testing.T, req *http.Request) apiResult {
	t.Helper()
	resp, err := e.api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r apiResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	r.Status, r.Raw = resp.StatusCode, string(body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return r
}

// call makes a JSON Bot API call.
func (e *env) call(t *testing.T, method string, params any) apiResult {
	t.Helper()
	body, _ := json.Marshal(params)
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/bot"+e.token+"/"+method, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req)
}

// callForm makes a urlencoded Bot API call.
func (e *env) callForm(t *testing.T, method string, form url.Values) apiResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/bot"+e.token+"/"+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req)
}

// part is a file of a multipart call.
type part struct {
	field, name, contentType string
	data                     []byte
}

// callMultipart makes a multipart Bot API call.
func (e *env) callMultipart(t *testing.T, method string, form url.Values, files ...part) apiResult {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="` + f.field + `"; filename="` + f.name + `"`}
		h["Content-Type"] = []string{f.contentType}
		w, _ := mw.CreatePart(h)
		w.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/bot"+e.token+"/"+method, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.do(t, req)
}

// control calls the control API in process.
func (e *env) control(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	rec := httptest.NewRecorder()
	e.sim.Control().ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	return rec.Code, rec.Body.Bytes()
}

// userSays sends a user's message through the control API.
func (e *env) userSays(t *testing.T, body map[string]any) deliveryResult {
	t.Helper()
	code, out := e.control(t, http.MethodPost, "/_sim/telegram/send", body)
	if code != http.StatusOK {
		t.Fatalf("control send: %d %s", code, out)
	}
	var res deliveryResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// sent lists what the bot sent to a chat.
func (e *env) sent(t *testing.T, chatID int64) []Sent {
	t.Helper()
	code, out := e.control(t, http.MethodGet, "/_sim/telegram/sent?chat_id="+itoa(chatID), nil)
	if code != http.StatusOK {
		t.Fatalf("control sent: %d %s", code, out)
	}
	var list []Sent
	json.Unmarshal(out, &list)
	return list
}

// setHook registers the receiver as the webhook.
func (e *env) setHook(t *testing.T, secret string) {
	t.Helper()
	if r := e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg", "secret_token": secret}); !r.OK {
		t.Fatalf("setWebhook: %s", r.Raw)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newTLSServer is httptest.NewTLSServer without the log lines of
// handshakes cut short when tests end.
func newTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}
