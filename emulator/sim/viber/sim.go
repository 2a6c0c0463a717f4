package viber

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// DefaultToken is the bot token of a zero Config.
const DefaultToken = "4a5b6c7d8e9f0a1b-2c3d4e5f6a7b8c9d-0e1f2a3b4c5d6e7f"

// Limits of send_message.
const (
	MaxText       = 7000
	MaxRequest    = 30 << 10
	MaxSenderName = 28
)

// Viber status codes the simulator answers.
const (
	StatusOK              = 0
	StatusInvalidURL      = 1
	StatusInvalidToken    = 2
	StatusBadData         = 3
	StatusNotRegistered   = 5
	StatusNotSubscribed   = 6
	StatusTooManyRequests = 12
)

// Config configures a Sim. The zero value is a usable simulator of one bot
// with DefaultToken.
type Config struct {
	// Token is the bot's token; other tokens get status 2. Default DefaultToken.
	Token string
	// AccountID and AccountName describe the bot. Defaults "pa:5000000001"
	// and "ChatBridge Dev"; the URI is "chatbridgedev".
	AccountID, AccountName string
	// MediaURL is the base URL of customer media the simulator serves under
	// its API handler. Default "https://dl-media.viber.com/".
	MediaURL string
	// Client makes the callbacks. Default: an http.Client with a 30 s timeout.
	Client *http.Client
	// Now is the clock of timestamps. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Token == "" {
		c.Token = DefaultToken
	}
	if c.AccountID == "" {
		c.AccountID = "pa:5000000001"
	}
	if c.AccountName == "" {
		c.AccountName = "ChatBridge Dev"
	}
	if c.MediaURL == "" {
		c.MediaURL = "https://dl-media.viber.com/"
	}
	if !strings.HasSuffix(c.MediaURL, "/") {
		c.MediaURL += "/"
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sent is one message the bot sent, as GET /_sim/viber/sent lists it.
type Sent struct {
	Type         string `json:"type"`
	Text         string `json:"text"`
	SenderName   string `json:"sender_name"`
	MessageToken int64  `json:"message_token"`
	Timestamp    int64  `json:"timestamp"`
	// Picture and file messages: what the bot sent, and what fetching
	// Media once (as Viber's servers do) gave.
	Media    string   `json:"media,omitempty"`
	FileName string   `json:"file_name,omitempty"`
	Size     int64    `json:"size,omitempty"`
	Fetched  *Fetched `json:"fetched,omitempty"`
	// Keyboard is the keyboard the message carried.
	Keyboard []KeyButton `json:"keyboard,omitempty"`
}

// KeyButton is a keyboard button as sent.
type KeyButton struct {
	ActionType string `json:"ActionType"`
	ActionBody string `json:"ActionBody"`
	Text       string `json:"Text,omitempty"`
	Silent     bool   `json:"Silent,omitempty"`
}

// Keyboard limits (developers.viber.com/docs/tools/keyboards): a button
// spans 1 to 6 columns and 1 to 2 rows, its Text is at most 250
// characters, and it has Text, Image, BgMedia or BgColor.
const (
	MaxKeyColumns = 6
	MaxKeyRows    = 2
	MaxKeyText    = 250
)

// ActionTypes are a keyboard button's action types.
var ActionTypes = []string{"reply", "open-url", "location-picker", "share-phone", "none"}

// keyboardButtons checks the keyboard of a send_message; problem says what
// is wrong.
func keyboardButtons(raw json.RawMessage) (buttons []KeyButton, problem string) {
	var kb struct {
		Type    *string `json:"Type"`
		Buttons []struct {
			Columns    *int    `json:"Columns"`
			Rows       *int    `json:"Rows"`
			ActionType *string `json:"ActionType"`
			ActionBody string  `json:"ActionBody"`
			Text       string  `json:"Text"`
			Image      string  `json:"Image"`
			BgMedia    string  `json:"BgMedia"`
			BgColor    string  `json:"BgColor"`
			Silent     bool    `json:"Silent"`
		} `json:"Buttons"`
	}
	if err := json.Unmarshal(raw, &kb); err != nil {
		return nil, "keyboard is not a keyboard object"
	}
	if kb.Type != nil && *kb.Type != "keyboard" {
		return nil, "keyboard Type must be keyboard"
	}
	if len(kb.Buttons) == 0 {
		return nil, "keyboard Buttons is required"
	}
	for i, b := range kb.Buttons {
		at := "reply"
		if b.ActionType != nil {
			at = *b.ActionType
		}
		switch {
		case !slices.Contains(ActionTypes, at):
			return nil, fmt.Sprintf("button %d: unknown ActionType", i)
		case b.ActionBody == "":
			return nil, fmt.Sprintf("button %d: ActionBody is required", i)
		case b.Columns != nil && (*b.Columns < 1 || *b.Columns > MaxKeyColumns):
			return nil, fmt.Sprintf("button %d: Columns must be 1 to 6", i)
		case b.Rows != nil && (*b.Rows < 1 || *b.Rows > MaxKeyRows):
			return nil, fmt.Sprintf("button %d: Rows must be 1 or 2", i)
		case utf8.RuneCountInString(b.Text) > MaxKeyText:
			return nil, fmt.Sprintf("button %d: Text over 250 characters", i)
		case b.Text == "" && b.Image == "" && b.BgMedia == "" && b.BgColor == "":
			return nil, fmt.Sprintf("button %d: needs Text, Image, BgMedia or BgColor", i)
		}
		buttons = append(buttons, KeyButton{ActionType: at, ActionBody: b.ActionBody, Text: b.Text, Silent: b.Silent})
	}
	return buttons, ""
}

// Fetched is the simulator's one fetch of a media URL.
type Fetched struct {
	Status      int    `json:"status"`
	Error       string `json:"error,omitempty"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type,omitempty"`
}

// Webhook is the registration of set_webhook.
type Webhook struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	SendName   bool     `json:"send_name"`
	SendPhoto  bool     `json:"send_photo"`
}

type user struct {
	name string
	// keyboard is the last keyboard sent to the user, which Viber shows.
	keyboard   []KeyButton
	subscribed bool
	known      bool
}

// Sim is a simulated Viber Bot API server.
type Sim struct {
	cfg    Config
	faults simctl.Faults

	mu    sync.Mutex // guards everything below
	hook  Webhook
	users map[string]*user
	sent  map[string][]Sent
	media map[string][]byte
	token int64
	calls map[string]int
	// refused counts calls of endpoints the simulator does not serve, by
	// "METHOD /pa/name".
	refused map[string]int
}

// Routes are the endpoints the simulator serves, each POST
// https://chatapi.viber.com/pa/<name>. Every one is an endpoint of Viber's
// REST Bot API (testdata/specs/viber/bot-api.json; held by
// TestRoutes_AreAllInTheSpecification); any other call is refused and
// counted.
var Routes = []string{"get_account_info", "set_webhook", "send_message"}

// SendTypes are the message types send_message accepts, each one of
// Viber's message types.
var SendTypes = []string{"text", "picture", "video", "file"}

// New returns a simulator configured by cfg.
func New(cfg Config) *Sim {
	return &Sim{cfg: cfg.withDefaults(), users: map[string]*user{}, sent: map[string][]Sent{}, media: map[string][]byte{},
		token: 5000000000000000000, calls: map[string]int{}, refused: map[string]int{}}
}

// Name implements sim.Service.
func (s *Sim) Name() string { return "viber" }

// Close releases nothing; it exists for symmetry with the other simulators.
func (s *Sim) Close() {}

func (s *Sim) nextToken() int64 {
	s.token++
	return s.token
}

type answer map[string]any

func writeStatus(w http.ResponseWriter, status int, msg string, extra answer) {
	a := answer{"status": status, "status_message": msg}
	for k, v := range extra {
		a[k] = v
	}
	simctl.WriteJSON(w, http.StatusOK, a)
}

// API serves the Bot API (POST /pa/<method>) and the media of simulated
// customer messages (GET /<id>, under MediaURL's path).
func (s *Sim) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, ok := strings.CutPrefix(r.URL.Path, "/pa/")
		if !ok {
			s.serveMedia(w, r)
			return
		}
		if r.Method != http.MethodPost {
			s.refuse(r)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body", http.StatusBadRequest)
			return
		}
		served := slices.Contains(Routes, method)
		if served {
			s.mu.Lock()
			s.calls[method]++
			s.mu.Unlock()
		} else {
			s.refuse(r)
		}
		if !hmac.Equal([]byte(r.Header.Get("X-Viber-Auth-Token")), []byte(s.cfg.Token)) {
			writeStatus(w, StatusInvalidToken, "invalidAuthToken", nil)
			return
		}
		if !served {
			// Viber documents no answer to an unknown endpoint; the
			// simulator keeps its bad-data status (RATIONALE.md, Viber).
			writeStatus(w, StatusBadData, "unknown method "+method, nil)
			return
		}
		if rule, ok := s.faults.Take(method); ok {
			rule.Hold(r.Context())
			if rule.Status == http.StatusTooManyRequests {
				writeStatus(w, StatusTooManyRequests, firstNonEmpty(rule.Description, "tooManyRequests"), nil)
				return
			}
			http.Error(w, firstNonEmpty(rule.Description, http.StatusText(rule.Status)), rule.Status)
			return
		}
		switch method {
		case "get_account_info":
			s.mu.Lock()
			hook := s.hook
			n := 0
			for _, u := range s.users {
				if u.subscribed {
					n++
				}
			}
			s.mu.Unlock()
			writeStatus(w, StatusOK, "ok", answer{"id": s.cfg.AccountID, "name": s.cfg.AccountName, "uri": "chatbridgedev",
				"category": "Support", "webhook": hook.URL, "event_types": hook.EventTypes, "subscribers_count": n})
		case "set_webhook":
			s.setWebhook(r.Context(), w, body)
		case "send_message":
			s.sendMessage(r.Context(), w, body)
		}
	})
}

// refuse counts a call the simulator does not serve (none Viber's REST Bot
// API has), for GET /_sim/viber/stats.
func (s *Sim) refuse(r *http.Request) {
	s.mu.Lock()
	s.refused[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Sim) setWebhook(ctx context.Context, w http.ResponseWriter, body []byte) {
	var p struct {
		URL        string   `json:"url"`
		EventTypes []string `json:"event_types"`
		SendName   bool     `json:"send_name"`
		SendPhoto  bool     `json:"send_photo"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		writeStatus(w, StatusBadData, "badData", nil)
		return
	}
	if p.URL == "" {
		s.mu.Lock()
		s.hook = Webhook{}
		s.mu.Unlock()
		writeStatus(w, StatusOK, "ok", nil)
		return
	}
	if !strings.HasPrefix(p.URL, "https://") {
		writeStatus(w, StatusInvalidURL, "invalidUrl", nil)
		return
	}
	// Viber checks the URL before it accepts it.
	check, _ := json.Marshal(answer{"event": "webhook", "timestamp": s.cfg.Now().UnixMilli(), "chat_hostname": "SN-SIM_", "message_token": s.lockedToken()})
	status, _, err := s.post(ctx, p.URL, check)
	if err != nil || status != http.StatusOK {
		writeStatus(w, StatusInvalidURL, fmt.Sprintf("Result[HttpRequest failed with status %d]", status), nil)
		return
	}
	if p.EventTypes == nil {
		p.EventTypes = []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}
	}
	s.mu.Lock()
	s.hook = Webhook{URL: p.URL, EventTypes: p.EventTypes, SendName: p.SendName, SendPhoto: p.SendPhoto}
	s.mu.Unlock()
	writeStatus(w, StatusOK, "ok", answer{"event_types": p.EventTypes})
}

func (s *Sim) lockedToken() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextToken()
}

func (s *Sim) sendMessage(ctx context.Context, w http.ResponseWriter, body []byte) {
	var p struct {
		Receiver string `json:"receiver"`
		Type     string `json:"type"`
		Text     string `json:"text"`
		Media    string `json:"media"`
		Size     int64  `json:"size"`
		FileName string `json:"file_name"`
		Duration *int   `json:"duration"`
		Sender   struct {
			Name string `json:"name"`
		} `json:"sender"`
		Keyboard json.RawMessage `json:"keyboard"`
	}
	switch err := json.Unmarshal(body, &p); {
	case err != nil:
		writeStatus(w, StatusBadData, "badData: "+err.Error(), nil)
		return
	case len(body) > MaxRequest:
		writeStatus(w, StatusBadData, "badData: request over 30 KB", nil)
		return
	case p.Sender.Name == "" || utf8.RuneCountInString(p.Sender.Name) > MaxSenderName:
		writeStatus(w, StatusBadData, "badData: sender.name missing or over 28 characters", nil)
		return
	case p.Type == "video" && p.Duration != nil && (*p.Duration < 0 || *p.Duration > MaxVideoSeconds):
		writeStatus(w, StatusBadData, "badData: video duration over 180 seconds", nil)
		return
	case p.Type == "picture" || p.Type == "file" || p.Type == "video":
		if problem := mediaProblem(p.Type, p.Media, p.Text, p.FileName, p.Size); problem != "" {
			writeStatus(w, StatusBadData, "badData: "+problem, nil)
			return
		}
	case !slices.Contains(SendTypes, p.Type):
		writeStatus(w, StatusBadData, "badData: the simulator sends types text, picture, video and file only", nil)
		return
	case p.Text == "" || utf8.RuneCountInString(p.Text) > MaxText:
		writeStatus(w, StatusBadData, "badData: text empty or over 7000 characters", nil)
		return
	}
	var keys []KeyButton
	if len(p.Keyboard) > 0 && string(p.Keyboard) != "null" {
		var problem string
		if keys, problem = keyboardButtons(p.Keyboard); problem != "" {
			writeStatus(w, StatusBadData, "badData: "+problem, nil)
			return
		}
	}
	var fetched *Fetched
	if p.Type != "text" {
		s.mu.Lock()
		u, ok := s.users[p.Receiver]
		s.mu.Unlock()
		if ok && u.subscribed {
			fetched = s.fetchMedia(ctx, p.Media)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[p.Receiver]
	switch {
	case !ok:
		writeStatus(w, StatusNotRegistered, "receiverNotRegistered", nil)
		return
	case !u.subscribed:
		writeStatus(w, StatusNotSubscribed, "receiverNotSubscribed", nil)
		return
	}
	tok := s.nextToken()
	s.sent[p.Receiver] = append(s.sent[p.Receiver], Sent{Type: p.Type, Text: p.Text, SenderName: p.Sender.Name, MessageToken: tok, Timestamp: s.cfg.Now().UnixMilli(),
		Media: p.Media, FileName: p.FileName, Size: p.Size, Fetched: fetched, Keyboard: keys})
	if keys != nil {
		u.keyboard = keys
	}
	writeStatus(w, StatusOK, "ok", answer{"message_token": tok, "chat_hostname": "SN-SIM_"})
}

func (s *Sim) serveMedia(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	b, ok := s.media[id]
	s.mu.Unlock()
	if r.Method != http.MethodGet || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// Sign is the X-Viber-Content-Signature of body for token.
func Sign(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// post delivers a signed callback and returns the answer's status and body.
func (s *Sim) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Viber-Content-Signature", Sign(s.cfg.Token, body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, nil
}

// Media limits of send_message.
const (
	MaxPictureBytes = 1 << 20
	MaxFileBytes    = 50 << 20
	MaxFileName     = 256
	MaxPictureText  = 768
	// A video message: "URL of the video (MP4, H264)", a required size
	// of at most 26 MB, an optional duration of at most 180 s.
	MaxVideoBytes   = 26 << 20
	MaxVideoSeconds = 180
)

// mediaProblem checks a picture or file message as Viber documents it.
func mediaProblem(typ, media, text, fileName string, size int64) string {
	if !strings.HasPrefix(media, "https://") {
		return "media must be an https URL"
	}
	if typ == "picture" {
		if utf8.RuneCountInString(text) > MaxPictureText {
			return "picture text over 768 characters"
		}
		return ""
	}
	if typ == "video" {
		if size <= 0 || size > MaxVideoBytes {
			return "video size missing or over 26 MB"
		}
		return ""
	}
	switch {
	case fileName == "" || utf8.RuneCountInString(fileName) > MaxFileName:
		return "file_name missing or over 256 characters"
	case size <= 0 || size > MaxFileBytes:
		return "size missing or over 50 MB"
	}
	return ""
}

// fetchMedia downloads a media URL once, as Viber's servers do, and keeps
// its size and hash (not its bytes).
func (s *Sim) fetchMedia(ctx context.Context, url string) *Fetched {
	f := &Fetched{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		f.Error = "fetch failed"
		return f
	}
	defer resp.Body.Close()
	f.Status, f.ContentType = resp.StatusCode, resp.Header.Get("Content-Type")
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(resp.Body, MaxFileBytes+1))
	if err != nil {
		f.Error = "body cut short"
	}
	f.Bytes, f.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return f
}
