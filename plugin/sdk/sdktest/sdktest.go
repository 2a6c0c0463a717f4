package sdktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Env is a complete fake environment; its fields can be inspected by tests.
type Env struct {
	*sdk.Env
	Store   *Storage
	Secret  *Secrets
	Pushed  *Queue
	HTTP    *HTTP
	JiraAPI *HTTP
	// Links answers jira.attachment-link; with no Handler it answers
	// unavailable, as a host without download links does.
	Links *Links
	// Uploads answers jira.upload-link and jira.upload-result with the
	// host's argument checks; a test stands for the browser with Upload.
	Uploads *Uploads
	// Live answers realtime.publish and realtime.sign-token with the
	// contract's checks and records both.
	Live *Realtime
	Logs *Logs
}

// NewEnv returns an Env whose every capability is an empty in-memory fake.
func NewEnv() *Env {
	e := &Env{
		Store:   NewStorage(),
		Secret:  &Secrets{values: map[string][]byte{}},
		Pushed:  &Queue{},
		HTTP:    &HTTP{},
		JiraAPI: &HTTP{},
		Links:   &Links{},
		Uploads: &Uploads{},
		Live:    &Realtime{},
		Logs:    &Logs{},
	}
	e.Env = &sdk.Env{
		Storage: e.Store, Secrets: e.Secret, Fetch: e.HTTP, Jira: jiraFake{e.JiraAPI, e.Links, e.Uploads},
		Queue: e.Pushed, Realtime: e.Live, Log: sdk.NewLogger(e.Logs.write),
	}
	return e
}

// Storage is Forge storage in memory, with the host's limits and TTLs.
type Storage struct {
	mu     sync.Mutex // guards values and expiry
	values map[string][]byte
	expiry map[string]time.Time
	// Now is the clock for TTLs; tests may replace it.
	Now func() time.Time
}

// NewStorage returns an empty store on the real clock.
func NewStorage() *Storage {
	return &Storage{values: map[string][]byte{}, expiry: map[string]time.Time{}, Now: time.Now}
}

func (s *Storage) live(key string) bool {
	if _, ok := s.values[key]; !ok {
		return false
	}
	if exp, ok := s.expiry[key]; ok && !s.Now().Before(exp) {
		delete(s.values, key)
		delete(s.expiry, key)
		return false
	}
	return true
}

// Get implements sdk.Storage.
func (s *Storage) Get(key string) ([]byte, error) {
	if abi.KeyProblem(key) != "" {
		return nil, abi.InvalidArgument
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live(key) {
		return nil, abi.NotFound
	}
	return slices.Clone(s.values[key]), nil
}

// Set implements sdk.Storage.
func (s *Storage) Set(key string, value []byte, ttl time.Duration) error {
	if abi.KeyProblem(key) != "" {
		return abi.InvalidArgument
	}
	if len(value) > abi.MaxValueLen {
		return abi.LimitExceeded
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		value = []byte{}
	}
	s.values[key] = slices.Clone(value)
	delete(s.expiry, key)
	if ttl > 0 {
		s.expiry[key] = s.Now().Add(ttl.Round(time.Second))
	}
	return nil
}

var _ sdk.Transactor = (*Storage)(nil)

// Transact implements sdk.Transactor as the host does: the operations are
// checked first (1 to abi.MaxTxnOps, distinct valid keys, values within
// the limit, a check with a condition), then every condition is judged and
// every write made under one lock, or none.
func (s *Storage) Transact(ops []abi.TxnOp) (bool, error) {
	if len(ops) == 0 || len(ops) > abi.MaxTxnOps {
		return false, abi.InvalidArgument
	}
	seen := map[string]bool{}
	for _, op := range ops {
		switch {
		case abi.KeyProblem(op.Key) != "", seen[op.Key], op.Kind > abi.TxnCheck, op.Condition > abi.IfEquals,
			op.Kind == abi.TxnCheck && op.Condition == abi.Always:
			return false, abi.InvalidArgument
		case len(op.Value) > abi.MaxValueLen:
			return false, abi.LimitExceeded
		}
		seen[op.Key] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		live := s.live(op.Key)
		switch op.Condition {
		case abi.IfAbsent:
			if live {
				return false, nil
			}
		case abi.IfExists:
			if !live {
				return false, nil
			}
		case abi.IfEquals:
			if !live || !bytes.Equal(s.values[op.Key], op.Expect) {
				return false, nil
			}
		}
	}
	for _, op := range ops {
		switch op.Kind {
		case abi.TxnSet:
			v := slices.Clone(op.Value)
			if v == nil {
				v = []byte{}
			}
			s.values[op.Key] = v
			delete(s.expiry, op.Key)
			if op.TTLSeconds > 0 {
				s.expiry[op.Key] = s.Now().Add(time.Duration(op.TTLSeconds) * time.Second)
			}
		case abi.TxnDelete:
			delete(s.values, op.Key)
			delete(s.expiry, op.Key)
		}
	}
	return true, nil
}

// Delete implements sdk.Storage.
func (s *Storage) Delete(key string) error {
	if abi.KeyProblem(key) != "" {
		return abi.InvalidArgument
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, key)
	delete(s.expiry, key)
	return nil
}

// Query implements sdk.Storage. As on the host, a cursor is opaque and
// valid only for the prefix that made it: anything else (a key, another
// prefix's cursor) is abi.InvalidArgument, so a module that builds cursors
// of its own fails here as it would on the host.
func (s *Storage) Query(prefix, cursor string, limit int) (abi.Page, error) {
	switch {
	case limit == 0:
		limit = abi.DefaultQueryLimit
	case limit < 0 || limit > abi.MaxQueryLimit:
		return abi.Page{}, abi.InvalidArgument
	}
	after := ""
	if cursor != "" {
		var ok bool
		if after, ok = openCursor(prefix, cursor); !ok {
			return abi.Page{}, abi.InvalidArgument
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.values {
		if strings.HasPrefix(k, prefix) && k > after && s.live(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var p abi.Page
	for i, k := range keys {
		if i == limit {
			p.NextCursor = makeCursor(prefix, keys[i-1])
			break
		}
		p.Entries = append(p.Entries, abi.Entry{Key: k, Value: slices.Clone(s.values[k])})
	}
	return p, nil
}

const cursorTag = "sdktest-cursor:"

func makeCursor(prefix, last string) string {
	return cursorTag + base64.RawURLEncoding.EncodeToString([]byte(prefix+"\x00"+last))
}

func openCursor(prefix, cursor string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, cursorTag))
	if err != nil || !strings.HasPrefix(cursor, cursorTag) {
		return "", false
	}
	p, last, ok := strings.Cut(string(b), "\x00")
	return last, ok && p == prefix
}

// Keys lists every live key, sorted: what a test asserts was stored.
func (s *Storage) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.values {
		if s.live(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Secrets keeps secrets in memory and, like the host, never returns them.
type Secrets struct {
	mu     sync.Mutex // guards values
	values map[string][]byte
}

// Set implements sdk.Secrets.
func (s *Secrets) Set(name string, value []byte) error {
	if abi.KeyProblem(name) != "" {
		return abi.InvalidArgument
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = slices.Clone(value)
	return nil
}

// Delete implements sdk.Secrets.
func (s *Secrets) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, name)
	return nil
}

// Compare implements sdk.Secrets.
func (s *Secrets) Compare(name string, candidate []byte) (bool, error) {
	v, err := s.get(name)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(v, candidate) == 1, nil
}

// VerifyHMAC implements sdk.Secrets.
func (s *Secrets) VerifyHMAC(name string, h sdk.Hash, data, mac []byte) (bool, error) {
	v, err := s.get(name)
	if err != nil {
		return false, err
	}
	var fn func() hash.Hash
	switch h {
	case sdk.SHA256:
		fn = sha256.New
	case sdk.SHA1:
		fn = sha1.New
	default:
		return false, abi.InvalidArgument
	}
	m := hmac.New(fn, v)
	m.Write(data)
	return hmac.Equal(m.Sum(nil), mac), nil
}

// Has reports whether a secret is set, for tests; the value stays hidden.
func (s *Secrets) Has(name string) bool {
	_, err := s.get(name)
	return err == nil
}

// Reveal returns a secret's value, for a test that must build a request
// signed with it (what the real sender would do); plugin code cannot.
func (s *Secrets) Reveal(name string) []byte {
	v, _ := s.get(name)
	return v
}

func (s *Secrets) get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[name]
	if !ok {
		return nil, abi.NotFound
	}
	return v, nil
}

// Pushed is one recorded queue push.
type Pushed struct {
	Queue    string
	OrderKey string
	Payload  []byte
	Delay    time.Duration
}

// Queue records pushes; a test delivers them by calling the consumer.
type Queue struct {
	mu    sync.Mutex // guards items
	items []Pushed
}

// Push implements sdk.Queue. A payload over abi.MaxQueuePayloadLen is
// refused with LimitExceeded, as the host refuses it.
func (q *Queue) Push(queue, orderKey string, payload []byte, delay time.Duration) error {
	if len(payload) > abi.MaxQueuePayloadLen {
		return abi.LimitExceeded
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, Pushed{queue, orderKey, slices.Clone(payload), delay})
	return nil
}

// Take returns and forgets everything pushed so far.
func (q *Queue) Take() []Pushed {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// HTTP answers fetch or jira requests with Handler and records them.
type HTTP struct {
	mu       sync.Mutex // guards requests
	requests []*abi.Request
	// Handler answers each request; nil answers unavailable.
	Handler func(*abi.Request) (*abi.Response, error)
}

// Fetch implements sdk.Fetcher.
func (h *HTTP) Fetch(req *abi.Request) (*abi.Response, error) {
	h.mu.Lock()
	h.requests = append(h.requests, req)
	fn := h.Handler
	h.mu.Unlock()
	if fn == nil {
		return nil, abi.Unavailable
	}
	return fn(req)
}

// Requests returns what was sent so far.
func (h *HTTP) Requests() []*abi.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

type jiraFake struct {
	h *HTTP
	l *Links
	u *Uploads
}

func (j jiraFake) Request(req *abi.Request) (*abi.Response, error) { return j.h.Fetch(req) }

var _ sdk.AttachmentLinker = jiraFake{}

// AttachmentLink implements sdk.AttachmentLinker with the host's argument checks.
func (j jiraFake) AttachmentLink(id string, ttl time.Duration) (string, error) {
	return j.l.link(id, ttl)
}

var _ sdk.UploadLinker = jiraFake{}

// UploadLink implements sdk.UploadLinker with the host's argument checks.
func (j jiraFake) UploadLink(desk, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error) {
	return j.u.link(desk, origin, subject, mediaType, maxBytes, ttl)
}

// UploadResult implements sdk.UploadLinker.
func (j jiraFake) UploadResult(link string) (sdk.UploadResult, error) { return j.u.result(link) }

// UploadRequest is one recorded jira.upload-link call.
type UploadRequest struct {
	Link, ServiceDesk, Origin, Subject string
	// MediaType is the type the link is bound to.
	MediaType string
	MaxBytes  int64
	TTL       time.Duration
}

// Uploads answers jira.upload-link with links of its own and
// jira.upload-result with what a test said each link received.
type Uploads struct {
	// MaxBytes, when set, is the manifest's app.uploads.maxBytes, held as
	// the host holds it: a link asked for with 0 takes it, one asked for
	// more is invalid-argument. NewEnvFor sets it.
	MaxBytes int64

	mu     sync.Mutex // guards asked and got
	asked  []UploadRequest
	got    map[string]sdk.UploadResult
	serial int
}

// UploadLinkPrefix begins every upload link the fake hands out.
const UploadLinkPrefix = "https://sdktest.edge/ul/"

func (u *Uploads) link(desk, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error) {
	secs := (ttl + time.Second - 1) / time.Second
	if desk == "" || len(desk) > 19 || desk[0] == '0' || strings.Trim(desk, "0123456789") != "" ||
		origin == "" || abi.OriginProblem(origin) != "" || subject == "" || len(subject) > abi.MaxUploadSubjectLen ||
		!abi.BareMediaType(mediaType) ||
		maxBytes < 0 || maxBytes > math.MaxUint32 || secs > abi.MaxUploadLinkTTL {
		return "", abi.InvalidArgument
	}
	if secs <= 0 {
		secs = abi.DefaultUploadLinkTTL
	}
	if u.MaxBytes > 0 {
		if maxBytes == 0 {
			maxBytes = u.MaxBytes
		}
		if maxBytes > u.MaxBytes {
			return "", abi.InvalidArgument
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.serial++
	link := fmt.Sprintf("%s%d", UploadLinkPrefix, u.serial)
	u.asked = append(u.asked, UploadRequest{link, desk, origin, subject, mediaType, maxBytes, secs * time.Second})
	return link, nil
}

func (u *Uploads) result(link string) (sdk.UploadResult, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r, ok := u.got[link]
	if !ok {
		return sdk.UploadResult{}, abi.NotFound
	}
	return r, nil
}

// Upload stands for a browser's upload to link: its result is then the
// link's subject with ids, of size bytes. It reports false for a link the
// fake never handed out.
func (u *Uploads) Upload(link string, bytes int64, ids ...string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, a := range u.asked {
		if a.Link == link {
			if u.got == nil {
				u.got = map[string]sdk.UploadResult{}
			}
			u.got[link] = sdk.UploadResult{Subject: a.Subject, TemporaryAttachmentIDs: ids, Bytes: bytes}
			return true
		}
	}
	return false
}

// Asked returns the upload-link calls so far.
func (u *Uploads) Asked() []UploadRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.asked)
}

// LinkRequest is one recorded jira.attachment-link call.
type LinkRequest struct {
	ID  string
	TTL time.Duration
}

// Links answers jira.attachment-link with Handler and records the calls.
type Links struct {
	mu    sync.Mutex // guards asked
	asked []LinkRequest
	// Handler returns the URL; nil answers unavailable.
	Handler func(id string, ttl time.Duration) (string, error)
}

func (l *Links) link(id string, ttl time.Duration) (string, error) {
	secs := (ttl + time.Second - 1) / time.Second
	if id == "" || len(id) > 19 || id[0] == '0' || strings.Trim(id, "0123456789") != "" || secs > abi.MaxLinkTTL {
		return "", abi.InvalidArgument
	}
	if secs <= 0 {
		secs = abi.DefaultLinkTTL
	}
	l.mu.Lock()
	l.asked = append(l.asked, LinkRequest{id, secs * time.Second})
	fn := l.Handler
	l.mu.Unlock()
	if fn == nil {
		return "", abi.Unavailable
	}
	return fn(id, secs*time.Second)
}

// Asked returns the calls so far.
func (l *Links) Asked() []LinkRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}

// Record is one log record.
type Record struct {
	Level   int32
	Message string
	Attrs   []abi.Header
}

// Logs records what the plugin logged.
type Logs struct {
	mu      sync.Mutex // guards records
	records []Record
}

func (l *Logs) write(level int32, msg string, attrs []abi.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, Record{level, msg, attrs})
}

// Records returns the log so far.
func (l *Logs) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// Published is one recorded realtime.publish.
type Published struct {
	Channel string
	Payload []byte
}

// Token is one recorded realtime.sign-token.
type Token struct {
	Channel, Origin string
	TTL             time.Duration
	Token           string
}

// Realtime is the realtime capability in memory: the contract's checks
// (channel names, origins, lifetimes, abi.MaxRealtimePayloadLen or the
// smaller PayloadBytes), a record of each publish and token. Tokens are
// "test-token:<channel>:<origin>".
type Realtime struct {
	// PayloadBytes is the manifest's app.realtime.payloadBytes; 0 means
	// abi.MaxRealtimePayloadLen.
	PayloadBytes int
	// Fail, when set, answers every call with its error (a host that
	// refuses: abi.LimitExceeded for a rate, abi.Unavailable).
	Fail error

	mu        sync.Mutex // guards published and tokens
	published []Published
	tokens    []Token
}

var _ sdk.Realtime = (*Realtime)(nil)

// Publish implements sdk.Realtime.
func (r *Realtime) Publish(channel string, payload []byte) error {
	limit := r.PayloadBytes
	if limit <= 0 || limit > abi.MaxRealtimePayloadLen {
		limit = abi.MaxRealtimePayloadLen
	}
	switch {
	case abi.ChannelProblem(channel) != "":
		return abi.InvalidArgument
	case len(payload) > limit:
		return abi.LimitExceeded
	case r.Fail != nil:
		return r.Fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, Published{channel, slices.Clone(payload)})
	return nil
}

// SignToken implements sdk.Realtime.
func (r *Realtime) SignToken(channel, origin string, ttl time.Duration) (string, error) {
	secs := (ttl + time.Second - 1) / time.Second
	switch {
	case abi.ChannelProblem(channel) != "", abi.OriginProblem(origin) != "", secs > abi.MaxRealtimeTokenTTL, ttl < 0:
		return "", abi.InvalidArgument
	case r.Fail != nil:
		return "", r.Fail
	}
	if secs == 0 {
		secs = abi.DefaultRealtimeTokenTTL
	}
	tok := "test-token:" + channel + ":" + origin
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, Token{channel, origin, secs * time.Second, tok})
	return tok, nil
}

// Published returns the publishes so far, in order.
func (r *Realtime) Published() []Published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.published)
}

// Tokens returns the tokens signed so far.
func (r *Realtime) Tokens() []Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tokens)
}
