package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// The scenario tests run the bridge against sdktest's fakes, with fake
// Telegram and Jira services that answer as the real ones do.

const (
	testProject = "SUP"
	goodToken   = "7000000001:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd"
	otherToken  = "7000000002:BBH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd"
	appAccount  = "557058:chatbridge-app-account"
	triggerURL  = "https://bridge.example.com/x/wt-7f3a9c"
	annaChat    = "5123456789"
)

func load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type harness struct {
	t     *testing.T
	env   *sdktest.Env
	b     *Bridge
	ctx   abi.Context
	tg    *fakeTelegram
	jira  *fakeJira
	mu    sync.Mutex // guards now, slept and crash
	now   time.Time
	slept []time.Duration
	crash *crashPoint
	seq   int
	// retries records the RetryAfterSeconds of every retry a consumer asked for.
	retries []uint32
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, env: sdktest.NewEnv(), now: time.Date(2025, 11, 22, 10, 0, 0, 0, time.UTC)}
	h.env.Store.Now = h.clock
	h.b = &Bridge{Now: h.clock, Sleep: func(d time.Duration) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.slept = append(h.slept, d)
		h.now = h.now.Add(d)
	}}
	h.ctx = abi.Context{Installation: "inst-1", SiteURL: "https://acme.atlassian.net", AppAccountID: appAccount,
		InvocationID: "inv-1", WebTriggers: []abi.Header{{Name: "telegram-webhook", Value: triggerURL}}}
	h.tg = newFakeTelegram(t, h.env)
	h.jira = newFakeJira(t)
	h.jira.now = h.clock
	h.env.JiraAPI.Handler = h.serveJira
	h.env.Env.Storage = crashingStorage{h}
	return h
}

// errCrash is what a simulated crash panics with.
var errCrash = errors.New("test: host killed")

// crashAfter makes the host die (a panic that deliverCrashing recovers)
// right after the next successful Jira call of method whose URL starts
// with prefix: at the next Jira call (before a second call such as a
// mark), or at the next write of a progress record (dedupe:...) when
// atWrite is set. Nothing else of the delivery runs.
func (h *harness) crashAfter(method, prefix string, atWrite bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.crash = &crashPoint{method: method, prefix: prefix, atWrite: atWrite}
}

type crashPoint struct {
	method, prefix string
	atWrite        bool
	armed          bool // the call went through; the crash comes next
}

// crashNow reports whether the armed crash point is reached, disarming it.
func (h *harness) crashNow(write bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.crash; c != nil && c.armed && c.atWrite == write {
		h.crash = nil
		return true
	}
	return false
}

func (h *harness) serveJira(req *abi.Request) (*abi.Response, error) {
	if h.crashNow(false) {
		panic(errCrash)
	}
	resp, err := h.jira.serve(req)
	h.mu.Lock()
	if c := h.crash; c != nil && !c.armed && err == nil && resp.Status/100 == 2 && req.Method == c.method && strings.HasPrefix(req.URL, c.prefix) {
		c.armed = true
	}
	h.mu.Unlock()
	return resp, err
}

// crashingStorage is the fake storage, dying at an armed crash point.
type crashingStorage struct{ h *harness }

func (s crashingStorage) Get(key string) ([]byte, error) { return s.h.env.Store.Get(key) }
func (s crashingStorage) Delete(key string) error        { return s.h.env.Store.Delete(key) }
func (s crashingStorage) Query(prefix, cursor string, limit int) (abi.Page, error) {
	return s.h.env.Store.Query(prefix, cursor, limit)
}
func (s crashingStorage) Transact(ops []abi.TxnOp) (bool, error) {
	for _, op := range ops {
		if op.Kind == abi.TxnSet && strings.HasPrefix(op.Key, "dedupe:") && s.h.crashNow(true) {
			panic(errCrash)
		}
	}
	return s.h.env.Store.Transact(ops)
}
func (s crashingStorage) Set(key string, value []byte, ttl time.Duration) error {
	if strings.HasPrefix(key, "dedupe:") && s.h.crashNow(true) {
		panic(errCrash)
	}
	err := s.h.env.Store.Set(key, value, ttl)
	// crashAfter("SET", prefix, true): the write of a record under prefix
	// arms the crash at the next progress write.
	s.h.mu.Lock()
	if c := s.h.crash; c != nil && !c.armed && err == nil && c.method == "SET" && strings.HasPrefix(key, c.prefix) {
		c.armed = true
	}
	s.h.mu.Unlock()
	return err
}

// deliverCrashing delivers p and expects the armed crash: the host dies
// and the message stays in the queue.
func (h *harness) deliverCrashing(p sdktest.Pushed, attempt uint32) {
	h.t.Helper()
	defer func() {
		if r := recover(); r != errCrash {
			if r != nil {
				panic(r)
			}
			h.t.Fatal("the delivery did not reach the crash point")
		}
	}()
	h.deliver(p, attempt)
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// resolve calls an admin resolver and decodes its JSON answer.
func (h *harness) resolve(function string, payload any) (map[string]any, error) {
	h.t.Helper()
	b, _ := json.Marshal(payload)
	out, err := h.b.Resolver(h.env.Env, &abi.ResolverCall{Context: h.ctx, Function: function, Payload: b})
	if err != nil {
		return nil, err
	}
	var a map[string]any
	if err := json.Unmarshal(out, &a); err != nil {
		h.t.Fatalf("resolver answer is not JSON: %s", out)
	}
	return a, nil
}

// configure saves a working configuration, with overrides.
func (h *harness) configure(overrides map[string]any) map[string]any {
	h.t.Helper()
	p := map[string]any{"projectKey": testProject, "enabled": true, "channel": "telegram", "botToken": goodToken,
		"serviceDeskId": "2", "requestTypeId": "11"}
	for k, v := range overrides {
		p[k] = v
	}
	a, err := h.resolve("config.set", p)
	if err != nil {
		h.t.Fatal(err)
	}
	if a["ok"] != true {
		h.t.Fatalf("config.set: %v", a)
	}
	return a
}

// post delivers a webhook as Telegram would, with the given secret token.
func (h *harness) post(body []byte, secret string) *abi.Response {
	h.t.Helper()
	req := &abi.WebTriggerRequest{Context: h.ctx, Trigger: "telegram-webhook", Method: "POST", Path: "/",
		Query: []abi.Header{{Name: "project", Value: testProject}}, Body: body}
	if secret != "" {
		req.Headers = []abi.Header{{Name: "X-Telegram-Bot-Api-Secret-Token", Value: secret}, {Name: "Content-Type", Value: "application/json"}}
	}
	resp, err := h.b.WebTrigger(h.env.Env, req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// send delivers an update with the registered secret and expects 200.
func (h *harness) send(body []byte) {
	h.t.Helper()
	if resp := h.post(body, h.tg.secret()); resp.Status != 200 {
		h.t.Fatalf("webhook answered %d", resp.Status)
	}
}

// sendFixture delivers testdata/telegram/<name>.
func (h *harness) sendFixture(name string) { h.send(load(h.t, "telegram/"+name)) }

// text builds a text update with a fresh update_id.
func (h *harness) text(chat int64, text string) []byte {
	h.seq++
	u := map[string]any{
		"update_id": 900000000 + h.seq,
		"message": map[string]any{
			"message_id": 5000 + h.seq,
			"from":       map[string]any{"id": chat, "is_bot": false, "first_name": "Anna", "last_name": "Schmidt"},
			"chat":       map[string]any{"id": chat, "type": "private", "first_name": "Anna"},
			"date":       1763805120 + h.seq,
			"text":       text,
		},
	}
	b, _ := json.Marshal(u)
	return b
}

// event delivers a Jira webhook fixture as a product event.
func (h *harness) event(name string, replace ...string) {
	h.t.Helper()
	payload := string(load(h.t, "jira/"+name))
	payload = strings.NewReplacer(replace...).Replace(payload)
	typ := "avi:jira:commented:issue"
	if strings.Contains(payload, `"jira:issue_updated"`) {
		typ = "avi:jira:updated:issue"
		h.jira.follow([]byte(payload))
	}
	if err := h.b.Event(h.env.Env, &abi.Event{Context: h.ctx, Trigger: "jira-events", Type: typ, Payload: []byte(payload)}); err != nil {
		h.t.Fatalf("event %s: %v", name, err)
	}
}

// MaxAttempts is the host's bound on deliveries in these tests (Forge's:
// one try and 4 retries).
const MaxAttempts = 5

// deliver hands one pushed message to its consumer, as the host would.
func (h *harness) deliver(p sdktest.Pushed, attempt uint32) abi.QueueResult {
	h.t.Helper()
	h.seq++
	res, err := h.b.Queue(h.env.Env, &abi.QueueMessage{Context: h.ctx, Queue: p.Queue, ID: "msg-" + strconv.Itoa(h.seq), Attempt: attempt, MaxAttempts: MaxAttempts, Payload: p.Payload})
	if err != nil {
		h.t.Fatalf("consumer %s: %v", p.Queue, err)
	}
	return res
}

// drain delivers everything queued, honouring delays on the fake clock and
// retrying as the host would (at most 5 attempts).
func (h *harness) drain() {
	h.t.Helper()
	for round := 0; round < 200; round++ {
		items := h.env.Pushed.Take()
		if len(items) == 0 {
			return
		}
		for _, p := range items {
			h.advance(p.Delay)
			for attempt := uint32(1); attempt <= MaxAttempts; attempt++ {
				res := h.deliver(p, attempt)
				if res.RetryAfterSeconds == 0 {
					break
				}
				h.retries = append(h.retries, res.RetryAfterSeconds)
				h.advance(time.Duration(res.RetryAfterSeconds) * time.Second)
			}
		}
	}
	h.t.Fatal("queue never drained")
}

// --- fake Telegram ---------------------------------------------------------

type sentMessage struct {
	Method    string
	Chat      string
	Text      string // text, or caption
	ParseMode string
	File      string // file name of sendDocument/sendPhoto
	Data      []byte
	Markup    string // reply_markup as sent (satisfaction_test.go)
	Thread    int64  // message_thread_id (topics_test.go)
}

type fakeTelegram struct {
	t   *testing.T
	env *sdktest.Env

	mu        sync.Mutex // guards everything below
	token     string
	sent      []sentMessage
	hookURL   string
	hookSec   string
	allowed   []string
	deleted   int
	calls     map[string]int
	faults    map[string][]string // method -> error replies, used first
	files     map[string][]byte   // file_id -> content
	fileSizes map[string]int64    // file_id -> size getFile reports
	answered  []string            // answerCallbackQuery bodies
	topics    map[int64]string    // forum topics by thread id; nil: the bot has no topic mode (topics_test.go)
}

func newFakeTelegram(t *testing.T, env *sdktest.Env) *fakeTelegram {
	f := &fakeTelegram{t: t, env: env, token: goodToken, calls: map[string]int{}, faults: map[string][]string{},
		files: map[string][]byte{}, fileSizes: map[string]int64{}}
	env.HTTP.Handler = f.serve
	return f
}

func (f *fakeTelegram) secret() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hookSec
}

func (f *fakeTelegram) fail(method string, replies ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], replies...)
}

func (f *fakeTelegram) messages() []sentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMessage(nil), f.sent...)
}

func (f *fakeTelegram) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func tgOK(result string) *abi.Response {
	return &abi.Response{Status: 200, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: []byte(`{"ok":true,"result":` + result + `}`)}
}

func tgError(body string) *abi.Response {
	var r struct {
		ErrorCode int `json:"error_code"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	return &abi.Response{Status: uint16(r.ErrorCode), Body: []byte(body)}
}

// serve plays api.telegram.org; like the host, it substitutes the secret
// named in the URL and checks the token it finds.
func (f *fakeTelegram) serve(req *abi.Request) (*abi.Response, error) {
	const open = "https://api.telegram.org/"
	rest, ok := strings.CutPrefix(req.URL, open)
	if !ok {
		f.t.Errorf("fetch outside api.telegram.org: %s", req.URL)
		return &abi.Response{Status: 404}, nil
	}
	isFile := strings.HasPrefix(rest, "file/")
	rest = strings.TrimPrefix(rest, "file/")
	rest, ok = strings.CutPrefix(rest, "bot{{secret:")
	if !ok {
		f.t.Errorf("token not named by reference: %s", req.URL)
		return tgError(`{"ok":false,"error_code":401,"description":"Unauthorized"}`), nil
	}
	name, method, _ := strings.Cut(rest, "}}/")
	token := string(f.env.Secret.Reveal(name))
	f.mu.Lock()
	defer f.mu.Unlock()
	if token != f.token {
		return tgError(`{"ok":false,"error_code":401,"description":"Unauthorized"}`), nil
	}
	if isFile {
		id := strings.TrimPrefix(method, "files/")
		if b, ok := f.files[id]; ok {
			return &abi.Response{Status: 200, Body: b}, nil
		}
		return tgError(`{"ok":false,"error_code":404,"description":"Not Found"}`), nil
	}
	f.calls[method]++
	if q := f.faults[method]; len(q) > 0 {
		f.faults[method] = q[1:]
		return tgError(q[0]), nil
	}
	switch method {
	case "getMe":
		me := load(f.t, "telegram/getMe.json")
		if f.topics != nil {
			me = bytes.Replace(me, []byte(`"is_bot":true`), []byte(`"is_bot":true,"has_topics_enabled":true`), 1)
		}
		return &abi.Response{Status: 200, Body: me}, nil
	case "createForumTopic":
		var p struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(req.Body, &p); err != nil || f.topics == nil || p.Name == "" {
			return tgError(`{"ok":false,"error_code":400,"description":"Bad Request: the chat is not a forum"}`), nil
		}
		id := int64(100 + len(f.topics))
		f.topics[id] = p.Name
		return tgOK(fmt.Sprintf(`{"message_thread_id":%d,"name":%q,"icon_color":7322096}`, id, p.Name)), nil
	case "setWebhook":
		var p struct {
			URL     string   `json:"url"`
			Secret  string   `json:"secret_token"`
			Allowed []string `json:"allowed_updates"`
		}
		_ = json.Unmarshal(req.Body, &p)
		f.hookURL, f.hookSec, f.allowed = p.URL, p.Secret, p.Allowed
		return tgOK("true"), nil
	case "deleteWebhook":
		f.deleted++
		f.hookURL, f.hookSec = "", ""
		return tgOK("true"), nil
	case "sendMessage":
		var p struct {
			ChatID    int64           `json:"chat_id"`
			Text      string          `json:"text"`
			ParseMode string          `json:"parse_mode"`
			Markup    json.RawMessage `json:"reply_markup"`
			Thread    int64           `json:"message_thread_id"`
		}
		if err := json.Unmarshal(req.Body, &p); err != nil {
			return tgError(`{"ok":false,"error_code":400,"description":"Bad Request: invalid JSON"}`), nil
		}
		if p.Thread != 0 && f.topics[p.Thread] == "" {
			return tgError(`{"ok":false,"error_code":400,"description":"Bad Request: message thread not found"}`), nil
		}
		f.sent = append(f.sent, sentMessage{Method: method, Chat: strconv.FormatInt(p.ChatID, 10), Text: p.Text, ParseMode: p.ParseMode, Markup: string(p.Markup), Thread: p.Thread})
		return tgOK(`{"message_id":` + strconv.Itoa(2000+len(f.sent)) + `,"date":1763805300,"chat":{"id":` + strconv.FormatInt(p.ChatID, 10) + `,"type":"private"}}`), nil
	case "answerCallbackQuery":
		f.answered = append(f.answered, string(req.Body))
		return tgOK("true"), nil
	case "sendPhoto", "sendDocument":
		fields, fileName, data := parseMultipart(f.t, req)
		f.sent = append(f.sent, sentMessage{Method: method, Chat: fields["chat_id"], Text: fields["caption"], ParseMode: fields["parse_mode"], File: fileName, Data: data})
		return tgOK(`{"message_id":` + strconv.Itoa(2000+len(f.sent)) + `,"date":1763805300,"chat":{"id":` + fields["chat_id"] + `,"type":"private"}}`), nil
	case "getFile":
		var p struct {
			FileID string `json:"file_id"`
		}
		_ = json.Unmarshal(req.Body, &p)
		size, ok := f.fileSizes[p.FileID]
		if !ok {
			size = int64(len(f.files[p.FileID]))
		}
		if size > 20<<20 {
			return tgError(string(load(f.t, "telegram/error_400_file_too_big.json"))), nil
		}
		if _, ok := f.files[p.FileID]; !ok {
			return tgError(`{"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"}`), nil
		}
		return tgOK(fmt.Sprintf(`{"file_id":%q,"file_unique_id":"u","file_size":%d,"file_path":"files/%s"}`, p.FileID, size, p.FileID)), nil
	}
	return tgError(`{"ok":false,"error_code":404,"description":"Not Found"}`), nil
}

func parseMultipart(t *testing.T, req *abi.Request) (map[string]string, string, []byte) {
	_, params, err := mime.ParseMediaType(abi.Get(req.Headers, "Content-Type"))
	if err != nil {
		t.Errorf("multipart content type: %v", err)
		return nil, "", nil
	}
	r := multipart.NewReader(bytes.NewReader(req.Body), params["boundary"])
	fields := map[string]string{}
	var name string
	var data []byte
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("multipart: %v", err)
			break
		}
		b, _ := io.ReadAll(p)
		if p.FileName() != "" {
			name, data = p.FileName(), b
			continue
		}
		fields[p.FormName()] = string(b)
	}
	return fields, name, data
}

// --- fake Jira Service Management -------------------------------------------

type fakeComment struct {
	ID      string
	Body    string
	Public  bool
	Op      string // its chatbridge.op mark
	Author  string
	Created time.Time
}

type fakeAttach struct {
	Names   []string
	Data    [][]byte
	Public  bool
	Comment string
	// The comment JSM adds with the files.
	CommentID string
	Op        string
	Created   time.Time
}

type fakeIssue struct {
	Key, ID              string
	Summary, Description string
	Labels               []string
	Status, Category     string
	Comments             []fakeComment
	Attached             []fakeAttach
	Op                   string // its chatbridge.op mark
	Created              time.Time
	// Feedback is its JSM feedback body, "" when none; Satisfaction its
	// chatbridge.satisfaction property (satisfaction_test.go).
	Feedback, Satisfaction string
	// RequestType is the request type id it was raised with (routing_test.go).
	RequestType string
}

type fault struct {
	method, prefix string
	status         uint16
	headers        []abi.Header
	times          int
}

type fakeJira struct {
	t *testing.T

	mu       sync.Mutex // guards everything below
	issues   map[string]*fakeIssue
	order    []string
	comments int
	creates  int
	// noLabels: the request type's form lacks the Labels field.
	noLabels bool
	temp     map[string]struct {
		name string
		data []byte
	}
	properties  map[string]string // comment id -> property JSON
	attachments []map[string]any  // issue attachment listing
	content     map[string][]byte // attachment id -> content
	faults      []fault
	// onCreate runs once inside the next create call, to interleave a
	// concurrent delivery.
	onCreate func()
	// onCall runs once inside the next call whose "METHOD URL" starts with
	// onCallPrefix, before it is answered.
	onCall       func()
	onCallPrefix string
	// searchLag hides issues younger than it from searches, as Jira's
	// index does.
	searchLag time.Duration
	now       func() time.Time
}

func (j *fakeJira) clock() time.Time {
	if j.now == nil {
		return time.Now()
	}
	return j.now()
}

// allComments lists an issue's comments, those JSM added with files
// included, newest first; j.mu is held.
func (is *fakeIssue) allComments() []fakeComment {
	list := slices.Clone(is.Comments)
	for _, a := range is.Attached {
		body := a.Comment
		for _, n := range a.Names {
			body += "\n\n[^" + n + "]"
		}
		list = append(list, fakeComment{ID: a.CommentID, Body: strings.TrimSpace(body), Public: a.Public, Op: a.Op, Author: appAccount, Created: a.Created})
	}
	slices.SortStableFunc(list, func(a, b fakeComment) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return list
}

// searchJQL is the one query the bridge makes.
var searchJQL = regexp.MustCompile(`^project = "([A-Z][A-Z0-9_]*)" AND creator = currentUser\(\) AND created >= -([0-9]+)m ORDER BY created DESC$`)

// servePlatform answers the platform API's comment, property and search
// calls; ok is false for other calls. j.mu is held.
func (j *fakeJira) servePlatform(req *abi.Request, path string, q url.Values) (*abi.Response, bool) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(seg) < 4 || seg[0] != "rest" || seg[1] != "api" || seg[2] != "2" {
		return nil, false
	}
	if req.Method == "POST" && path == "/rest/api/2/search/jql" {
		var in struct {
			JQL        string   `json:"jql"`
			Properties []string `json:"properties"`
		}
		_ = json.Unmarshal(req.Body, &in)
		m := searchJQL.FindStringSubmatch(in.JQL)
		if m == nil {
			return jsonResp(400, map[string]any{"errorMessages": []string{"Error in the JQL Query"}, "errors": map[string]any{}}), true
		}
		mins, _ := strconv.Atoi(m[2])
		now := j.clock()
		issues := []any{}
		for i := len(j.order) - 1; i >= 0; i-- {
			is := j.issues[j.order[i]]
			if m[1] != testProject || is.Created.Before(now.Add(-time.Duration(mins)*time.Minute)) || now.Sub(is.Created) < j.searchLag {
				continue
			}
			props := map[string]any{}
			if is.Op != "" && slices.Contains(in.Properties, "chatbridge.op") {
				props["chatbridge.op"] = map[string]string{"id": is.Op}
			}
			issues = append(issues, map[string]any{"id": is.ID, "key": is.Key, "properties": props,
				"fields": map[string]any{"summary": is.Summary, "description": is.Description, "created": is.Created.Format(jiraTimeLayout)}})
		}
		return jsonResp(200, map[string]any{"issues": issues, "isLast": true}), true
	}
	if req.Method == "POST" && path == "/rest/api/2/comment/list" {
		var in struct {
			IDs []int64 `json:"ids"`
		}
		if err := json.Unmarshal(req.Body, &in); err != nil || len(in.IDs) == 0 || len(in.IDs) > 1000 {
			return jsonResp(400, map[string]any{"errorMessages": []string{"ids: 1 to 1000 comment ids are required"}, "errors": map[string]any{}}), true
		}
		values := []any{}
		for _, id := range in.IDs {
			for _, is := range j.issues {
				for _, c := range is.allComments() {
					if c.ID != strconv.FormatInt(id, 10) {
						continue
					}
					m := map[string]any{"id": c.ID, "body": c.Body, "author": map[string]any{"accountId": c.Author}, "created": c.Created.Format(jiraTimeLayout)}
					if q.Get("expand") == "properties" {
						props := []any{map[string]any{"key": "sd.public.comment", "value": map[string]bool{"internal": !c.Public}}}
						if c.Op != "" {
							props = append(props, map[string]any{"key": "chatbridge.op", "value": map[string]string{"id": c.Op}})
						}
						m["properties"] = props
					}
					values = append(values, m)
				}
			}
		}
		return jsonResp(200, map[string]any{"startAt": 0, "maxResults": 1000, "total": len(values), "isLast": true, "values": values}), true
	}
	if req.Method == "PUT" && len(seg) == 7 && seg[3] == "comment" && seg[5] == "properties" && seg[6] == "chatbridge.op" {
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(req.Body, &v)
		for _, is := range j.issues {
			for i := range is.Comments {
				if is.Comments[i].ID == seg[4] {
					is.Comments[i].Op = v.ID
					return &abi.Response{Status: 201}, true
				}
			}
			for i := range is.Attached {
				if is.Attached[i].CommentID == seg[4] {
					is.Attached[i].Op = v.ID
					return &abi.Response{Status: 201}, true
				}
			}
		}
		return jsonResp(404, map[string]any{"errorMessages": []string{"Can not find a comment for the id: " + seg[4] + "."}}), true
	}
	if len(seg) < 6 || seg[3] != "issue" || j.issues[seg[4]] == nil {
		return nil, false
	}
	is := j.issues[seg[4]]
	switch {
	case req.Method == "POST" && len(seg) == 6 && seg[5] == "comment":
		var in struct {
			Body       string `json:"body"`
			Properties []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(req.Body, &in); err != nil || in.Body == "" {
			return jsonResp(400, map[string]any{"errorMessages": []string{"Comment body can not be empty!"}}), true
		}
		c := fakeComment{Author: appAccount, Created: j.clock(), Body: in.Body}
		visible := false
		for _, p := range in.Properties {
			var v struct {
				Internal *bool  `json:"internal"`
				ID       string `json:"id"`
			}
			_ = json.Unmarshal(p.Value, &v)
			switch p.Key {
			case "sd.public.comment":
				visible = v.Internal != nil
				c.Public = v.Internal != nil && !*v.Internal
			case "chatbridge.op":
				c.Op = v.ID
			}
		}
		if !visible {
			j.t.Errorf("fake Jira: a comment without sd.public.comment")
		}
		j.comments++
		c.ID = strconv.Itoa(20000 + j.comments)
		is.Comments = append(is.Comments, c)
		return jsonResp(201, map[string]any{"id": c.ID, "body": c.Body}), true
	case req.Method == "GET" && len(seg) == 6 && seg[5] == "comment":
		list := is.allComments()
		start, _ := strconv.Atoi(q.Get("startAt"))
		limit, _ := strconv.Atoi(q.Get("maxResults"))
		if q.Get("orderBy") != "-created" || limit <= 0 {
			j.t.Errorf("fake Jira: comments listed with %v", q)
		}
		out := []any{}
		for i := start; i < len(list) && i < start+limit; i++ {
			c := list[i]
			// Jira documents only renderedBody for this expand: properties are
			// never listed here.
			out = append(out, map[string]any{"id": c.ID, "body": c.Body, "author": map[string]any{"accountId": c.Author}, "created": c.Created.Format(jiraTimeLayout)})
		}
		return jsonResp(200, map[string]any{"startAt": start, "maxResults": limit, "total": len(list), "comments": out}), true
	case req.Method == "PUT" && len(seg) == 7 && seg[5] == "properties" && seg[6] == "chatbridge.satisfaction":
		is.Satisfaction = string(req.Body)
		return &abi.Response{Status: 201}, true
	case req.Method == "PUT" && len(seg) == 7 && seg[5] == "properties" && seg[6] == "chatbridge.op":
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(req.Body, &v)
		is.Op = v.ID
		return &abi.Response{Status: 201}, true
	}
	return nil, false
}

// jiraTimeLayout is the platform API's timestamp format.
const jiraTimeLayout = "2006-01-02T15:04:05.000-0700"

func newFakeJira(t *testing.T) *fakeJira {
	return &fakeJira{t: t, issues: map[string]*fakeIssue{}, properties: map[string]string{}, content: map[string][]byte{},
		temp: map[string]struct {
			name string
			data []byte
		}{}}
}

func (j *fakeJira) fail(method, prefix string, status uint16, times int, headers ...abi.Header) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.faults = append(j.faults, fault{method, prefix, status, headers, times})
}

// follow makes the fake's issue show the status an issue_updated event
// announces: the event tells of a change an agent made in Jira.
func (j *fakeJira) follow(payload []byte) {
	var ev struct {
		Issue struct {
			Key    string `json:"key"`
			Fields struct {
				Status *struct {
					Name           string `json:"name"`
					StatusCategory struct {
						Key string `json:"key"`
					} `json:"statusCategory"`
				} `json:"status"`
			} `json:"fields"`
		} `json:"issue"`
	}
	if json.Unmarshal(payload, &ev) != nil || ev.Issue.Fields.Status == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if is := j.issues[ev.Issue.Key]; is != nil {
		is.Status = ev.Issue.Fields.Status.Name
		is.Category = strings.ToUpper(ev.Issue.Fields.Status.StatusCategory.Key)
	}
}

func (j *fakeJira) issue(key string) *fakeIssue {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.issues[key]
}

func (j *fakeJira) issueCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.order)
}

func jsonResp(status uint16, v any) *abi.Response {
	b, _ := json.Marshal(v)
	return &abi.Response{Status: status, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: b}
}

func (j *fakeJira) serve(req *abi.Request) (*abi.Response, error) {
	j.mu.Lock()
	for i := range j.faults {
		f := &j.faults[i]
		if f.times > 0 && f.method == req.Method && strings.HasPrefix(req.URL, f.prefix) {
			f.times--
			j.mu.Unlock()
			return &abi.Response{Status: f.status, Headers: f.headers, Body: []byte(`{"errorMessages":["injected"],"errors":{}}`)}, nil
		}
	}
	if j.onCall != nil && strings.HasPrefix(req.Method+" "+req.URL, j.onCallPrefix) {
		hook := j.onCall
		j.onCall = nil
		j.mu.Unlock()
		hook()
		j.mu.Lock()
	}
	if req.Method == "POST" && req.URL == "/rest/servicedeskapi/request" && j.onCreate != nil {
		hook := j.onCreate
		j.onCreate = nil
		j.mu.Unlock()
		hook()
		j.mu.Lock()
	}
	defer j.mu.Unlock()
	path, query, _ := strings.Cut(req.URL, "?")
	q, _ := url.ParseQuery(query)
	if resp, ok := j.servePlatform(req, path, q); ok {
		return resp, nil
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case req.Method == "GET" && path == "/rest/servicedeskapi/servicedesk":
		return &abi.Response{Status: 200, Body: load(j.t, "jira/servicedesks.json")}, nil
	case req.Method == "GET" && len(seg) == 5 && seg[2] == "servicedesk" && seg[4] == "requesttype":
		if seg[3] != "1" && seg[3] != "2" {
			return jsonResp(404, map[string]any{"errorMessage": "Service desk not found"}), nil
		}
		return &abi.Response{Status: 200, Body: load(j.t, "jira/requesttypes.json")}, nil
	case req.Method == "POST" && path == "/rest/servicedeskapi/request":
		var in struct {
			ServiceDeskID      string `json:"serviceDeskId"`
			RequestTypeID      string `json:"requestTypeId"`
			RequestFieldValues struct {
				Summary     string   `json:"summary"`
				Description string   `json:"description"`
				Labels      []string `json:"labels"`
			} `json:"requestFieldValues"`
		}
		if err := json.Unmarshal(req.Body, &in); err != nil || in.ServiceDeskID != "2" || in.RequestTypeID != "11" && in.RequestTypeID != "12" {
			return jsonResp(400, map[string]any{"errorMessage": "bad request"}), nil
		}
		if j.noLabels && in.RequestFieldValues.Labels != nil {
			msg := "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."
			return jsonResp(400, map[string]any{"errorMessage": msg, "errors": []map[string]string{{"fieldId": "labels", "errorMessage": msg}}}), nil
		}
		j.creates++
		n := len(j.order) + 1
		is := &fakeIssue{Key: "SUP-" + strconv.Itoa(n), ID: strconv.Itoa(10041 + n), Summary: in.RequestFieldValues.Summary,
			Description: in.RequestFieldValues.Description, Labels: in.RequestFieldValues.Labels, Status: "Waiting for support", Category: "NEW", Created: j.clock(),
			RequestType: in.RequestTypeID}
		j.issues[is.Key] = is
		j.order = append(j.order, is.Key)
		return jsonResp(201, map[string]any{"issueId": is.ID, "issueKey": is.Key, "requestTypeId": "11", "serviceDeskId": "2",
			"currentStatus": map[string]any{"status": is.Status, "statusCategory": is.Category}}), nil
	case len(seg) >= 4 && seg[1] == "servicedeskapi" && seg[2] == "request":
		is := j.issues[seg[3]]
		if is == nil {
			return jsonResp(404, map[string]any{"errorMessage": "Request does not exist"}), nil
		}
		switch {
		case len(seg) == 5 && seg[4] == "feedback":
			return j.feedback(req, is), nil // satisfaction_test.go
		case req.Method == "GET" && len(seg) == 4:
			return jsonResp(200, map[string]any{"issueKey": is.Key, "currentStatus": map[string]any{"status": is.Status, "statusCategory": is.Category},
				"requestFieldValues": []any{map[string]any{"fieldId": "summary", "value": is.Summary}, map[string]any{"fieldId": "description", "value": is.Description}}}), nil
		case req.Method == "GET" && len(seg) == 5 && seg[4] == "comment":
			// The service desk API's list: public and internal filter it.
			values := []any{}
			for _, c := range is.Comments {
				if q.Get("public") == "false" && c.Public || q.Get("internal") == "false" && !c.Public {
					continue
				}
				values = append(values, map[string]any{"id": c.ID, "body": c.Body, "public": c.Public,
					"author": map[string]any{"accountId": c.Author}, "created": map[string]any{"epochMillis": c.Created.UnixMilli()}})
			}
			return jsonResp(200, map[string]any{"size": len(values), "start": 0, "limit": 100, "isLastPage": true, "values": values}), nil
		case req.Method == "POST" && len(seg) == 5 && seg[4] == "comment":
			var in struct {
				Body   string `json:"body"`
				Public *bool  `json:"public"`
			}
			if err := json.Unmarshal(req.Body, &in); err != nil || in.Public == nil || in.Body == "" {
				return jsonResp(400, map[string]any{"errorMessage": "body and public are required"}), nil
			}
			j.comments++
			c := fakeComment{ID: strconv.Itoa(20000 + j.comments), Body: in.Body, Public: *in.Public, Author: appAccount, Created: j.clock()}
			is.Comments = append(is.Comments, c)
			return jsonResp(201, map[string]any{"id": c.ID, "body": c.Body, "public": c.Public}), nil
		case req.Method == "POST" && len(seg) == 5 && seg[4] == "attachment":
			var in struct {
				IDs     []string `json:"temporaryAttachmentIds"`
				Public  bool     `json:"public"`
				Comment *struct {
					Body string `json:"body"`
				} `json:"additionalComment"`
			}
			if err := json.Unmarshal(req.Body, &in); err != nil || len(in.IDs) == 0 {
				return jsonResp(400, map[string]any{"errorMessage": "no attachments"}), nil
			}
			a := fakeAttach{Public: in.Public, CommentID: strconv.Itoa(30001 + len(is.Attached)), Created: j.clock()}
			if in.Comment != nil {
				a.Comment = in.Comment.Body
			}
			for _, id := range in.IDs {
				tmp, ok := j.temp[id]
				if !ok {
					return jsonResp(400, map[string]any{"errorMessage": "temporary attachment expired"}), nil
				}
				a.Names, a.Data = append(a.Names, tmp.name), append(a.Data, tmp.data)
			}
			is.Attached = append(is.Attached, a)
			return jsonResp(201, map[string]any{"comment": map[string]any{"id": a.CommentID}, "attachments": map[string]any{"values": []any{}}}), nil
		}
	case req.Method == "POST" && len(seg) == 5 && seg[4] == "attachTemporaryFile":
		if abi.Get(req.Headers, "X-Atlassian-Token") != "no-check" || abi.Get(req.Headers, "X-ExperimentalApi") != "opt-in" {
			return jsonResp(403, map[string]any{"errorMessage": "XSRF check failed"}), nil
		}
		_, name, data := parseMultipart(j.t, req)
		id := "temp" + strconv.Itoa(len(j.temp)+1)
		j.temp[id] = struct {
			name string
			data []byte
		}{name, data}
		return jsonResp(201, map[string]any{"temporaryAttachments": []any{map[string]any{"temporaryAttachmentId": id, "fileName": name}}}), nil
	case req.Method == "GET" && len(seg) == 7 && seg[3] == "comment" && seg[6] == "sd.public.comment":
		id := seg[4]
		if p, ok := j.properties[id]; ok {
			return &abi.Response{Status: 200, Body: []byte(p)}, nil
		}
		return jsonResp(404, map[string]any{"errorMessages": []string{"The property with key 'sd.public.comment' does not exist."}}), nil
	case req.Method == "GET" && len(seg) == 5 && seg[3] == "issue" && q.Get("fields") == "attachment":
		return jsonResp(200, map[string]any{"key": seg[4], "fields": map[string]any{"attachment": j.attachments}}), nil
	case req.Method == "GET" && len(seg) == 5 && seg[3] == "issue" && q.Get("fields") == "status":
		is := j.issues[seg[4]]
		if is == nil {
			return jsonResp(404, nil), nil
		}
		return jsonResp(200, map[string]any{"fields": map[string]any{"status": map[string]any{"name": is.Status, "statusCategory": map[string]any{"key": strings.ToLower(is.Category)}}}}), nil
	case req.Method == "GET" && strings.HasPrefix(path, "/rest/api/3/attachment/content/"):
		if q.Get("redirect") != "false" {
			return &abi.Response{Status: 303}, nil
		}
		if b, ok := j.content[seg[5]]; ok {
			return &abi.Response{Status: 200, Body: b}, nil
		}
		return jsonResp(404, nil), nil
	}
	j.t.Errorf("fake Jira: unexpected %s %s", req.Method, req.URL)
	return jsonResp(404, nil), nil
}

func sdktestPushed(queue string, payload []byte) sdktest.Pushed {
	return sdktest.Pushed{Queue: queue, Payload: payload}
}
