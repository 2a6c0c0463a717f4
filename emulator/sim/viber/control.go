package viber

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// SendRequest is the body of POST /_sim/viber/send.
type SendRequest struct {
	UserID string `json:"user_id"`
	Name   string `json:"name,omitempty"`
	// Language is the user's device language (sender.language, user.language);
	// default "en".
	Language string `json:"language,omitempty"`
	// Event is "message" (default), "conversation_started", "subscribed" or
	// "unsubscribed".
	Event   string `json:"event,omitempty"`
	Text    string `json:"text,omitempty"`
	Picture bool   `json:"picture,omitempty"`
	File    *struct {
		FileName string `json:"file_name"`
		Size     int64  `json:"size"`
	} `json:"file,omitempty"`
	Sticker bool `json:"sticker,omitempty"`
	// StickerIDOnly sends the sticker by its id, without media, as Viber
	// may.
	StickerIDOnly bool `json:"sticker_id_only,omitempty"`
	Location      *struct {
		Lat float64 `json:"lat"`
		Lon float64 `json:"lon"`
	} `json:"location,omitempty"`
	// MessageToken replays a callback with this token; 0 takes a new one.
	MessageToken int64 `json:"message_token,omitempty"`
}

// SendResult is the answer of POST /_sim/viber/send.
type SendResult struct {
	MessageToken int64  `json:"message_token"`
	Status       int    `json:"status"`
	Error        string `json:"error,omitempty"`
	// Body is the webhook's answer, where a welcome message may be.
	Body string `json:"body,omitempty"`
	// Filtered is set when the webhook's event_types exclude the event.
	Filtered bool `json:"filtered,omitempty"`
}

// Control serves /_sim/viber/send, /press, /sent and /webhook, and /_sim/fail for
// rules of service "viber" (match: a method name such as "send_message", or
// "*"; status 429 answers Viber's status 12, any other status that HTTP status).
func (s *Sim) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sim/viber/send", s.controlSend)
	mux.HandleFunc("POST /_sim/viber/press", s.controlPress)
	mux.HandleFunc("GET /_sim/viber/sent", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sent := append([]Sent{}, s.sent[r.URL.Query().Get("receiver")]...)
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, sent)
	})
	mux.HandleFunc("GET /_sim/viber/webhook", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook.EventTypes == nil {
			hook.EventTypes = []string{}
		}
		simctl.WriteJSON(w, http.StatusOK, hook)
	})
	mux.HandleFunc("GET /_sim/viber/stats", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		calls, refused := maps.Clone(s.calls), maps.Clone(s.refused)
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"requests": calls, "refused": refused})
	})
	mux.Handle("/_sim/fail", simctl.FailHandler("viber", &s.faults))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		simctl.WriteError(w, http.StatusNotFound, "unknown control call "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func (s *Sim) controlSend(w http.ResponseWriter, r *http.Request) {
	var in SendRequest
	if err := simctl.DecodeJSON(r.Body, &in); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "viber: "+err.Error())
		return
	}
	s.deliverSend(w, r, in)
}

// PressRequest is the body of POST /_sim/viber/press: the user presses the
// button with this Text on the last keyboard the bot sent them.
type PressRequest struct {
	UserID string `json:"user_id"`
	Text   string `json:"text"`
}

// controlPress delivers a press of a reply button as Viber does: a message
// callback from the user whose text is the button's ActionBody.
func (s *Sim) controlPress(w http.ResponseWriter, r *http.Request) {
	var in PressRequest
	if err := simctl.DecodeJSON(r.Body, &in); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "viber: "+err.Error())
		return
	}
	s.mu.Lock()
	u := s.users[in.UserID]
	var body, name string
	found := false
	if u != nil {
		name = u.name
		for _, b := range u.keyboard {
			if b.Text == in.Text && b.ActionType == "reply" {
				body, found = b.ActionBody, true
				break
			}
		}
	}
	s.mu.Unlock()
	if !found {
		simctl.WriteError(w, http.StatusConflict, "viber: the user's keyboard has no reply button with that text")
		return
	}
	s.deliverSend(w, r, SendRequest{UserID: in.UserID, Name: name, Text: body})
}

// deliverSend delivers the callback of a simulated user event.
func (s *Sim) deliverSend(w http.ResponseWriter, r *http.Request, in SendRequest) {
	if in.UserID == "" {
		simctl.WriteError(w, http.StatusBadRequest, "viber: user_id is required")
		return
	}
	if in.Event == "" {
		in.Event = "message"
	}
	now := s.cfg.Now().UnixMilli()
	if in.Language == "" {
		in.Language = "en"
	}
	sender := map[string]any{"id": in.UserID, "name": in.Name, "language": in.Language, "country": "DE", "api_version": 10}
	s.mu.Lock()
	hook := s.hook
	tok := in.MessageToken
	if tok == 0 {
		tok = s.nextToken()
	}
	u := s.users[in.UserID]
	if u == nil {
		u = &user{}
		s.users[in.UserID] = u
	}
	u.known, u.name = true, in.Name
	cb := map[string]any{"event": in.Event, "timestamp": now, "message_token": tok}
	switch in.Event {
	case "message":
		u.subscribed = true // writing to the bot subscribes
		msg, err := s.message(&in, tok)
		if err != "" {
			s.mu.Unlock()
			simctl.WriteError(w, http.StatusBadRequest, "viber: "+err)
			return
		}
		cb["sender"], cb["message"] = sender, msg
	case "conversation_started":
		cb["type"], cb["user"], cb["subscribed"] = "open", sender, u.subscribed
	case "subscribed":
		// Viber's SDK reads no message_token on these two events; the
		// simulator sends none, so that receivers cannot rely on one.
		u.subscribed = true
		cb["user"] = sender
		delete(cb, "message_token")
	case "unsubscribed":
		u.subscribed = false
		cb["user_id"] = in.UserID
		delete(cb, "message_token")
	default:
		s.mu.Unlock()
		simctl.WriteError(w, http.StatusBadRequest, "viber: unknown event "+strconv.Quote(in.Event))
		return
	}
	s.mu.Unlock()
	res := SendResult{MessageToken: tok}
	if hook.URL == "" {
		res.Error = "no webhook set"
		simctl.WriteJSON(w, http.StatusOK, res)
		return
	}
	if in.Event == "conversation_started" && !slices.Contains(hook.EventTypes, in.Event) {
		res.Filtered = true
		simctl.WriteJSON(w, http.StatusOK, res)
		return
	}
	body, _ := json.Marshal(cb)
	status, answer, err := s.post(r.Context(), hook.URL, body)
	res.Status = status
	if err != nil {
		res.Error = err.Error()
	}
	if len(answer) > 0 && in.Event == "conversation_started" {
		res.Body = string(answer)
	}
	simctl.WriteJSON(w, http.StatusOK, res)
}

// message builds the message object of a customer message; s.mu is held.
func (s *Sim) message(in *SendRequest, tok int64) (map[string]any, string) {
	id := strconv.FormatInt(tok, 10)
	switch {
	case in.Picture:
		s.media[id+".jpg"] = []byte("\xff\xd8\xff\xe0 simulated JPEG " + id)
		return map[string]any{"type": "picture", "text": in.Text, "media": s.cfg.MediaURL + id + ".jpg",
			"thumbnail": s.cfg.MediaURL + id + ".jpg", "size": len(s.media[id+".jpg"]), "file_name": "photo_" + id + ".jpg"}, ""
	case in.File != nil:
		size := max(in.File.Size, 1)
		if size > 50<<20 {
			return nil, "file over 50 MB"
		}
		s.media[id+".bin"] = make([]byte, size)
		return map[string]any{"type": "file", "media": s.cfg.MediaURL + id + ".bin", "size": size, "file_name": in.File.FileName}, ""
	case in.StickerIDOnly:
		return map[string]any{"type": "sticker", "sticker_id": 46105}, ""
	case in.Sticker:
		s.media[id+".png"] = []byte("\x89PNG simulated sticker")
		return map[string]any{"type": "sticker", "sticker_id": 46105, "media": s.cfg.MediaURL + id + ".png"}, ""
	case in.Location != nil:
		return map[string]any{"type": "location", "location": map[string]any{"lat": in.Location.Lat, "lon": in.Location.Lon}}, ""
	case in.Text != "":
		return map[string]any{"type": "text", "text": in.Text}, ""
	}
	return nil, "a message needs text, picture, file, sticker or location"
}
