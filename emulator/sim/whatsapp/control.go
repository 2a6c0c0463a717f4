package whatsapp

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// CustomerMessage is one message of POST /_sim/whatsapp/send.
type CustomerMessage struct {
	// From is the customer's phone number; UserID their business-scoped
	// user id (the simulator makes one from the number when empty). With
	// HidePhone the delivery carries only the user id, as for a customer
	// who hides their number behind a username: replies reach them by it.
	From      string `json:"from"`
	UserID    string `json:"user_id,omitempty"`
	HidePhone bool   `json:"hide_phone,omitempty"`
	// EditOf makes the message an edit of an earlier one (its id): Text is
	// the new text.
	EditOf string `json:"edit_of,omitempty"`
	// Unsupported makes a message of a type the Cloud API does not deliver
	// (e.g. "poll_creation"): its content is left out.
	Unsupported string `json:"unsupported,omitempty"`
	Name        string `json:"name,omitempty"`
	Text        string `json:"text,omitempty"`
	Image       bool   `json:"image,omitempty"`
	Document    *struct {
		Filename string `json:"filename"`
		Size     int64  `json:"size"`
		MimeType string `json:"mime_type,omitempty"`
	} `json:"document,omitempty"`
	// Caption goes with an image, document or video.
	Caption string `json:"caption,omitempty"`
	// Audio, Video, Sticker, Location, Contacts, Reaction and Revoke (the
	// id of the customer's message to delete) are media.go's.
	Audio    *AudioMessage    `json:"audio,omitempty"`
	Video    bool             `json:"video,omitempty"`
	Sticker  bool             `json:"sticker,omitempty"`
	Location *LocationMessage `json:"location,omitempty"`
	Contacts []ContactMessage `json:"contacts,omitempty"`
	Reaction *ReactionMessage `json:"reaction,omitempty"`
	Revoke   string           `json:"revoke,omitempty"`
	// ID replays a message id (a wamid); "" takes a new one.
	ID string `json:"id,omitempty"`
	// press is set by POST /_sim/whatsapp/press.
	press *PressRequest
}

// PressRequest is the body of POST /_sim/whatsapp/press: the customer From
// (with Name, UserID and HidePhone as for a message) presses the reply
// button titled Title under the bot's interactive message MessageID, or
// under the last one the chat received when MessageID is "".
type PressRequest struct {
	From      string `json:"from"`
	UserID    string `json:"user_id,omitempty"`
	HidePhone bool   `json:"hide_phone,omitempty"`
	Name      string `json:"name,omitempty"`
	Title     string `json:"title"`
	MessageID string `json:"message_id,omitempty"`
}

// SendRequest is the body of POST /_sim/whatsapp/send: one message, or
// several (Messages) delivered together in one webhook call.
type SendRequest struct {
	CustomerMessage
	Messages []CustomerMessage `json:"messages,omitempty"`
}

// SendResult is the answer of POST /_sim/whatsapp/send.
type SendResult struct {
	IDs    []string `json:"ids"`
	Status int      `json:"status"`
	Error  string   `json:"error,omitempty"`
}

// Control serves /_sim/whatsapp/send, /press, /sent, /failed, /webhook, /verify, /age,
// /fail-delivery and /stats (calls by name, and status deliveries by
// "status:answer"), and
// /_sim/fail for rules of service "whatsapp" (match: phone, messages,
// upload, media, subscribe, unsubscribe, or "*"; 429 answers code 130429).
func (s *Sim) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sim/whatsapp/send", s.controlSend)
	mux.HandleFunc("POST /_sim/whatsapp/press", s.controlPress)
	mux.HandleFunc("GET /_sim/whatsapp/sent", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sent := append([]Sent{}, s.sent[r.URL.Query().Get("to")]...)
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, sent)
	})
	mux.HandleFunc("GET /_sim/whatsapp/failed", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		failed := append([]Failed{}, s.failed[r.URL.Query().Get("to")]...)
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, failed)
	})
	mux.HandleFunc("GET /_sim/whatsapp/webhook", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, hook)
	})
	mux.HandleFunc("POST /_sim/whatsapp/verify", s.controlVerify)
	mux.HandleFunc("POST /_sim/whatsapp/age", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			WaID  string  `json:"wa_id"`
			Hours float64 `json:"hours"`
		}
		if err := simctl.DecodeJSON(r.Body, &in); err != nil || in.WaID == "" {
			simctl.WriteError(w, http.StatusBadRequest, "whatsapp: want {\"wa_id\":string, \"hours\":number}")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		last, ok := s.lastSeen[in.WaID]
		if !ok {
			simctl.WriteError(w, http.StatusNotFound, "whatsapp: this customer never wrote")
			return
		}
		s.lastSeen[in.WaID] = last.Add(-time.Duration(in.Hours * float64(time.Hour)))
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"last_message": s.lastSeen[in.WaID].Unix()})
	})
	mux.HandleFunc("POST /_sim/whatsapp/fail-delivery", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			To   string `json:"to"`
			Code int    `json:"code"`
		}
		if err := simctl.DecodeJSON(r.Body, &in); err != nil || in.To == "" {
			simctl.WriteError(w, http.StatusBadRequest, "whatsapp: want {\"to\":string, \"code\":number}; code 0 delivers again")
			return
		}
		s.mu.Lock()
		if in.Code == 0 {
			delete(s.failing, in.To)
		} else {
			s.failing[in.To] = in.Code
		}
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"to": in.To, "code": in.Code})
	})
	mux.HandleFunc("GET /_sim/whatsapp/stats", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		calls, statuses, refused := maps.Clone(s.calls), maps.Clone(s.statuses), maps.Clone(s.refused)
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"requests": calls, "statuses": statuses, "refused": refused})
	})
	mux.Handle("/_sim/fail", simctl.FailHandler("whatsapp", &s.faults))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		simctl.WriteError(w, http.StatusNotFound, "unknown control call "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// controlVerify makes Meta's verification GET of the subscribed callback
// again, with its verify token, as Meta does when it re-verifies a webhook.
func (s *Sim) controlVerify(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook.URL == "" {
		simctl.WriteError(w, http.StatusConflict, "whatsapp: no webhook subscribed")
		return
	}
	if err := s.verify(r.Context(), hook.URL, hook.VerifyToken); err != nil {
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"verified": false, "error": err.Error()})
		return
	}
	simctl.WriteJSON(w, http.StatusOK, map[string]any{"verified": true})
}

func (s *Sim) controlSend(w http.ResponseWriter, r *http.Request) {
	var in SendRequest
	if err := simctl.DecodeJSON(r.Body, &in); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "whatsapp: "+err.Error())
		return
	}
	msgs := in.Messages
	if len(msgs) == 0 {
		msgs = []CustomerMessage{in.CustomerMessage}
	}
	s.deliverCustomer(w, r, msgs)
}

// controlPress delivers the customer's press of a reply button: a message
// of type interactive with the button's id and title, and the pressed
// message in context, as the Cloud API delivers it.
func (s *Sim) controlPress(w http.ResponseWriter, r *http.Request) {
	var in PressRequest
	if err := simctl.DecodeJSON(r.Body, &in); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "whatsapp: "+err.Error())
		return
	}
	if in.Title == "" {
		simctl.WriteError(w, http.StatusBadRequest, "whatsapp: title (of the button to press) is required")
		return
	}
	s.deliverCustomer(w, r, []CustomerMessage{{From: in.From, UserID: in.UserID, HidePhone: in.HidePhone, Name: in.Name, press: &in}})
}

// deliverCustomer delivers customer messages in one webhook call.
func (s *Sim) deliverCustomer(w http.ResponseWriter, r *http.Request, msgs []CustomerMessage) {
	now := s.cfg.Now()
	res := SendResult{IDs: []string{}}
	var messages, contacts []any
	s.mu.Lock()
	for _, m := range msgs {
		if !digits(m.From) {
			s.mu.Unlock()
			simctl.WriteError(w, http.StatusBadRequest, "whatsapp: from must be a phone number in digits")
			return
		}
		userID := m.UserID
		if userID == "" {
			userID = "DE." + m.From + "0"
		}
		id := m.ID
		if id == "" {
			id = "wamid.HBgL" + m.From + "FQIAEhgW" + strconv.FormatInt(s.next(), 10) + "=="
		}
		chat := m.From
		msg := map[string]any{"from": m.From, "from_user_id": userID, "id": id, "timestamp": strconv.FormatInt(now.Unix(), 10)}
		contact := map[string]any{"profile": map[string]any{"name": m.Name}, "wa_id": m.From, "user_id": userID}
		if m.HidePhone {
			chat = userID
			delete(msg, "from")
			delete(contact, "wa_id")
			contact["profile"].(map[string]any)["username"] = "@" + strings.ToLower(strings.ReplaceAll(firstNonEmpty(m.Name, "customer"), " ", "."))
		}
		opens := true
		switch {
		case m.extra():
			var problem string
			if opens, problem = s.customerExtraLocked(chat, &m, msg); problem != "" { // media.go
				s.mu.Unlock()
				simctl.WriteError(w, http.StatusBadRequest, "whatsapp: "+problem)
				return
			}
		case m.press != nil:
			pressed, b, list, problem := s.buttonLocked(chat, m.press)
			if problem != "" {
				s.mu.Unlock()
				simctl.WriteError(w, http.StatusConflict, "whatsapp: "+problem)
				return
			}
			msg["type"], msg["context"] = "interactive", map[string]any{"from": digitsOf(s.cfg.DisplayPhone), "id": pressed}
			if list {
				msg["interactive"] = map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": b.ID, "title": b.Title, "description": ""}}
			} else {
				msg["interactive"] = map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": b.ID, "title": b.Title}}
			}
		case m.Unsupported != "":
			msg["type"], msg["unsupported"] = "unsupported", map[string]any{"type": m.Unsupported}
			msg["errors"] = []any{map[string]any{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
				"error_data": map[string]any{"details": "Message type is currently not supported."}}}
		case m.EditOf != "" && m.Text != "":
			msg["type"], msg["edit"] = "edit", map[string]any{"original_message_id": m.EditOf,
				"message": map[string]any{"type": "text", "text": map[string]any{"body": m.Text}}}
		case m.Image:
			mid := strconv.FormatInt(s.next(), 10)
			s.media[mid] = media{data: []byte("\xff\xd8\xff\xe0 simulated JPEG " + mid), mime: "image/jpeg"}
			msg["type"], msg["image"] = "image", map[string]any{"id": mid, "mime_type": "image/jpeg", "sha256": "sim", "caption": m.Caption}
		case m.Document != nil:
			mid := strconv.FormatInt(s.next(), 10)
			mt := m.Document.MimeType
			if mt == "" {
				mt = "application/octet-stream"
			}
			s.media[mid] = media{data: make([]byte, max(m.Document.Size, 1)), mime: mt, name: m.Document.Filename}
			msg["type"], msg["document"] = "document", map[string]any{"id": mid, "mime_type": mt, "sha256": "sim", "filename": m.Document.Filename, "caption": m.Caption}
		case m.Text != "":
			msg["type"], msg["text"] = "text", map[string]any{"body": m.Text}
		default:
			s.mu.Unlock()
			simctl.WriteError(w, http.StatusBadRequest, "whatsapp: a message needs text, image or document")
			return
		}
		if opens {
			s.lastSeen[chat] = now
		}
		s.customer[id] = chat
		messages = append(messages, msg)
		contacts = append(contacts, contact)
		res.IDs = append(res.IDs, id)
	}
	hook := s.hook
	s.mu.Unlock()
	if hook.URL == "" {
		res.Error = "no webhook subscribed"
		simctl.WriteJSON(w, http.StatusOK, res)
		return
	}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": s.cfg.AccountID, "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": s.cfg.DisplayPhone, "phone_number_id": s.cfg.PhoneID},
			"contacts":          contacts, "messages": messages}}}}}})
	status, err := s.deliver(r.Context(), hook.URL, body)
	res.Status = status
	if err != nil {
		res.Error = err.Error()
	}
	simctl.WriteJSON(w, http.StatusOK, res)
}

// buttonLocked finds the reply button or list row (list) p presses in the
// chat's interactive messages; s.mu is held.
func (s *Sim) buttonLocked(chat string, p *PressRequest) (id string, b Button, list bool, problem string) {
	sent := s.sent[chat]
	for i := len(sent) - 1; i >= 0; i-- {
		m := sent[i]
		if len(m.Buttons)+len(m.Rows) == 0 || p.MessageID != "" && m.ID != p.MessageID {
			continue
		}
		for _, b := range m.Buttons {
			if b.Title == p.Title {
				return m.ID, b, false, ""
			}
		}
		for _, b := range m.Rows {
			if b.Title == p.Title {
				return m.ID, b, true, ""
			}
		}
		return "", Button{}, false, "the message has no button or row titled " + strconv.Quote(p.Title)
	}
	return "", Button{}, false, "the chat received no interactive message with buttons or a list"
}

// digitsOf keeps the digits of a phone number as displayed.
func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func digits(s string) bool {
	if len(s) < 3 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
