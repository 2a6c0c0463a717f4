package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Defaults of a zero Config.
const (
	DefaultAccessToken = "EAAGsimulatorAccessToken0123456789abcdefZZ"
	DefaultAppSecret   = "5f4dcc3b5aa765d61d8327deb882cf99"
	DefaultPhoneID     = "106540352242922"
	DefaultAccountID   = "102290129340398"
	DefaultVersion     = "v21.0"
)

// Graph error codes the simulator answers.
const (
	CodeInvalidParam = 100
	CodeAccessToken  = 190
	CodeWindowClosed = 131047
	CodeRateLimit    = 130429
	CodeVerifyFailed = 2200
)

// MaxText is the longest text body, in characters.
const MaxText = 4096

// Window is how long after a customer's last message free-form messages
// reach them.
const Window = 24 * time.Hour

// Config configures a Sim. The zero value simulates one phone number with
// the Default* credentials.
type Config struct {
	AccessToken string // Default DefaultAccessToken
	AppSecret   string // signs deliveries; default DefaultAppSecret
	PhoneID     string // phone_number_id; default DefaultPhoneID
	AccountID   string // the business account (WABA) id; default DefaultAccountID
	// DisplayPhone is the number as shown. Default "+1 555-010-0001".
	DisplayPhone string
	// MediaURL is the base of media download URLs, served by API. Default
	// "https://lookaside.fbsbx.com".
	MediaURL string
	// Client makes deliveries and verifications. Default: 30 s timeout.
	Client *http.Client
	// Now is the clock of timestamps and of the 24-hour window. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.AccessToken, DefaultAccessToken)
	def(&c.AppSecret, DefaultAppSecret)
	def(&c.PhoneID, DefaultPhoneID)
	def(&c.AccountID, DefaultAccountID)
	def(&c.DisplayPhone, "+1 555-010-0001")
	def(&c.MediaURL, "https://lookaside.fbsbx.com")
	c.MediaURL = strings.TrimSuffix(c.MediaURL, "/")
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sent is one message the business sent, as GET /_sim/whatsapp/sent lists it.
type Sent struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Filename string `json:"filename,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int    `json:"size,omitempty"`
	Caption  string `json:"caption,omitempty"`
}

// Webhook is the subscription of subscribed_apps.
type Webhook struct {
	URL         string `json:"url"`
	VerifyToken string `json:"verify_token"`
}

type media struct {
	data []byte
	mime string
	name string
}

// Sim is a simulated WhatsApp Cloud API.
type Sim struct {
	cfg    Config
	faults simctl.Faults

	mu       sync.Mutex // guards everything below
	hook     Webhook
	lastSeen map[string]time.Time // wa_id -> the customer's last message
	sent     map[string][]Sent
	media    map[string]media
	seq      int64
	calls    map[string]int
}

// New returns a simulator configured by cfg.
func New(cfg Config) *Sim {
	return &Sim{cfg: cfg.withDefaults(), lastSeen: map[string]time.Time{}, sent: map[string][]Sent{},
		media: map[string]media{}, seq: 1479537139650000, calls: map[string]int{}}
}

// Name implements sim.Service.
func (s *Sim) Name() string { return "whatsapp" }

// Close releases nothing; it exists for symmetry with the other simulators.
func (s *Sim) Close() {}

func (s *Sim) next() int64 {
	s.seq++
	return s.seq
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	simctl.WriteJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException",
		"code": code, "error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "ASimTrace"}})
}

// API serves the Graph API and media downloads.
func (s *Sim) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.cfg.AccessToken)) {
			graphError(w, http.StatusUnauthorized, CodeAccessToken, "Error validating access token: The session is invalid.")
			return
		}
		if r.URL.Path == "/whatsapp_business/attachments/" {
			s.download(w, r)
			return
		}
		seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(seg) < 2 || !strings.HasPrefix(seg[0], "v") {
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "Unknown path components: "+r.URL.Path)
			return
		}
		call := callName(r.Method, seg[1:], s.cfg)
		s.mu.Lock()
		s.calls[call]++
		s.mu.Unlock()
		if rule, ok := s.faults.Take(call); ok {
			code := 1
			if rule.Status == http.StatusTooManyRequests {
				code = CodeRateLimit
			}
			graphError(w, rule.Status, code, firstNonEmpty(rule.Description, http.StatusText(rule.Status)))
			return
		}
		switch call {
		case "phone":
			simctl.WriteJSON(w, http.StatusOK, map[string]any{"id": s.cfg.PhoneID, "display_phone_number": s.cfg.DisplayPhone,
				"verified_name": "ChatBridge Dev", "quality_rating": "GREEN"})
		case "messages":
			s.messages(w, r)
		case "upload":
			s.upload(w, r)
		case "media":
			s.mediaInfo(w, seg[1])
		case "subscribe":
			s.subscribe(w, r)
		case "unsubscribe":
			s.mu.Lock()
			s.hook = Webhook{}
			s.mu.Unlock()
			simctl.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		default:
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "Unsupported "+r.Method+" request.")
		}
	})
}

// callName is the fault-rule key of a call: phone, messages, upload, media,
// subscribe, unsubscribe, or "" for anything else.
func callName(method string, seg []string, cfg Config) string {
	switch {
	case len(seg) == 1 && seg[0] == cfg.PhoneID && method == http.MethodGet:
		return "phone"
	case len(seg) == 2 && seg[0] == cfg.PhoneID && seg[1] == "messages" && method == http.MethodPost:
		return "messages"
	case len(seg) == 2 && seg[0] == cfg.PhoneID && seg[1] == "media" && method == http.MethodPost:
		return "upload"
	case len(seg) == 1 && method == http.MethodGet:
		return "media"
	case len(seg) == 2 && seg[0] == cfg.AccountID && seg[1] == "subscribed_apps" && method == http.MethodPost:
		return "subscribe"
	case len(seg) == 2 && seg[0] == cfg.AccountID && seg[1] == "subscribed_apps" && method == http.MethodDelete:
		return "unsubscribe"
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Sim) messages(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Product string `json:"messaging_product"`
		To      string `json:"to"`
		Type    string `json:"type"`
		Text    *struct {
			Body string `json:"body"`
		} `json:"text"`
		Document *struct {
			ID       string `json:"id"`
			Filename string `json:"filename"`
			Caption  string `json:"caption"`
		} `json:"document"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil || m.Product != "whatsapp" || m.To == "" {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen, ok := s.lastSeen[m.To]
	if !ok || s.cfg.Now().Sub(seen) > Window {
		graphError(w, http.StatusBadRequest, CodeWindowClosed, "(#131047) Re-engagement message: more than 24 hours have passed since the recipient last replied to the sender number.")
		return
	}
	out := Sent{ID: "wamid.SIM" + strconv.FormatInt(s.next(), 10) + "==", Type: m.Type}
	switch {
	case m.Type == "text" && m.Text != nil && m.Text.Body != "" && utf8.RuneCountInString(m.Text.Body) <= MaxText:
		out.Text = m.Text.Body
	case m.Type == "document" && m.Document != nil:
		md, ok := s.media[m.Document.ID]
		if !ok {
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: unknown media id")
			return
		}
		out.Filename, out.MimeType, out.Size, out.Caption = firstNonEmpty(m.Document.Filename, md.name), md.mime, len(md.data), m.Document.Caption
	default:
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: text body empty or over 4096 characters, or an unsupported type")
		return
	}
	s.sent[m.To] = append(s.sent[m.To], out)
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []any{map[string]any{"input": m.To, "wa_id": m.To}}, "messages": []any{map[string]any{"id": out.ID}}})
}

func (s *Sim) upload(w http.ResponseWriter, r *http.Request) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) multipart upload required")
		return
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, 101<<20), params["boundary"])
	var md media
	product := ""
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		switch p.FormName() {
		case "messaging_product":
			product = string(b)
		case "file":
			md = media{data: b, mime: p.Header.Get("Content-Type"), name: p.FileName()}
		}
	}
	if product != "whatsapp" || md.data == nil {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) messaging_product and file are required")
		return
	}
	s.mu.Lock()
	id := strconv.FormatInt(s.next(), 10)
	s.media[id] = md
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"id": id})
}

func (s *Sim) mediaInfo(w http.ResponseWriter, id string) {
	s.mu.Lock()
	md, ok := s.media[id]
	s.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, CodeInvalidParam, "Unsupported get request. Object with ID '"+id+"' does not exist")
		return
	}
	sum := sha256.Sum256(md.data)
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp", "id": id, "mime_type": md.mime,
		"file_size": len(md.data), "sha256": hex.EncodeToString(sum[:]),
		"url": s.cfg.MediaURL + "/whatsapp_business/attachments/?mid=" + id + "&ext=" + strconv.FormatInt(s.cfg.Now().Unix(), 10)})
}

func (s *Sim) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	md, ok := s.media[r.URL.Query().Get("mid")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", md.mime)
	w.Write(md.data)
}

func (s *Sim) subscribe(w http.ResponseWriter, r *http.Request) {
	var p struct {
		URL    string `json:"override_callback_uri"`
		Verify string `json:"verify_token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&p); err != nil || !strings.HasPrefix(p.URL, "https://") || p.Verify == "" {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) override_callback_uri (https) and verify_token are required")
		return
	}
	if err := s.verify(r.Context(), p.URL, p.Verify); err != nil {
		graphError(w, http.StatusBadRequest, CodeVerifyFailed, "(#2200) Callback verification failed: "+err.Error())
		return
	}
	s.mu.Lock()
	s.hook = Webhook{URL: p.URL, VerifyToken: p.Verify}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
}

// verify makes Meta's verification request and checks the echoed challenge.
func (s *Sim) verify(ctx context.Context, hookURL, token string) error {
	s.mu.Lock()
	challenge := strconv.FormatInt(s.next(), 10)
	s.mu.Unlock()
	u, err := url.Parse(hookURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", token)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK || string(b) != challenge {
		return fmt.Errorf("the URL answered %d without the challenge", resp.StatusCode)
	}
	return nil
}

// Sign is the X-Hub-Signature-256 of body for secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliver posts a signed delivery and returns the answer's status.
func (s *Sim) deliver(ctx context.Context, hookURL string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", Sign(s.cfg.AppSecret, body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
