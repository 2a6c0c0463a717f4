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
	// DefaultVersion is the only Graph API version served: the version of
	// Meta's published specification (testdata/specs/whatsapp), which
	// TestRoutes_AreAllInTheSpecification holds it to.
	DefaultVersion = "v23.0"
)

// Graph error codes the simulator answers.
const (
	CodeInvalidParam  = 100
	CodeAccessToken   = 190
	CodeUnknownPath   = 2500
	CodeWindowClosed  = 131047
	CodeUndeliverable = 131026
	CodeRateLimit     = 130429
	CodeVerifyFailed  = 2200
	// CodeTemplateParams: the template's parameters do not match the
	// approved template's placeholders (HTTP 400).
	CodeTemplateParams = 132000
	// CodeTemplateMissing: no approved template of that name and language
	// (HTTP 404).
	CodeTemplateMissing = 132001
)

// SubcodeUnsupported is the error_subcode of code 100 for an object that
// does not exist or does not support the method.
const SubcodeUnsupported = 33

// Route is one operation the simulator serves, named as Meta's published
// specification names it (testdata/specs/whatsapp/cloud-api.json).
type Route struct {
	Method string // GET, POST, DELETE
	Path   string // the specification's template, "/{Version}/{Phone-Number-ID}"
	Call   string // the fault-rule key and stats name
}

// Routes are every operation served. The media download is served at the
// URL a media object names (lookaside.fbsbx.com), which the specification
// writes as /{Version}/{Media-URL}.
var Routes = []Route{
	{"GET", "/{Version}/{Phone-Number-ID}", "phone"},
	{"POST", "/{Version}/{Phone-Number-ID}/messages", "messages"},
	{"POST", "/{Version}/{Phone-Number-ID}/media", "upload"},
	{"GET", "/{Version}/{Media-ID}", "media"},
	{"GET", "/{Version}/{Media-URL}", "download"},
	{"POST", "/{Version}/{WABA-ID}/subscribed_apps", "subscribe"},
	{"DELETE", "/{Version}/{WABA-ID}/subscribed_apps", "unsubscribe"},
}

// Required fields, as the specification lists them: of every message, and
// of each type the simulator sends. A message to a customer known only by
// a business-scoped user id names them in "recipient" instead of "to"
// (Meta's usernames reference, later than the specification).
var (
	RequiredMessageFields = []string{"messaging_product", "recipient_type", "to", "type"}
	RequiredTypeFields    = map[string][]string{"text": {"text"}, "document": {"document"}, "interactive": {"interactive"}, "template": {"template"},
		"image": {"image"}, "audio": {"audio"}, "video": {"video"}}
)

// Reply buttons of an interactive message of type "button", as the
// specification limits them (interactive_button in cloud-api.json): a body
// text, 1 to 3 buttons of type "reply", each with an id (no leading or
// trailing spaces, at most 256 characters) and a title (at most 20
// characters, not empty, unique). The simulator sends no other kind of
// interactive message (list, product, flow...): those are refused.
const (
	MaxBodyText    = 1024
	MinButtons     = 1
	MaxButtons     = 3
	MaxButtonID    = 256
	MaxButtonTitle = 20
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
	// Templates are the business's approved message templates (template.go).
	// Default DefaultTemplates.
	Templates []Template
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
	if c.Templates == nil {
		c.Templates = DefaultTemplates
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
	// Buttons are the reply buttons of an interactive message; Text is
	// its body.
	Buttons []Button `json:"buttons,omitempty"`
	// List is the button label of an interactive list message, whose rows
	// are in Rows; Text is its body.
	List string   `json:"list,omitempty"`
	Rows []Button `json:"rows,omitempty"`
	// Template is the approved template a message of type template names;
	// Text is its body with the parameters filled in.
	Template *SentTemplate `json:"template,omitempty"`
}

// Button is a reply button as sent.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Failed is a message accepted and then reported failed, as GET
// /_sim/whatsapp/failed lists it.
type Failed struct {
	ID   string `json:"id"`
	Code int    `json:"code"`
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

// Activity counts the status deliveries under way.
func (s *Sim) Activity() simctl.Activity { return s.busy.Activity() }

// Sim is a simulated WhatsApp Cloud API.
type Sim struct {
	cfg    Config
	faults simctl.Faults

	pending sync.WaitGroup // status deliveries under way
	busy    simctl.Tracker // the same, counted for /_sim/activity

	mu       sync.Mutex // guards everything below
	hook     Webhook
	lastSeen map[string]time.Time // chat (wa_id or user id) -> the customer's last message
	failing  map[string]int       // chat -> the error code its messages fail with
	sent     map[string][]Sent
	failed   map[string][]Failed
	media    map[string]media
	customer map[string]string // id of a customer's message -> its chat (media.go)
	seq      int64
	calls    map[string]int
	statuses map[string]int // status deliveries by status and answer
	refused  map[string]int // calls outside the specification, by "METHOD path"
	closed   bool
}

// New returns a simulator configured by cfg.
func New(cfg Config) *Sim {
	return &Sim{cfg: cfg.withDefaults(), lastSeen: map[string]time.Time{}, failing: map[string]int{}, sent: map[string][]Sent{}, failed: map[string][]Failed{},
		media: map[string]media{}, customer: map[string]string{}, seq: 1479537139650000, calls: map[string]int{}, statuses: map[string]int{}, refused: map[string]int{}}
}

// Name implements sim.Service.
func (s *Sim) Name() string { return "whatsapp" }

// Close waits for the status deliveries under way; later sends deliver none.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.pending.Wait()
}

func (s *Sim) next() int64 {
	s.seq++
	return s.seq
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	simctl.WriteJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException",
		"code": code, "error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "ASimTrace"}})
}

// unknownPath answers a path the Graph API does not have, as it does.
func unknownPath(w http.ResponseWriter, path string) {
	simctl.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"message": "Unknown path components: " + path, "type": "OAuthException", "code": CodeUnknownPath, "fbtrace_id": "ASimTrace"}})
}

// unsupported answers a method an object does not support, or an object
// that does not exist, as the Graph API does.
func unsupported(w http.ResponseWriter, method, id string) {
	simctl.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"message": "Unsupported " + strings.ToLower(method) + " request. Object with ID '" + id + "' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
		"type":    "GraphMethodException", "code": CodeInvalidParam, "error_subcode": SubcodeUnsupported, "fbtrace_id": "ASimTrace"}})
}

// required answers a request without a required parameter.
func required(w http.ResponseWriter, name string) {
	graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) The parameter "+name+" is required.")
}

// refuse counts a call the simulator does not serve (none its
// specification has), by method and path, for GET /_sim/whatsapp/stats.
func (s *Sim) refuse(r *http.Request) {
	s.mu.Lock()
	s.refused[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
}

// API serves the Graph API and media downloads.
func (s *Sim) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.cfg.AccessToken)) {
			graphError(w, http.StatusUnauthorized, CodeAccessToken, "Error validating access token: The session is invalid.")
			return
		}
		call, id := "", ""
		if r.URL.Path == "/whatsapp_business/attachments/" && r.Method == http.MethodGet {
			call = "download"
		} else {
			seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			if len(seg) < 2 || seg[0] != DefaultVersion {
				s.refuse(r)
				unknownPath(w, r.URL.Path)
				return
			}
			id = seg[1]
			var known bool
			call, known = callName(r.Method, seg[1:], s.cfg)
			if call == "" {
				s.refuse(r)
				if known {
					unsupported(w, r.Method, id)
				} else {
					unknownPath(w, "/"+strings.Join(seg[2:], "/"))
				}
				return
			}
		}
		s.mu.Lock()
		s.calls[call]++
		s.mu.Unlock()
		if rule, ok := s.faults.Take(call); ok {
			rule.Hold(r.Context())
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
			s.mediaInfo(w, id)
		case "download":
			s.download(w, r)
		case "subscribe":
			s.subscribe(w, r)
		case "unsubscribe":
			s.mu.Lock()
			s.hook = Webhook{}
			s.mu.Unlock()
			simctl.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		}
	})
}

// callName is the Route.Call of a request's path segments after the
// version, or "": known then says whether the path names an object the
// Graph API has (with another method), which it answers differently from a
// path it does not have at all.
func callName(method string, seg []string, cfg Config) (call string, known bool) {
	var path string
	switch {
	case len(seg) == 1 && seg[0] == cfg.PhoneID:
		path = "/{Version}/{Phone-Number-ID}"
	case len(seg) == 2 && seg[0] == cfg.PhoneID && (seg[1] == "messages" || seg[1] == "media"):
		path = "/{Version}/{Phone-Number-ID}/" + seg[1]
	case len(seg) == 2 && seg[0] == cfg.AccountID && seg[1] == "subscribed_apps":
		path = "/{Version}/{WABA-ID}/subscribed_apps"
	case len(seg) == 1:
		path = "/{Version}/{Media-ID}"
	default:
		return "", false
	}
	for _, r := range Routes {
		if r.Path == path && r.Method == method {
			return r.Call, true
		}
	}
	return "", true
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
	var raw map[string]json.RawMessage
	var m struct {
		Product   string `json:"messaging_product"`
		Recipient string `json:"recipient_type"`
		To        string `json:"to"`
		UserID    string `json:"recipient"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Document *struct {
			ID       string `json:"id"`
			Filename string `json:"filename"`
			Caption  string `json:"caption"`
		} `json:"document"`

		Interactive *interactive `json:"interactive"`
		Template    *templateMsg `json:"template"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &raw) != nil || json.Unmarshal(body, &m) != nil {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter")
		return
	}
	for _, f := range append(append([]string{}, RequiredMessageFields...), RequiredTypeFields[m.Type]...) {
		if _, ok := raw[f]; !ok && !(f == "to" && m.UserID != "") {
			required(w, f)
			return
		}
	}
	to := m.To
	if to == "" {
		to = m.UserID // "to" takes precedence when both are given
	}
	if m.Product != "whatsapp" || m.Recipient != "individual" || to == "" {
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter")
		return
	}
	out := Sent{Type: m.Type}
	switch {
	case m.Type == "text" && m.Text != nil && m.Text.Body != "" && utf8.RuneCountInString(m.Text.Body) <= MaxText:
		out.Text = m.Text.Body
	case m.Type == "document" && m.Document != nil && m.Document.ID != "":
		s.mu.Lock()
		md, ok := s.media[m.Document.ID]
		s.mu.Unlock()
		if !ok {
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: unknown media id")
			return
		}
		out.Filename, out.MimeType, out.Size, out.Caption = firstNonEmpty(m.Document.Filename, md.name), md.mime, len(md.data), m.Document.Caption
	case m.Type == "interactive" && m.Interactive != nil && m.Interactive.Type == "list":
		label, rows, problem := m.Interactive.listRows()
		if problem != "" {
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: "+problem)
			return
		}
		out.Text, out.List, out.Rows = m.Interactive.Body.Text, label, rows
	case m.Type == "image" || m.Type == "audio" || m.Type == "video":
		if code, problem := s.mediaMessage(m.Type, raw[m.Type], &out); problem != "" { // media.go
			graphError(w, http.StatusBadRequest, max(code, CodeInvalidParam), problem)
			return
		}
	case m.Type == "interactive" && m.Interactive != nil:
		buttons, problem := m.Interactive.replyButtons()
		if problem != "" {
			graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: "+problem)
			return
		}
		out.Text, out.Buttons = m.Interactive.Body.Text, buttons
	case m.Type == "template" && m.Template != nil:
		sent, status, code, problem := s.template(m.Template)
		if problem != "" {
			graphError(w, status, code, problem)
			return
		}
		out.Text, out.Template = sent.Body, sent
	default:
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: text body empty or over 4096 characters, or an unsupported type")
		return
	}
	// Accepted: what becomes of the message is told later, in status
	// webhooks, as the Cloud API does. Outside the 24-hour window (or
	// before any message) it fails with 131047; a recipient made to fail
	// with POST /_sim/whatsapp/fail-delivery fails with its code.
	s.mu.Lock()
	out.ID = "wamid.SIM" + strconv.FormatInt(s.next(), 10) + "=="
	code := s.failing[to]
	// A template is what reaches a customer outside the window.
	if seen, ok := s.lastSeen[to]; code == 0 && out.Template == nil && (!ok || s.cfg.Now().Sub(seen) > Window) {
		code = CodeWindowClosed
	}
	if code == 0 {
		s.sent[to] = append(s.sent[to], out)
	} else {
		s.failed[to] = append(s.failed[to], Failed{ID: out.ID, Code: code})
	}
	s.statusesLocked(to, m.To == "", out.ID, code)
	s.mu.Unlock()
	contact := map[string]any{"input": to, "wa_id": to}
	if m.To == "" {
		contact = map[string]any{"input": to, "user_id": to}
	}
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []any{contact}, "messages": []any{map[string]any{"id": out.ID}}})
}

// interactive is the interactive object of a sent message.
type interactive struct {
	Type string `json:"type"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Action *struct {
		Button   *string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          *string `json:"id"`
				Title       *string `json:"title"`
				Description string  `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply *struct {
				ID    *string `json:"id"`
				Title *string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
	} `json:"action"`
}

// replyButtons checks an interactive message of reply buttons against the
// specification's limits; problem says what is wrong.
func (in *interactive) replyButtons() (buttons []Button, problem string) {
	switch {
	case in.Type != "button":
		return nil, "the simulator sends interactive messages of type button and list only"
	case in.Action == nil:
		return nil, "interactive.action is required"
	case in.Body == nil || in.Body.Text == "" || utf8.RuneCountInString(in.Body.Text) > MaxBodyText:
		return nil, "interactive.body.text is required, at most 1024 characters"
	case len(in.Action.Buttons) < MinButtons || len(in.Action.Buttons) > MaxButtons:
		return nil, "interactive.action.buttons takes 1 to 3 buttons"
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for _, b := range in.Action.Buttons {
		if b.Type != "reply" || b.Reply == nil || b.Reply.ID == nil || b.Reply.Title == nil {
			return nil, "a button needs type reply and reply {id, title}"
		}
		id, title := *b.Reply.ID, *b.Reply.Title
		switch {
		case id == "" || len(id) > MaxButtonID || strings.TrimSpace(id) != id:
			return nil, "a button id is empty, over 256 characters or has leading or trailing spaces"
		case title == "" || utf8.RuneCountInString(title) > MaxButtonTitle:
			return nil, "a button title is empty or over 20 characters"
		case ids[id] || titles[title]:
			return nil, "button ids and titles must be unique"
		}
		ids[id], titles[title] = true, true
		buttons = append(buttons, Button{ID: id, Title: title})
	}
	return buttons, ""
}

// failureTitles are the titles of the failure codes the simulator reports.
var failureTitles = map[int]string{
	CodeWindowClosed:  "Re-engagement message",
	CodeUndeliverable: "Message undeliverable",
	130472:            "User's number is part of an experiment",
}

// statusesLocked delivers, after the send's answer, the statuses of message
// id: sent and delivered, or failed with code. byUserID sends the
// customer's business-scoped user id instead of a phone number. s.mu is held.
func (s *Sim) statusesLocked(chat string, byUserID bool, id string, code int) {
	hook := s.hook
	if hook.URL == "" || s.closed {
		return
	}
	now := strconv.FormatInt(s.cfg.Now().Unix(), 10)
	status := func(st string) map[string]any {
		m := map[string]any{"id": id, "status": st, "timestamp": now}
		if byUserID {
			m["recipient_user_id"] = chat
		} else {
			m["recipient_id"] = chat
		}
		if st == "failed" {
			title := firstNonEmpty(failureTitles[code], "Message failed")
			m["errors"] = []any{map[string]any{"code": code, "title": title, "message": title,
				"error_data": map[string]any{"details": title}, "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}}
		} else {
			m["conversation"] = map[string]any{"id": "simconversation", "origin": map[string]any{"type": "service"}}
			m["pricing"] = map[string]any{"billable": false, "pricing_model": "PMP", "category": "service"}
		}
		return m
	}
	list := []map[string]any{status("sent"), status("delivered")}
	if code != 0 {
		list = []map[string]any{status("failed")}
	}
	s.pending.Add(1)
	done := s.busy.Begin()
	go func() {
		defer s.pending.Done()
		defer done()
		for _, st := range list {
			body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
				"id": s.cfg.AccountID, "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
					"messaging_product": "whatsapp",
					"metadata":          map[string]any{"display_phone_number": s.cfg.DisplayPhone, "phone_number_id": s.cfg.PhoneID},
					"statuses":          []any{st}}}}}}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			answer, err := s.deliver(ctx, hook.URL, body)
			cancel()
			key := st["status"].(string) + ":" + strconv.Itoa(answer)
			if err != nil {
				key = st["status"].(string) + ":error"
			}
			s.mu.Lock()
			s.statuses[key]++
			s.mu.Unlock()
		}
	}()
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
	switch {
	case product == "":
		required(w, "messaging_product")
		return
	case md.data == nil:
		required(w, "file")
		return
	case product != "whatsapp":
		graphError(w, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter")
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
		unsupported(w, http.MethodGet, id)
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
