package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// DefaultToken is the bot token of a zero Config.
const DefaultToken = "7000000001:AAHdevSimulatorToken_0123456789abcd"

// Config configures a Sim. The zero value is a usable simulator of one bot
// with DefaultToken and Telegram's own limits.
type Config struct {
	// Tokens are the bot tokens the simulator knows, one bot each; the
	// number before ':' is the bot's user id. Every other token gets 401.
	// Default: DefaultToken.
	Tokens []string
	// BotName is the bots' first name. Default "ChatBridge Dev".
	BotName string
	// BotUsername is the first bot's username; later bots get "_2", "_3"...
	// inserted before "bot". Default "chatbridge_dev_bot".
	BotUsername string

	// Client makes the webhook deliveries; set it to trust the certificate
	// the webhook is served with. Default: an http.Client with
	// DeliveryTimeout and the system roots.
	Client *http.Client
	// DeliveryTimeout is how long a delivery waits for the webhook's answer
	// (applied per request, also with a Client). Default 60 s, Telegram's.
	DeliveryTimeout time.Duration
	// RetryDelay is the wait before the first redelivery of an update that
	// failed; it doubles with every attempt up to MaxRetryDelay.
	// Default 1 s.
	RetryDelay time.Duration
	// MaxRetryDelay caps the wait between deliveries. Default 60 s.
	MaxRetryDelay time.Duration
	// MaxAttempts is how many deliveries of one update are tried before it
	// is dropped. Default 0: no limit but MaxUpdateAge.
	MaxAttempts int
	// MaxUpdateAge is how long an undelivered update is kept. Default 24 h,
	// Telegram's.
	MaxUpdateAge time.Duration
	// AnyWebhookPort lets setWebhook take any port; Telegram takes only 443,
	// 80, 88 and 8443. Default false.
	AnyWebhookPort bool

	// RateLimit turns on Telegram's flood control: a chat gets at most one
	// message a second, a bot 30 a second in all; more get 429 with
	// parameters.retry_after. Default off.
	RateLimit bool
	// Topics turns on the bots' forum topic mode in private chats (Bot
	// API 9.3: getMe's has_topics_enabled; topics.go). Default off.
	Topics bool
	// MaxUploadBytes is the largest file sendDocument takes. Default 50 MB.
	MaxUploadBytes int64
	// MaxPhotoBytes is the largest photo sendPhoto takes. Default 10 MB.
	MaxPhotoBytes int64
	// MaxDownloadBytes is the largest file getFile serves. Default 20 MB.
	MaxDownloadBytes int64

	// Now is the clock of message dates and of rate limits and retry_after
	// windows (delivery retries use real timers). Default time.Now.
	Now func() time.Time
}

// withDefaults fills in the documented defaults.
func (c Config) withDefaults() Config {
	if len(c.Tokens) == 0 {
		c.Tokens = []string{DefaultToken}
	}
	if c.BotName == "" {
		c.BotName = "ChatBridge Dev"
	}
	if c.BotUsername == "" {
		c.BotUsername = "chatbridge_dev_bot"
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 60 * time.Second
	}
	if c.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64 // deliveries run in parallel
		c.Client = &http.Client{Timeout: c.DeliveryTimeout, Transport: tr}
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 60 * time.Second
	}
	if c.MaxUpdateAge <= 0 {
		c.MaxUpdateAge = 24 * time.Hour
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 50 << 20
	}
	if c.MaxPhotoBytes <= 0 {
		c.MaxPhotoBytes = 10 << 20
	}
	if c.MaxDownloadBytes <= 0 {
		c.MaxDownloadBytes = 20 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sim is a simulated Telegram Bot API server: what the bridge calls (API),
// what tests and tools drive it with (Control), and the webhook deliveries
// it makes.
type Sim struct {
	cfg     Config
	byToken map[string]*bot // fixed at New
	control http.Handler
	faults  simctl.Faults

	ctx    context.Context // cancelled by Close: stops deliveries
	cancel context.CancelFunc
	wake   chan struct{} // buffered(1): the dispatcher has something to look at
	wg     sync.WaitGroup

	// mu guards everything below and all state of the bots: chats,
	// messages, files, the update queues and webhooks, counters.
	mu           sync.Mutex
	bots         []*bot // in Config.Tokens order; bots[0] is the default
	closed       bool
	earlyRetries int64
	rateLimited  int64
	delivered    int64
	dropped      int64
	enqueued     int64            // updates ever queued, for Activity
	requests     map[string]int64 // by method
	refused      map[string]int64 // calls of methods the Bot API lacks, by name
}

// bot is one bot's state, guarded by Sim.mu.
type bot struct {
	token string
	user  User

	hook             webhook
	lastErrorDate    int64
	lastErrorMessage string
	queue            []*pending // undelivered updates, by update_id
	inflight         int        // deliveries under way
	nextUpdateID     int64
	newUpdate        chan struct{} // closed and replaced when an update is queued

	chats    map[int64]*chat
	files    map[string]*file // by file_id
	paths    map[string]*file // by file_path
	nextFile int64
	commands map[string][]BotCommand // by scope type and language

	retryUntil map[string]time.Time // scope -> end of the last 429's wait
	retryAfter map[string]int       // scope -> that 429's retry_after
	recent     []time.Time          // the bot's sends within the last second

	callbacks    map[string]*callback // presses by callback query id (buttons.go)
	nextCallback int64
}

// webhook is what setWebhook registered.
type webhook struct {
	url            string
	secret         string
	maxConnections int
	allowed        []string
	certificate    bool
}

// chat is a private chat with a user.
type chat struct {
	id            int64
	user          User
	blocked       bool
	nextMessageID int64
	messages      map[int64]*Message
	sent          []Sent
	lastSend      time.Time
	topics        map[int64]string // forum topics of the private chat by message_thread_id (topics.go)
	// reactions are the user's reaction per message (media.go); noVoice
	// is the user's privacy setting that forbids voice messages.
	reactions map[int64]string
	noVoice   bool
}

// Sent is one thing the bot sent to a chat, as GET /_sim/telegram/sent
// lists it.
type Sent struct {
	Method    string `json:"method"`
	MessageID int64  `json:"message_id,omitempty"`
	// Thread is the topic the message went to (message_thread_id), 0 for none.
	Thread int64 `json:"message_thread_id,omitempty"`
	// Text is the text or caption as the bot sent it (markup included).
	Text      string `json:"text"`
	ParseMode string `json:"parse_mode"`
	// Plain is Text after entity parsing, as the user sees it.
	Plain            string          `json:"plain,omitempty"`
	Entities         []MessageEntity `json:"entities,omitempty"`
	FileName         string          `json:"file_name,omitempty"`
	FileSize         int64           `json:"file_size,omitempty"`
	MimeType         string          `json:"mime_type,omitempty"`
	ReplyToMessageID int64           `json:"reply_to_message_id,omitempty"`
	Action           string          `json:"action,omitempty"`
	// ReplyMarkup is the inline keyboard sent with the message.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	Date        int64                 `json:"date"`
}

// New returns a simulator; Close stops its deliveries.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		cfg:      cfg,
		byToken:  make(map[string]*bot, len(cfg.Tokens)),
		ctx:      ctx,
		cancel:   cancel,
		wake:     make(chan struct{}, 1),
		requests: make(map[string]int64),
		refused:  make(map[string]int64),
	}
	for i, token := range cfg.Tokens {
		if _, dup := s.byToken[token]; dup {
			continue
		}
		username := cfg.BotUsername
		if i > 0 {
			base := strings.TrimSuffix(strings.TrimSuffix(username, "bot"), "_")
			username = fmt.Sprintf("%s_%d_bot", base, i+1)
		}
		yes, no := true, false
		b := &bot{
			token: token,
			user: User{ID: botID(token), IsBot: true, FirstName: cfg.BotName, Username: username,
				CanJoinGroups: &yes, CanReadAllGroupMessages: &no, SupportsInlineQueries: &no,
				CanConnectToBusiness: &no, HasMainWebApp: &no, HasTopicsEnabled: &cfg.Topics, AllowsUsersToCreateTopics: &no},
			nextUpdateID: 800000001 + int64(i)*1000000,
			newUpdate:    make(chan struct{}),
			chats:        make(map[int64]*chat),
			files:        make(map[string]*file),
			paths:        make(map[string]*file),
			commands:     make(map[string][]BotCommand),
			retryUntil:   make(map[string]time.Time),
			retryAfter:   make(map[string]int),
		}
		s.bots = append(s.bots, b)
		s.byToken[token] = b
	}
	s.control = s.newControl()
	s.wg.Add(1)
	go s.dispatch()
	return s
}

// botID is the number before ':' in a token, or a stable number made from
// the token when it has none.
func botID(token string) int64 {
	head, _, _ := strings.Cut(token, ":")
	if id, err := strconv.ParseInt(head, 10, 64); err == nil && id > 0 {
		return id
	}
	h := fnv.New64a()
	h.Write([]byte(token))
	return int64(h.Sum64()>>33) + 1
}

// Name is "telegram", the simulator's name in control paths and faults.
func (s *Sim) Name() string { return "telegram" }

// Close stops the webhook deliveries and waits for them to end. Updates
// still pending are kept but never delivered.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// EarlyRetries is how many calls came before the retry_after of an earlier
// 429 to the same chat (or, for calls without a chat, the same method) had
// passed. A well-behaved client keeps it at 0.
func (s *Sim) EarlyRetries() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earlyRetries
}

// now is the configured clock.
func (s *Sim) now() time.Time { return s.cfg.Now() }

// apiError is a failed Bot API call.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: 400, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &apiError{code: 401, desc: "Unauthorized"}
	errNotFound     = &apiError{code: 404, desc: "Not Found"}
	errBlocked      = &apiError{code: 403, desc: "Forbidden: bot was blocked by the user"}
	errTooLarge     = &apiError{code: 413, desc: "Request Entity Too Large"}
	errChatNotFound = &apiError{code: 400, desc: "Bad Request: chat not found"}
)

func tooMany(retryAfter int) *apiError {
	return &apiError{code: 429, desc: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), retryAfter: retryAfter}
}

// writeResult writes a Bot API answer: {"ok":true,"result":...} or the error.
func writeResult(w http.ResponseWriter, result any, desc string, e *apiError) {
	resp := response{OK: e == nil, Result: result, Description: desc}
	status := http.StatusOK
	if e != nil {
		resp = response{ErrorCode: e.code, Description: e.desc}
		if e.retryAfter > 0 {
			resp.Parameters = &ResponseParameters{RetryAfter: e.retryAfter}
		}
		status = e.code
	}
	body, err := json.Marshal(resp)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// API is the Bot API as the bridge calls it: /bot<token>/<method> and
// /file/bot<token>/<file_path>, to be served over TLS.
func (s *Sim) API() http.Handler { return http.HandlerFunc(s.serveAPI) }

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, r, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		s.refuse("(no method)")
		writeResult(w, nil, "", errNotFound)
		return
	}
	token, name, _ := strings.Cut(rest, "/")
	b := s.byToken[token]
	if b == nil {
		writeResult(w, nil, "", errUnauthorized)
		return
	}
	m, ok := methods[strings.ToLower(name)]
	if !ok {
		s.refuse(name)
		writeResult(w, nil, "", errNotFound)
		return
	}
	a, e := readArgs(r, s.cfg.MaxUploadBytes)
	if e != nil {
		writeResult(w, nil, "", e)
		return
	}
	result, desc, e := s.call(r.Context(), b, m, a)
	writeResult(w, result, desc, e)
}

// refuse counts a call of a method the simulator does not serve (none the
// Bot API has), for GET /_sim/telegram/stats.
func (s *Sim) refuse(method string) {
	s.mu.Lock()
	s.refused[method]++
	s.mu.Unlock()
}

// call runs one method for a bot: retry_after windows, injected faults and
// flood control first, then the method itself.
func (s *Sim) call(ctx context.Context, b *bot, m *method, a *args) (any, string, *apiError) {
	scope := "method:" + m.name
	if id, ok := a.chatID(); ok {
		scope = "chat:" + strconv.FormatInt(id, 10)
	}
	s.mu.Lock()
	s.requests[m.name]++
	now := s.now()
	if until, ok := b.retryUntil[scope]; ok {
		if now.Before(until) {
			// Retrying before retry_after: counted, and the wait starts over.
			s.earlyRetries++
			n := b.retryAfter[scope]
			b.retryUntil[scope] = now.Add(time.Duration(n) * time.Second)
			s.mu.Unlock()
			return nil, "", tooMany(n)
		}
		delete(b.retryUntil, scope)
		delete(b.retryAfter, scope)
	}
	s.mu.Unlock()

	if rule, ok := s.faults.Take(m.name); ok {
		rule.Hold(ctx)
		e := &apiError{code: rule.Status, desc: rule.Description}
		if rule.Status == http.StatusTooManyRequests {
			n := max(rule.RetryAfter, 1)
			e = tooMany(n)
			if rule.Description != "" {
				e.desc = rule.Description
			}
			s.mu.Lock()
			b.retryUntil[scope], b.retryAfter[scope] = s.now().Add(time.Duration(n)*time.Second), n
			s.mu.Unlock()
		} else if e.desc == "" {
			e.desc = faultDescription(rule.Status)
		}
		return nil, "", e
	}

	if m.send && s.cfg.RateLimit {
		if e := s.flood(b, a, scope); e != nil {
			return nil, "", e
		}
	}
	a.method = m
	result, desc, e := m.run(ctx, s, b, a)
	if e == nil && len(a.undeclared) > 0 {
		return nil, "", &apiError{code: 500, desc: "Internal Server Error: simulator read undeclared parameters " + strings.Join(a.undeclared, ", ")}
	}
	return result, desc, e
}

// faultDescription is Telegram's description for an injected status.
func faultDescription(status int) string {
	switch status {
	case 400:
		return "Bad Request: injected failure"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden: injected failure"
	case 404:
		return "Not Found"
	case 409:
		return "Conflict: injected failure"
	}
	return http.StatusText(status)
}

// flood is Telegram's flood control: one message a second per chat, 30 a
// second per bot. A 429 opens a retry_after window for the scope.
func (s *Sim) flood(b *bot, a *args, scope string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	limited := false
	if id, ok := a.chatID(); ok {
		if c := b.chats[id]; c != nil && !c.lastSend.IsZero() && now.Sub(c.lastSend) < time.Second {
			limited = true
		}
	}
	keep := b.recent[:0]
	for _, t := range b.recent {
		if now.Sub(t) < time.Second {
			keep = append(keep, t)
		}
	}
	b.recent = keep
	if len(b.recent) >= 30 {
		limited = true
	}
	if limited {
		s.rateLimited++
		b.retryUntil[scope], b.retryAfter[scope] = now.Add(time.Second), 1
		return tooMany(1)
	}
	b.recent = append(b.recent, now)
	if id, ok := a.chatID(); ok {
		if c := b.chats[id]; c != nil {
			c.lastSend = now
		}
	}
	return nil
}

// botByID picks a bot by id for the control API; 0 is the first.
func (s *Sim) botByID(id int64) *bot {
	if id == 0 {
		return s.bots[0]
	}
	for _, b := range s.bots {
		if b.user.ID == id {
			return b
		}
	}
	return nil
}
