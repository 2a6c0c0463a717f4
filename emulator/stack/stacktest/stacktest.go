package stacktest

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
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Wait bounds every wait for an asynchronous effect. Queue retries back
// off from 1 s (host) or 5 s (bridge, for 5xx), so a few retries fit.
const (
	Wait = 60 * time.Second
	Step = 50 * time.Millisecond
)

// SyncBuffer is a log sink the host writes from many goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
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

// Stack is one running dev stack.
type Stack struct {
	Data    string
	Node    *node.Node
	Emu     *stack.Stack
	Log     *SyncBuffer
	Admin   string       // base URL of the admin listener (/_sim/...)
	Client  *http.Client // trusts the edge's dev certificate
	Control *http.Client
	Stopped atomic.Bool
	// HostAdmin is the admin API of a host in a child process (Node is
	// nil then).
	HostAdmin *HostAdmin
}

// HostAdmin is where a host's admin API answers, and its token.
type HostAdmin struct{ URL, Token string }

// e2eChatSeq hands out distinct chat ids, large enough (over 32 bits) that
// their decimal form cannot be mistaken for anything else.
var e2eChatSeq atomic.Int64

func init() { e2eChatSeq.Store(7_291_638_400) }

// NewChat returns a chat id no other scenario uses.
func NewChat() int64 { return e2eChatSeq.Add(17) }

// Start starts a stack of t's own, stopped when t ends: for scenarios
// that inject faults, read global counters or stop the stack.
func Start(t *testing.T) *Stack {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is Start with tweak applied to the stack's configuration.
func StartWith(t *testing.T, tweak func(*stack.Config)) *Stack {
	t.Helper()
	module := bundletest.Module(t, "./plugin")
	s, err := launch(t.TempDir(), t.TempDir(), module, tweak)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		CheckJiraCalls(t, s)
		if err := s.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	s.LogOnFailure(t)
	return s
}

// shared is the stack of the scenarios that do not interfere: each uses its
// own chats and finds its requests by the unique text it writes. The
// scenarios using it run in parallel; the last one to finish stops it.
var shared struct {
	sync.Mutex
	stack *Stack
	root  string
	users int
}

// Shared returns the shared stack, starting it if needed, and releases
// it when t ends.
func Shared(t *testing.T) *Stack {
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
		CheckJiraCalls(t, s)
		if err := s.Shutdown(); err != nil {
			t.Errorf("shutdown of the shared stack: %v", err)
		}
		_ = os.RemoveAll(shared.root)
		shared.stack, shared.root = nil, ""
	})
	s.LogOnFailure(t)
	return s
}

// launch starts a stack: the bundle (module and plugin/manifest.yml) in
// bundleDir, data (sealed BuntDB file, dev keys and certificate) in data,
// the dev Jira site installed and project SUP configured.
func launch(data, bundleDir string, module []byte, tweak func(*stack.Config)) (_ *Stack, err error) {
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
	s := &Stack{Data: data, Log: &SyncBuffer{}}
	sc := stack.Config{Node: node.Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: data, BundleDir: bundleDir, Deadline: engine.Fuel,
		Logger: slog.New(slog.NewJSONHandler(s.Log, &slog.HandlerOptions{Level: LogLevel()})),
	}}
	if tweak != nil {
		tweak(&sc)
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
	s.Emu, s.Node = st, st.Node
	s.Admin = st.Node.AdminURL
	defer func() {
		if err != nil {
			_ = s.Shutdown()
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
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	s.Control = ControlClient(60*time.Second, st.Node.Token)
	return s, nil
}

// Shutdown stops the edge and host, closes (flushes) storage and stops the
// simulators; later calls do nothing.
func (s *Stack) Shutdown() error {
	if !s.Stopped.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Emu.Shutdown(ctx)
	if s.Client != nil {
		s.Client.CloseIdleConnections()
		s.Control.CloseIdleConnections()
	}
	return err
}

// LogOnFailure shows the end of the host log when t fails.
func (s *Stack) LogOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			if dir := os.Getenv("CHATBRIDGE_E2E_LOGS"); dir != "" {
				// The whole log, for debugging: the test output shows only its end.
				_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(s.Log.String()), 0o600)
			}
			t.Logf("host log (end):\n%s", Tail(s.Log.String(), 20000))
		}
	})
}

func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Call makes a control API Call; in (if not nil) is sent as JSON, the answer
// decoded into out (if not nil). It fails the test on a status other than
// want.
func (s *Stack) Call(t *testing.T, method, path string, in, out any, want int) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.Admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Control.Do(req)
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

// ControlClient is the client of a control API (the admin listener's
// /_sim/ or a sims process's): it sends the admin token with every
// request, as the operator's tools do, since the listener serves no write
// without it but from its own pages.
func ControlClient(timeout time.Duration, token string) *http.Client {
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

// SendResult is the answer of /_sim/telegram/send and /block.
type SendResult struct {
	UpdateID  int64  `json:"update_id"`
	MessageID int64  `json:"message_id"`
	Status    int    `json:"status"`
	Pending   bool   `json:"pending"`
	Error     string `json:"error"`
	Filtered  bool   `json:"filtered"`
}

// UserMsg is a customer's message, the body of /_sim/telegram/send.
type UserMsg struct {
	ChatID       int64   `json:"chat_id"`
	Text         string  `json:"text,omitempty"`
	FirstName    string  `json:"first_name,omitempty"`
	LastName     string  `json:"last_name,omitempty"`
	LanguageCode string  `json:"language_code,omitempty"`
	Photo        bool    `json:"photo,omitempty"`
	Document     *DocMsg `json:"document,omitempty"`
	MediaGroupID string  `json:"media_group_id,omitempty"`
	// MessageThreadID writes in a topic of the private chat.
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
}

type DocMsg struct {
	FileName string `json:"file_name"`
	Size     int64  `json:"size,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
}

// Send delivers a customer's message through the Telegram simulator and
// checks that the bridge accepted the delivery.
func (s *Stack) Send(t *testing.T, m UserMsg) SendResult {
	t.Helper()
	var res SendResult
	s.Call(t, "POST", "/_sim/telegram/send", m, &res, http.StatusOK)
	// Pending: an earlier update of the chat (a my_chat_member before a
	// message from a user who had blocked the bot) goes first; the
	// simulator delivers both in the background.
	if res.Status != http.StatusOK && !(res.Pending && res.Error == "") {
		t.Fatalf("webhook delivery of %+v: %+v", m, res)
	}
	return res
}

// Say sends a text message from a named customer.
func (s *Stack) Say(t *testing.T, chat int64, text string) SendResult {
	t.Helper()
	return s.Send(t, UserMsg{ChatID: chat, Text: text, FirstName: "Alice", LastName: "Example"})
}

// SentMsg is one entry of /_sim/telegram/sent.
type SentMsg struct {
	Method    string `json:"method"`
	Text      string `json:"text"`
	ParseMode string `json:"parse_mode"`
	MessageID int64  `json:"message_id"`
	Plain     string `json:"plain"`
	FileName  string `json:"file_name"`
	FileSize  int64  `json:"file_size"`
	Thread    int64  `json:"message_thread_id"` // the topic it went to, 0 for none
}

// Sent lists what the bot Sent to chat, oldest first.
func (s *Stack) Sent(t *testing.T, chat int64) []SentMsg {
	t.Helper()
	var out []SentMsg
	s.Call(t, "GET", "/_sim/telegram/sent?chat_id="+strconv.FormatInt(chat, 10), nil, &out, http.StatusOK)
	return out
}

// Messages lists the sendMessage calls to chat.
func (s *Stack) Messages(t *testing.T, chat int64) []SentMsg {
	t.Helper()
	var out []SentMsg
	for _, m := range s.Sent(t, chat) {
		if m.Method == "sendMessage" {
			out = append(out, m)
		}
	}
	return out
}

// JiraComment and jiraRequest are /_sim/jira/requests entries.
type JiraComment struct {
	ID              string `json:"id"`
	Body            string `json:"body"`
	Public          bool   `json:"public"`
	AuthorAccountID string `json:"author_account_id"`
}

type JiraAttachment struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	MimeType string `json:"mime_type"`
}

type JiraRequest struct {
	Key            string           `json:"key"`
	ID             string           `json:"id"`
	Summary        string           `json:"summary"`
	Description    string           `json:"description"`
	Status         string           `json:"status"`
	StatusCategory string           `json:"status_category"`
	Comments       []JiraComment    `json:"comments"`
	Attachments    []JiraAttachment `json:"attachments"`
}

// AppAccount authors everything the bridge writes into the dev Jira site.
const AppAccount = "chatbridge-dev-app"

// publicComments are the comments the customer wrote (posted by the app).
func (r JiraRequest) AppComments(public bool) []JiraComment {
	var out []JiraComment
	for _, c := range r.Comments {
		if c.AuthorAccountID == AppAccount && c.Public == public {
			out = append(out, c)
		}
	}
	return out
}

// Holds reports whether text is in the request's summary, description or
// one of its comments.
func (r JiraRequest) Holds(text string) bool { return r.Count(text) > 0 }

// Count counts the places (summary and description together, each comment)
// that hold text.
func (r JiraRequest) Count(text string) int {
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

func (r JiraRequest) HasFile(name string) bool {
	for _, a := range r.Attachments {
		if a.Filename == name {
			return true
		}
	}
	return false
}

func (s *Stack) Requests(t *testing.T) []JiraRequest {
	t.Helper()
	var out []JiraRequest
	s.Call(t, "GET", "/_sim/jira/requests", nil, &out, http.StatusOK)
	return out
}

// RequestsWith lists the requests whose description contains marker: a
// scenario's own, since each one writes unique text.
func (s *Stack) RequestsWith(t *testing.T, marker string) []JiraRequest {
	t.Helper()
	var out []JiraRequest
	for _, r := range s.Requests(t) {
		if strings.Contains(r.Description, marker) || strings.Contains(r.Summary, marker) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Stack) Request(t *testing.T, key string) JiraRequest {
	t.Helper()
	for _, r := range s.Requests(t) {
		if r.Key == key {
			return r
		}
	}
	t.Fatalf("no request %s", key)
	return JiraRequest{}
}

// WebhookResult is one first delivery attempt of a Jira control call.
type WebhookResult struct {
	Event  string `json:"event"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

type JiraAnswer struct {
	ID        string          `json:"id"`
	CommentID string          `json:"comment_id"`
	Webhooks  []WebhookResult `json:"webhooks"`
}

// AgentComment adds an agent's comment (see the control API for the fields)
// and checks that every webhook it fired was accepted.
func (s *Stack) AgentComment(t *testing.T, key string, body map[string]any) JiraAnswer {
	t.Helper()
	var a JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+key+"/comment", body, &a, http.StatusOK)
	CheckWebhooks(t, a.Webhooks)
	return a
}

// Reply adds an agent's public Reply.
func (s *Stack) Reply(t *testing.T, key, text string) JiraAnswer {
	t.Helper()
	return s.AgentComment(t, key, map[string]any{"body": text, "public": true})
}

func (s *Stack) Transition(t *testing.T, key, status string) {
	t.Helper()
	var a JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": status}, &a, http.StatusOK)
	CheckWebhooks(t, a.Webhooks)
}

func CheckWebhooks(t *testing.T, hooks []WebhookResult) {
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

// Fail installs a fault rule in a simulator.
func (s *Stack) Fail(t *testing.T, rule map[string]any) {
	t.Helper()
	s.Call(t, "POST", "/_sim/fail", rule, nil, http.StatusOK)
	t.Cleanup(func() {
		if !s.Stopped.Load() {
			s.Call(t, "DELETE", "/_sim/fail", nil, nil, http.StatusNoContent)
		}
	})
}

// TelegramStats and jiraStats are the simulators' counters.
type TelegramStats struct {
	Requests     map[string]int64 `json:"requests"`
	EarlyRetries int64            `json:"early_retries"`
	RateLimited  int64            `json:"rate_limited"`
	Delivered    int64            `json:"delivered"`
	Dropped      int64            `json:"dropped"`
}

type JiraStats struct {
	Requests     map[string]int64 `json:"requests"`
	EarlyRetries int64            `json:"early_retries"`
}

func (s *Stack) TelegramStats(t *testing.T) TelegramStats {
	t.Helper()
	var st TelegramStats
	s.Call(t, "GET", "/_sim/telegram/stats", nil, &st, http.StatusOK)
	return st
}

func (s *Stack) JiraStats(t *testing.T) JiraStats {
	t.Helper()
	var st JiraStats
	s.Call(t, "GET", "/_sim/jira/stats", nil, &st, http.StatusOK)
	return st
}

// Stable checks, once everything has settled, that cond holds: used after
// an effect arrived, to see that no second one follows. It waits for the
// work itself to end, never for a fixed time.
func (s *Stack) Stable(t *testing.T, what string, cond func() string) {
	t.Helper()
	s.Settle(t)
	if why := cond(); why != "" {
		t.Fatalf("%s: %s", what, why)
	}
}

// Settle waits until nothing is under way: no simulator has a delivery,
// retry or callback pending, the host's queue is empty, and no new work
// started between two looks. Every effect still to come needs one of
// these, so after Settle none is.
func (s *Stack) Settle(t *testing.T) {
	t.Helper()
	last := int64(-1)
	waitfor.Until(t, Wait, "the simulators and the host to settle", func() string {
		pending, started := s.Activity(t)
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

// Activity sums what the simulators and the host's queue have under way,
// and how much work they ever started (for the queue: the messages pushed,
// as pending plus consumed plus buried).
func (s *Stack) Activity(t *testing.T) (pending, started int64) {
	t.Helper()
	var sims struct {
		Pending int64 `json:"pending"`
		Started int64 `json:"started"`
	}
	s.Call(t, "GET", "/_sim/activity", nil, &sims, http.StatusOK)
	q := s.QueueStats(t)
	return sims.Pending + q.Pending, sims.Started + q.Pending + q.Delivered + q.DeadLettered
}

// QueueStats are the host's queue counters: read in process, or from the
// admin API of a host in a child process.
func (s *Stack) QueueStats(t *testing.T) queue.Stats {
	t.Helper()
	if s.Node != nil {
		return s.Node.Host.Queue().Stats()
	}
	if s.HostAdmin == nil {
		t.Fatal("a stack without a host to ask")
	}
	var v adminapi.QueueView
	if code := AdminCall(t, s.HostAdmin.URL, s.HostAdmin.Token, "GET", "/admin/queue", &v); code != http.StatusOK {
		t.Fatalf("GET /admin/queue: status %d", code)
	}
	return v.Stats
}

// Idle waits until the host's queue holds no work: every job pushed so far
// (a first message's request and its mapping among them) has run.
func (s *Stack) Idle(t *testing.T) {
	t.Helper()
	waitfor.Until(t, Wait, "the host's queue to be empty", func() string {
		if st := s.Node.Host.Queue().Stats(); st.Pending != 0 {
			return fmt.Sprintf("%d jobs pending", st.Pending)
		}
		return ""
	})
}

// WaitRequest waits for exactly one request whose description holds marker.
func (s *Stack) WaitRequest(t *testing.T, marker string) JiraRequest {
	t.Helper()
	var got JiraRequest
	waitfor.Until(t, Wait, "a request holding "+strconv.Quote(marker), func() string {
		rs := s.RequestsWith(t, marker)
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

// TelegramWebhook is /_sim/telegram/webhook: where the bridge registered
// Telegram's deliveries, and the secret they carry.
type TelegramWebhook struct {
	URL         string `json:"url"`
	SecretToken string `json:"secret_token"`
}

func (s *Stack) TelegramWebhook(t *testing.T) TelegramWebhook {
	t.Helper()
	var h TelegramWebhook
	s.Call(t, "GET", "/_sim/telegram/webhook", nil, &h, http.StatusOK)
	if h.URL == "" || h.SecretToken == "" {
		t.Fatalf("no Telegram webhook registered: %+v", h)
	}
	return h
}

// JiraWebhook is /_sim/jira/webhook: the installation's Jira webhook URL and
// its signing secret.
type JiraWebhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (s *Stack) JiraWebhook(t *testing.T) JiraWebhook {
	t.Helper()
	var h JiraWebhook
	s.Call(t, "GET", "/_sim/jira/webhook", nil, &h, http.StatusOK)
	if h.URL == "" || h.Secret == "" {
		t.Fatalf("no Jira webhook registered: %+v", h)
	}
	return h
}

// PostPublic POSTs body to a public URL of the edge, as Telegram or Jira
// would, and returns the status.
func (s *Stack) PostPublic(t *testing.T, url string, body []byte, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TelegramUpdate is a Bot API Update with a private chat's text message, as the
// simulator delivers it.
func TelegramUpdate(updateID, messageID, chat int64, text string) []byte {
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

// JiraCommentEvent is an admin-webhook payload (comment_created, or
// jira:issue_updated with issue_commented) for a public agent comment on r,
// shaped as Jira (and the simulator) sends it.
func JiraCommentEvent(event string, r JiraRequest, commentID, body string) []byte {
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

// SignJira is X-Hub-Signature for body with secret.
func SignJira(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// UTF16Len counts UTF-16 code units, as Telegram measures text.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// LogLevel is info, or debug when the whole logs are kept for debugging.
func LogLevel() slog.Level {
	if os.Getenv("CHATBRIDGE_E2E_LOGS") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// Reconfigure switches the dev project to another channel through the
// bridge's own admin resolver, as an admin would.
func (s *Stack) Reconfigure(t *testing.T, channel, token string) {
	t.Helper()
	var in tenant.Installation
	for _, i := range s.Node.Host.Registry().List() {
		if i.SiteURL == stack.Site {
			in = i
		}
	}
	payload, _ := json.Marshal(map[string]any{
		"projectKey": stack.Project, "enabled": true, "channel": channel,
		"botToken": token, "serviceDeskId": "1", "requestTypeId": "10",
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := resolver.Call(ctx, s.Node.Host, in.ID, "config.set", payload)
	if err != nil {
		t.Fatalf("config.set %s: %v", channel, err)
	}
	var a struct {
		OK bool `json:"ok"`
	}
	if json.Unmarshal(out, &a) != nil || !a.OK {
		t.Fatalf("config.set %s: %s", channel, out)
	}
}

// Opened sends chat's first message and waits for its request.
func (s *Stack) Opened(t *testing.T, chat int64, text string) JiraRequest {
	t.Helper()
	s.Say(t, chat, text)
	return s.WaitRequest(t, text)
}

// WaitAppComments waits until request key has n comments by the app with
// the given visibility, and returns them.
func (s *Stack) WaitAppComments(t *testing.T, key string, public bool, n int) []JiraComment {
	t.Helper()
	var got []JiraComment
	waitfor.Until(t, Wait, fmt.Sprintf("%d comments (public %v) by the app on %s", n, public, key), func() string {
		got = s.Request(t, key).AppComments(public)
		if len(got) < n {
			return fmt.Sprintf("%d so far", len(got))
		}
		return ""
	})

	return got
}

// WaitText waits for a sendMessage to chat whose visible text contains
// want and returns it.
func (s *Stack) WaitText(t *testing.T, chat int64, want string) SentMsg {
	t.Helper()
	var got SentMsg
	waitfor.Until(t, Wait, "a message containing "+strconv.Quote(want), func() string {
		ms := s.Messages(t, chat)
		for _, m := range ms {
			if strings.Contains(m.Plain, want) {
				got = m
				return ""
			}
		}
		return fmt.Sprintf("chat has %d messages: %+v", len(ms), ms)
	})

	return got
}

// CountText counts the messages to chat whose visible text contains want.
func (s *Stack) CountText(t *testing.T, chat int64, want string) int {
	t.Helper()
	n := 0
	for _, m := range s.Messages(t, chat) {
		if strings.Contains(m.Plain, want) {
			n++
		}
	}
	return n
}

// EditComment edits an agent's comment in the Jira simulator, which fires
// comment_updated, and returns the identifiers of the comment_updated
// deliveries it made (usually one; other tests share the simulator).
func (s *Stack) EditComment(t *testing.T, key, id, body string) []string {
	t.Helper()
	before := map[string]bool{}
	var ds []struct {
		Event      string `json:"event"`
		Identifier string `json:"identifier"`
	}
	s.Call(t, "GET", "/_sim/jira/deliveries", nil, &ds, http.StatusOK)
	for _, d := range ds {
		before[d.Identifier] = true
	}
	var a JiraAnswer
	s.Call(t, "PUT", "/_sim/jira/requests/"+key+"/comment/"+id, map[string]any{"body": body}, &a, http.StatusOK)
	CheckWebhooks(t, a.Webhooks)
	s.Call(t, "GET", "/_sim/jira/deliveries", nil, &ds, http.StatusOK)
	var ids []string
	for _, d := range ds {
		if d.Event == "comment_updated" && !before[d.Identifier] {
			before[d.Identifier] = true
			ids = append(ids, d.Identifier)
		}
	}
	if len(ids) == 0 {
		t.Fatal("the edit made no comment_updated delivery")
	}
	return ids
}

// AdminResolve calls a resolver of the dev installation through the admin
// API (POST /admin/installations/{id}/resolve/{function}) with the admin
// token, and decodes its answer.
func (s *Stack) AdminResolve(t *testing.T, function string, payload any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(payload)
	req, err := http.NewRequest("POST", s.Admin+"/admin/installations/"+s.Emu.Installation.ID+"/resolve/"+function, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Control.Do(req)
	if err != nil {
		t.Fatalf("resolve %s: %v", function, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a map[string]any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s answered %s %s", function, resp.Status, raw)
	}
	return a
}

// StoredRecords is the installation's app storage, opened (the dev
// console's view of the sealed store): key and value of each record.
func (s *Stack) StoredRecords(t *testing.T) []string {
	t.Helper()
	return s.Stored(t, "kvs")
}

// Stored is storedRecords for any keyspace.
func (s *Stack) Stored(t *testing.T, space string) []string {
	t.Helper()
	var st struct {
		Installations []struct{ ID string } `json:"installations"`
	}
	s.Call(t, "GET", "/_console/state", nil, &st, http.StatusOK)
	if len(st.Installations) != 1 {
		t.Fatalf("installations %+v", st)
	}
	var recs []struct{ Key, Value, Error string }
	s.Call(t, "GET", "/_console/storage?installation="+st.Installations[0].ID+"&space="+space, nil, &recs, http.StatusOK)
	var out []string
	for _, r := range recs {
		if r.Error != "" {
			t.Fatalf("record unreadable: %s", r.Error)
		}
		out = append(out, r.Key+"="+r.Value)
	}
	return out
}

// SendErr is send without failing the test: for other goroutines.
func (s *Stack) SendErr(m UserMsg) (SendResult, error) {
	var res SendResult
	body, _ := json.Marshal(m)
	resp, err := s.Control.Post(s.Admin+"/_sim/telegram/send", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("send: %d %s", resp.StatusCode, raw)
	}
	return res, json.Unmarshal(raw, &res)
}

// PostPublicErr is postPublic without failing the test.
func (s *Stack) PostPublicErr(url string, body []byte, header map[string]string) (int, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// JiraAttachmentContent is the content of an attachment as the Jira simulator serves it.
func (s *Stack) JiraAttachmentContent(t *testing.T, id string) []byte {
	t.Helper()
	sims, ok := s.Emu.Sims.(*stack.Local)
	if !ok {
		t.Fatalf("simulators %T", s.Emu.Sims)
	}
	r := httptest.NewRequest("GET", "/rest/api/3/attachment/content/"+id+"?redirect=false", nil)
	r.Header.Set("Authorization", jira.DefaultAuthorization)
	rec := httptest.NewRecorder()
	sims.Jira.API().ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("attachment %s: %d", id, rec.Code)
	}
	return rec.Body.Bytes()
}

func AdminCall(t *testing.T, base, token, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}
