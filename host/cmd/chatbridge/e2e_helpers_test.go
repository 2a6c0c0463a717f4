package main

// Harness of the end-to-end tests in e2e_test.go: a dev stack (sealed BuntDB
// storage, the bridge plugin compiled to wasm, the HTTPS edge, the Telegram
// and Jira simulators) driven only through the simulators' control API on
// the admin listener and the public web trigger URLs.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// e2eWait bounds every wait for an asynchronous effect. Queue retries back
// off from 1 s (host) or 5 s (bridge, for 5xx), so a few retries fit.
const (
	e2eWait = 60 * time.Second
	e2eStep = 50 * time.Millisecond
)

// syncBuffer is a log sink the host writes from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// compiled keeps the engine's compilation cache of the first stack, so that
// every later stack of the process loads the module's machine code instead
// of compiling it again (a fresh data directory has an empty cache).
var compiled compileCache

type compileCache struct {
	sync.Mutex
	files map[string][]byte // path relative to the cache directory
}

func (c *compileCache) snapshot(dir string) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[rel] = b
		return err
	})
	if err == nil {
		c.files = files
	}
}

func (c *compileCache) restore(dir string) error {
	for rel, b := range c.files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// e2eStack is one running dev stack.
type e2eStack struct {
	data    string
	r       *node.Node
	st      *stack.Stack
	log     *syncBuffer
	admin   string       // base URL of the admin listener (/_sim/...)
	client  *http.Client // trusts the edge's dev certificate
	control *http.Client
	stopped atomic.Bool
	// hostAdmin is the admin API of a host in a child process (r is nil
	// then).
	hostAdmin *struct{ url, token string }
}

// e2eChatSeq hands out distinct chat ids, large enough (over 32 bits) that
// their decimal form cannot be mistaken for anything else.
var e2eChatSeq atomic.Int64

func init() { e2eChatSeq.Store(7_291_638_400) }

// newChat returns a chat id no other scenario uses.
func newChat() int64 { return e2eChatSeq.Add(17) }

// startE2E starts a stack of t's own, stopped when t ends: for scenarios
// that inject faults, read global counters or stop the stack.
func startE2E(t *testing.T) *e2eStack {
	t.Helper()
	return startE2EWith(t, nil)
}

// startE2EWith is startE2E with tweak applied to the stack's configuration.
func startE2EWith(t *testing.T, tweak func(*serveConfig)) *e2eStack {
	t.Helper()
	module := bundletest.Module(t, "./plugin")
	s, err := launch(t.TempDir(), t.TempDir(), module, tweak)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkJiraCalls(t, s)
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	s.logOnFailure(t)
	return s
}

// shared is the stack of the scenarios that do not interfere: each uses its
// own chats and finds its requests by the unique text it writes. The
// scenarios using it run in parallel; the last one to finish stops it.
var shared struct {
	sync.Mutex
	stack *e2eStack
	root  string
	users int
}

// sharedE2E returns the shared stack, starting it if needed, and releases
// it when t ends.
func sharedE2E(t *testing.T) *e2eStack {
	t.Helper()
	module := bundletest.Module(t, "./plugin")
	shared.Lock()
	defer shared.Unlock()
	if shared.stack == nil {
		root, err := os.MkdirTemp("", "chatbridge-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		s, err := launch(filepath.Join(root, "data"), filepath.Join(root, "bundle"), module, nil)
		if err != nil {
			_ = os.RemoveAll(root)
			t.Fatal(err)
		}
		shared.stack, shared.root = s, root
	}
	shared.users++
	s := shared.stack
	t.Cleanup(func() {
		shared.Lock()
		defer shared.Unlock()
		shared.users--
		if shared.users > 0 || shared.stack != s {
			return
		}
		checkJiraCalls(t, s)
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown of the shared stack: %v", err)
		}
		_ = os.RemoveAll(shared.root)
		shared.stack, shared.root = nil, ""
	})
	s.logOnFailure(t)
	return s
}

// launch starts a stack: the bundle (module and plugin/manifest.yml) in
// bundleDir, data (sealed BuntDB file, dev keys and certificate) in data,
// the dev Jira site installed and project SUP configured.
func launch(data, bundleDir string, module []byte, tweak func(*serveConfig)) (_ *e2eStack, err error) {
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		return nil, err
	}
	manifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "manifest.yml"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "manifest.yml"), manifest, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "plugin.wasm"), module, 0o644); err != nil {
		return nil, err
	}
	s := &e2eStack{data: data, log: &syncBuffer{}}
	c := serveConfig{listen: "127.0.0.1:0", admin: "127.0.0.1:0", data: data, bundleDir: bundleDir, deadline: "fuel", logLevel: e2eLogLevel()}
	if tweak != nil {
		tweak(&c)
	}
	level, err := parseLevel(c.logLevel)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(s.log, &slog.HandlerOptions{Level: level}))
	sc, err := c.stackConfig(logger)
	if err != nil {
		return nil, err
	}

	// The first start compiles the module (slow under -race); later ones
	// find its machine code in their cache directory.
	compiled.Lock()
	restored := compiled.files != nil
	if restored {
		compiled.Unlock()
		if err := compiled.restore(filepath.Join(data, "cache")); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, sc)
	if !restored {
		if err == nil {
			compiled.snapshot(filepath.Join(data, "cache"))
		}
		compiled.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	s.st, s.r = st, st.Node
	s.admin = st.Node.AdminURL
	defer func() {
		if err != nil {
			_ = s.shutdown()
		}
	}()
	pem, err := os.ReadFile(filepath.Join(data, "dev", "dev-cert.pem"))
	if err != nil {
		return s, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return s, errors.New("dev certificate: no PEM certificate")
	}
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	s.control = controlClient(60*time.Second, st.Node.Token)
	return s, nil
}

// shutdown stops the edge and host, closes (flushes) storage and stops the
// simulators; later calls do nothing.
func (s *e2eStack) shutdown() error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.st.Shutdown(ctx)
	if s.client != nil {
		s.client.CloseIdleConnections()
		s.control.CloseIdleConnections()
	}
	return err
}

// logOnFailure shows the end of the host log when t fails.
func (s *e2eStack) logOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			if dir := os.Getenv("CHATBRIDGE_E2E_LOGS"); dir != "" {
				// The whole log, for debugging: the test output shows only its end.
				_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(s.log.String()), 0o600)
			}
			t.Logf("host log (end):\n%s", tail(s.log.String(), 20000))
		}
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// call makes a control API call; in (if not nil) is sent as JSON, the answer
// decoded into out (if not nil). It fails the test on a status other than
// want.
func (s *e2eStack) call(t *testing.T, method, path string, in, out any, want int) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.control.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// controlClient is the client of a control API (the admin listener's
// /_sim/ or a sims process's): it sends the admin token with every
// request, as the operator's tools do, since the listener serves no write
// without it but from its own pages.
func controlClient(timeout time.Duration, token string) *http.Client {
	return &http.Client{Timeout: timeout, Transport: bearer{token: token, next: http.DefaultTransport}}
}

// bearer adds the admin token to a request that carries no Authorization.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

func (b bearer) CloseIdleConnections() {
	if c, ok := b.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// sendResult is the answer of /_sim/telegram/send and /block.
type sendResult struct {
	UpdateID  int64  `json:"update_id"`
	MessageID int64  `json:"message_id"`
	Status    int    `json:"status"`
	Pending   bool   `json:"pending"`
	Error     string `json:"error"`
	Filtered  bool   `json:"filtered"`
}

// userMsg is a customer's message, the body of /_sim/telegram/send.
type userMsg struct {
	ChatID       int64   `json:"chat_id"`
	Text         string  `json:"text,omitempty"`
	FirstName    string  `json:"first_name,omitempty"`
	LastName     string  `json:"last_name,omitempty"`
	LanguageCode string  `json:"language_code,omitempty"`
	Photo        bool    `json:"photo,omitempty"`
	Document     *docMsg `json:"document,omitempty"`
	MediaGroupID string  `json:"media_group_id,omitempty"`
}

type docMsg struct {
	FileName string `json:"file_name"`
	Size     int64  `json:"size,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
}

// send delivers a customer's message through the Telegram simulator and
// checks that the bridge accepted the delivery.
func (s *e2eStack) send(t *testing.T, m userMsg) sendResult {
	t.Helper()
	var res sendResult
	s.call(t, "POST", "/_sim/telegram/send", m, &res, http.StatusOK)
	// Pending: an earlier update of the chat (a my_chat_member before a
	// message from a user who had blocked the bot) goes first; the
	// simulator delivers both in the background.
	if res.Status != http.StatusOK && !(res.Pending && res.Error == "") {
		t.Fatalf("webhook delivery of %+v: %+v", m, res)
	}
	return res
}

// say sends a text message from a named customer.
func (s *e2eStack) say(t *testing.T, chat int64, text string) sendResult {
	t.Helper()
	return s.send(t, userMsg{ChatID: chat, Text: text, FirstName: "Alice", LastName: "Example"})
}

// sentMsg is one entry of /_sim/telegram/sent.
type sentMsg struct {
	Method    string `json:"method"`
	Text      string `json:"text"`
	ParseMode string `json:"parse_mode"`
	MessageID int64  `json:"message_id"`
	Plain     string `json:"plain"`
	FileName  string `json:"file_name"`
	FileSize  int64  `json:"file_size"`
}

// sent lists what the bot sent to chat, oldest first.
func (s *e2eStack) sent(t *testing.T, chat int64) []sentMsg {
	t.Helper()
	var out []sentMsg
	s.call(t, "GET", "/_sim/telegram/sent?chat_id="+strconv.FormatInt(chat, 10), nil, &out, http.StatusOK)
	return out
}

// messages lists the sendMessage calls to chat.
func (s *e2eStack) messages(t *testing.T, chat int64) []sentMsg {
	t.Helper()
	var out []sentMsg
	for _, m := range s.sent(t, chat) {
		if m.Method == "sendMessage" {
			out = append(out, m)
		}
	}
	return out
}

// jiraComment and jiraRequest are /_sim/jira/requests entries.
type jiraComment struct {
	ID              string `json:"id"`
	Body            string `json:"body"`
	Public          bool   `json:"public"`
	AuthorAccountID string `json:"author_account_id"`
}

type jiraAttachment struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	MimeType string `json:"mime_type"`
}

type jiraRequest struct {
	Key            string           `json:"key"`
	ID             string           `json:"id"`
	Summary        string           `json:"summary"`
	Description    string           `json:"description"`
	Status         string           `json:"status"`
	StatusCategory string           `json:"status_category"`
	Comments       []jiraComment    `json:"comments"`
	Attachments    []jiraAttachment `json:"attachments"`
}

// appAccount authors everything the bridge writes into the dev Jira site.
const appAccount = "chatbridge-dev-app"

// publicComments are the comments the customer wrote (posted by the app).
func (r jiraRequest) appComments(public bool) []jiraComment {
	var out []jiraComment
	for _, c := range r.Comments {
		if c.AuthorAccountID == appAccount && c.Public == public {
			out = append(out, c)
		}
	}
	return out
}

// holds reports whether text is in the request's summary, description or
// one of its comments.
func (r jiraRequest) holds(text string) bool { return r.count(text) > 0 }

// count counts the places (summary and description together, each comment)
// that hold text.
func (r jiraRequest) count(text string) int {
	n := 0
	if strings.Contains(r.Summary, text) || strings.Contains(r.Description, text) {
		n++
	}
	for _, c := range r.Comments {
		if strings.Contains(c.Body, text) {
			n++
		}
	}
	return n
}

func (r jiraRequest) hasFile(name string) bool {
	for _, a := range r.Attachments {
		if a.Filename == name {
			return true
		}
	}
	return false
}

func (s *e2eStack) requests(t *testing.T) []jiraRequest {
	t.Helper()
	var out []jiraRequest
	s.call(t, "GET", "/_sim/jira/requests", nil, &out, http.StatusOK)
	return out
}

// requestsWith lists the requests whose description contains marker: a
// scenario's own, since each one writes unique text.
func (s *e2eStack) requestsWith(t *testing.T, marker string) []jiraRequest {
	t.Helper()
	var out []jiraRequest
	for _, r := range s.requests(t) {
		if strings.Contains(r.Description, marker) || strings.Contains(r.Summary, marker) {
			out = append(out, r)
		}
	}
	return out
}

func (s *e2eStack) request(t *testing.T, key string) jiraRequest {
	t.Helper()
	for _, r := range s.requests(t) {
		if r.Key == key {
			return r
		}
	}
	t.Fatalf("no request %s", key)
	return jiraRequest{}
}

// webhookResult is one first delivery attempt of a Jira control call.
type webhookResult struct {
	Event  string `json:"event"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

type jiraAnswer struct {
	ID        string          `json:"id"`
	CommentID string          `json:"comment_id"`
	Webhooks  []webhookResult `json:"webhooks"`
}

// agentComment adds an agent's comment (see the control API for the fields)
// and checks that every webhook it fired was accepted.
func (s *e2eStack) agentComment(t *testing.T, key string, body map[string]any) jiraAnswer {
	t.Helper()
	var a jiraAnswer
	s.call(t, "POST", "/_sim/jira/requests/"+key+"/comment", body, &a, http.StatusOK)
	checkWebhooks(t, a.Webhooks)
	return a
}

// reply adds an agent's public reply.
func (s *e2eStack) reply(t *testing.T, key, text string) jiraAnswer {
	t.Helper()
	return s.agentComment(t, key, map[string]any{"body": text, "public": true})
}

func (s *e2eStack) transition(t *testing.T, key, status string) {
	t.Helper()
	var a jiraAnswer
	s.call(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": status}, &a, http.StatusOK)
	checkWebhooks(t, a.Webhooks)
}

func checkWebhooks(t *testing.T, hooks []webhookResult) {
	t.Helper()
	if len(hooks) == 0 {
		t.Fatal("the Jira simulator fired no webhook")
	}
	for _, h := range hooks {
		if h.Status/100 != 2 {
			t.Fatalf("webhook %s answered %d %s", h.Event, h.Status, h.Error)
		}
	}
}

// fail installs a fault rule in a simulator.
func (s *e2eStack) fail(t *testing.T, rule map[string]any) {
	t.Helper()
	s.call(t, "POST", "/_sim/fail", rule, nil, http.StatusOK)
	t.Cleanup(func() {
		if !s.stopped.Load() {
			s.call(t, "DELETE", "/_sim/fail", nil, nil, http.StatusNoContent)
		}
	})
}

// tgStats and jiraStats are the simulators' counters.
type tgStats struct {
	Requests     map[string]int64 `json:"requests"`
	EarlyRetries int64            `json:"early_retries"`
	RateLimited  int64            `json:"rate_limited"`
	Delivered    int64            `json:"delivered"`
	Dropped      int64            `json:"dropped"`
}

type jiraStats struct {
	Requests     map[string]int64 `json:"requests"`
	EarlyRetries int64            `json:"early_retries"`
}

func (s *e2eStack) tgStats(t *testing.T) tgStats {
	t.Helper()
	var st tgStats
	s.call(t, "GET", "/_sim/telegram/stats", nil, &st, http.StatusOK)
	return st
}

func (s *e2eStack) jiraStats(t *testing.T) jiraStats {
	t.Helper()
	var st jiraStats
	s.call(t, "GET", "/_sim/jira/stats", nil, &st, http.StatusOK)
	return st
}

// stable checks, once everything has settled, that cond holds: used after
// an effect arrived, to see that no second one follows. It waits for the
// work itself to end, never for a fixed time.
func (s *e2eStack) stable(t *testing.T, what string, cond func() string) {
	t.Helper()
	s.settle(t)
	if why := cond(); why != "" {
		t.Fatalf("%s: %s", what, why)
	}
}

// settle waits until nothing is under way: no simulator has a delivery,
// retry or callback pending, the host's queue is empty, and no new work
// started between two looks. Every effect still to come needs one of
// these, so after settle none is.
func (s *e2eStack) settle(t *testing.T) {
	t.Helper()
	last := int64(-1)
	waitfor.Until(t, e2eWait, "the simulators and the host to settle", func() string {
		pending, started := s.activity(t)
		if pending > 0 {
			last = -1
			return fmt.Sprintf("%d pieces of work under way", pending)
		}
		if started != last {
			last = started
			return "work started since the last look"
		}
		return ""
	})
}

// activity sums what the simulators and the host's queue have under way,
// and how much work they ever started (for the queue: the messages pushed,
// as pending plus consumed plus buried).
func (s *e2eStack) activity(t *testing.T) (pending, started int64) {
	t.Helper()
	var sims struct {
		Pending int64 `json:"pending"`
		Started int64 `json:"started"`
	}
	s.call(t, "GET", "/_sim/activity", nil, &sims, http.StatusOK)
	q := s.queueStats(t)
	return sims.Pending + q.Pending, sims.Started + q.Pending + q.Delivered + q.DeadLettered
}

// queueStats are the host's queue counters: read in process, or from the
// admin API of a host in a child process.
func (s *e2eStack) queueStats(t *testing.T) queue.Stats {
	t.Helper()
	if s.r != nil {
		return s.r.Host.Queue().Stats()
	}
	if s.hostAdmin == nil {
		t.Fatal("a stack without a host to ask")
	}
	var v adminapi.QueueView
	if code := adminCall(t, s.hostAdmin.url, s.hostAdmin.token, "GET", "/admin/queue", &v); code != http.StatusOK {
		t.Fatalf("GET /admin/queue: status %d", code)
	}
	return v.Stats
}

// idle waits until the host's queue holds no work: every job pushed so far
// (a first message's request and its mapping among them) has run.
func (s *e2eStack) idle(t *testing.T) {
	t.Helper()
	waitfor.Until(t, e2eWait, "the host's queue to be empty", func() string {
		if st := s.r.Host.Queue().Stats(); st.Pending != 0 {
			return fmt.Sprintf("%d jobs pending", st.Pending)
		}
		return ""
	})
}

// waitRequest waits for exactly one request whose description holds marker.
func (s *e2eStack) waitRequest(t *testing.T, marker string) jiraRequest {
	t.Helper()
	var got jiraRequest
	waitfor.Until(t, e2eWait, "a request holding "+strconv.Quote(marker), func() string {
		rs := s.requestsWith(t, marker)
		switch len(rs) {
		case 0:
			return "none yet"
		case 1:
			got = rs[0]
			return ""
		}
		return fmt.Sprintf("%d requests", len(rs))
	})

	return got
}

// tgWebhook is /_sim/telegram/webhook: where the bridge registered
// Telegram's deliveries, and the secret they carry.
type tgWebhook struct {
	URL         string `json:"url"`
	SecretToken string `json:"secret_token"`
}

func (s *e2eStack) tgWebhook(t *testing.T) tgWebhook {
	t.Helper()
	var h tgWebhook
	s.call(t, "GET", "/_sim/telegram/webhook", nil, &h, http.StatusOK)
	if h.URL == "" || h.SecretToken == "" {
		t.Fatalf("no Telegram webhook registered: %+v", h)
	}
	return h
}

// jiraWebhook is /_sim/jira/webhook: the installation's Jira webhook URL and
// its signing secret.
type jiraWebhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (s *e2eStack) jiraWebhook(t *testing.T) jiraWebhook {
	t.Helper()
	var h jiraWebhook
	s.call(t, "GET", "/_sim/jira/webhook", nil, &h, http.StatusOK)
	if h.URL == "" || h.Secret == "" {
		t.Fatalf("no Jira webhook registered: %+v", h)
	}
	return h
}

// postPublic POSTs body to a public URL of the edge, as Telegram or Jira
// would, and returns the status.
func (s *e2eStack) postPublic(t *testing.T, url string, body []byte, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// tgUpdate is a Bot API Update with a private chat's text message, as the
// simulator delivers it.
func tgUpdate(updateID, messageID, chat int64, text string) []byte {
	user := map[string]any{"id": chat, "is_bot": false, "first_name": "Alice", "last_name": "Example", "language_code": "en"}
	b, _ := json.Marshal(map[string]any{
		"update_id": updateID,
		"message": map[string]any{
			"message_id": messageID, "from": user, "date": time.Now().Unix(), "text": text,
			"chat": map[string]any{"id": chat, "type": "private", "first_name": "Alice", "last_name": "Example"},
		},
	})
	return b
}

// jiraCommentEvent is an admin-webhook payload (comment_created, or
// jira:issue_updated with issue_commented) for a public agent comment on r,
// shaped as Jira (and the simulator) sends it.
func jiraCommentEvent(event string, r jiraRequest, commentID, body string) []byte {
	agent := map[string]any{"accountId": "agent-1", "displayName": "Alex Agent", "accountType": "atlassian", "active": true}
	now := time.Now()
	comment := map[string]any{
		"id": commentID, "author": agent, "updateAuthor": agent, "body": body, "jsdPublic": true,
		"created": now.Format("2006-01-02T15:04:05.000-0700"), "updated": now.Format("2006-01-02T15:04:05.000-0700"),
		"self": "https://dev.atlassian.net/rest/api/2/issue/" + r.ID + "/comment/" + commentID,
	}
	payload := map[string]any{
		"timestamp": now.UnixMilli(), "webhookEvent": event, "comment": comment,
		"issue": map[string]any{"id": r.ID, "key": r.Key, "fields": map[string]any{
			"summary": r.Summary,
			"status":  map[string]any{"name": r.Status, "statusCategory": map[string]any{"key": r.StatusCategory}},
			"project": map[string]any{"key": "SUP"},
		}},
	}
	if event == "jira:issue_updated" {
		payload["issue_event_type_name"] = "issue_commented"
		payload["user"] = agent
	}
	b, _ := json.Marshal(payload)
	return b
}

// signJira is X-Hub-Signature for body with secret.
func signJira(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// utf16Len counts UTF-16 code units, as Telegram measures text.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// e2eLogLevel is info, or debug when the whole logs are kept for debugging.
func e2eLogLevel() string {
	if os.Getenv("CHATBRIDGE_E2E_LOGS") != "" {
		return "debug"
	}
	return "info"
}
