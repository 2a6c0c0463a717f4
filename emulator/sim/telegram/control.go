package telegram

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Control is the control API of the simulator, for the admin listener:
// /_sim/telegram/... and /_sim/fail (for rules of service "telegram"). The
// contract is in the documentation of package sim.
func (s *Sim) Control() http.Handler { return s.control }

func (s *Sim) newControl() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sim/telegram/send", s.controlSend)
	mux.HandleFunc("GET /_sim/telegram/sent", s.controlSent)
	mux.HandleFunc("GET /_sim/telegram/webhook", s.controlWebhook)
	mux.HandleFunc("POST /_sim/telegram/block", s.controlBlock)
	mux.HandleFunc("POST /_sim/telegram/press", s.controlPress)
	mux.HandleFunc("POST /_sim/telegram/react", s.controlReact)              // media.go
	mux.HandleFunc("POST /_sim/telegram/forbid-voice", s.controlForbidVoice) // media.go
	mux.HandleFunc("GET /_sim/telegram/stats", s.controlStats)
	mux.Handle("/_sim/fail", simctl.FailHandler(s.Name(), &s.faults))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		simctl.WriteError(w, http.StatusNotFound, "telegram: no control endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// sendRequest is the body of POST /_sim/telegram/send: a user's message.
type sendRequest struct {
	BotID            int64        `json:"bot_id"`
	ChatID           int64        `json:"chat_id"`
	Text             string       `json:"text"`
	FirstName        string       `json:"first_name"`
	LastName         string       `json:"last_name"`
	Username         string       `json:"username"`
	LanguageCode     string       `json:"language_code"`
	Photo            bool         `json:"photo"`
	Document         *documentReq `json:"document"`
	ReplyToMessageID int64        `json:"reply_to_message_id"`
	EditOf           int64        `json:"edit_of"`
	MediaGroupID     string       `json:"media_group_id"`
	// MessageThreadID writes in a topic of the chat (topics.go).
	MessageThreadID int64 `json:"message_thread_id"`
	// Voice, VideoNote, Location, Contact and Sticker send what they
	// name (media.go), exclusive with Photo and Document.
	Voice     *voiceReq    `json:"voice"`
	VideoNote *voiceReq    `json:"video_note"`
	Location  *locationReq `json:"location"`
	Contact   *Contact     `json:"contact"`
	Sticker   *stickerReq  `json:"sticker"`
}

type documentReq struct {
	FileName string `json:"file_name"`
	Size     int64  `json:"size"`
	MimeType string `json:"mime_type"`
}

// deliveryResult is the answer of the control calls that make an update.
type deliveryResult struct {
	UpdateID  int64 `json:"update_id"`
	MessageID int64 `json:"message_id,omitempty"`
	// Status is the webhook's HTTP status for the first delivery attempt;
	// 0 when none was made yet (see Pending) or it failed without one.
	Status int `json:"status"`
	// Pending is true when the update waits: no webhook is set, or an
	// earlier update of the chat is still undelivered.
	Pending bool `json:"pending,omitempty"`
	// Error is why the first attempt got no HTTP answer.
	Error string `json:"error,omitempty"`
	// Filtered is true when allowed_updates excludes the update.
	Filtered bool `json:"filtered,omitempty"`
}

// maxUserFile is the largest document a simulated user sends (Telegram's
// limit for users); its bytes are generated, never held.
const maxUserFile = 2 << 30

func (s *Sim) controlSend(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if err := simctl.DecodeJSON(r.Body, &req); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+err.Error())
		return
	}
	res, err := s.userSend(r.Context(), req)
	if err != nil {
		simctl.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	simctl.WriteJSON(w, http.StatusOK, res)
}

// userSend makes the update of a user's message and delivers it.
func (s *Sim) userSend(ctx context.Context, req sendRequest) (deliveryResult, error) {
	switch {
	case req.ChatID <= 0:
		return deliveryResult{}, fmt.Errorf("telegram: chat_id must be a positive user id (private chats only)")
	case req.Photo && req.Document != nil:
		return deliveryResult{}, fmt.Errorf("telegram: photo and document are exclusive")
	case req.mediaProblem() != "":
		return deliveryResult{}, fmt.Errorf("telegram: %s", req.mediaProblem())
	case req.Text == "" && !req.hasMedia():
		return deliveryResult{}, fmt.Errorf("telegram: text is required for a text message")
	case req.MediaGroupID != "" && !req.Photo && req.Document == nil:
		return deliveryResult{}, fmt.Errorf("telegram: media_group_id needs a photo or a document")
	case req.EditOf != 0 && (req.Photo || req.Document != nil || req.MediaGroupID != ""):
		return deliveryResult{}, fmt.Errorf("telegram: an edit changes the text or caption only")
	case req.Document != nil && (req.Document.Size < 0 || req.Document.Size > maxUserFile):
		return deliveryResult{}, fmt.Errorf("telegram: document size must be 0 to %d", int64(maxUserFile))
	}
	b := s.botByID(req.BotID)
	if b == nil {
		return deliveryResult{}, fmt.Errorf("telegram: no bot with id %d", req.BotID)
	}
	var sizes []photoImage
	if req.Photo {
		sizes = scaledSizes(userPhoto(req.ChatID))
	}

	s.mu.Lock()
	c := s.userChat(b, req)
	if c.blocked {
		// Writing to a bot one has blocked unblocks it.
		c.blocked = false
		s.enqueue(b, s.memberUpdate(b, c, "kicked", "member"), c.id)
	}
	now := s.now().Unix()
	var u Update
	if req.EditOf != 0 {
		old := c.messages[req.EditOf]
		if old == nil || old.From == nil || old.From.ID != c.user.ID {
			s.mu.Unlock()
			return deliveryResult{}, fmt.Errorf("telegram: chat %d has no message %d from the user", c.id, req.EditOf)
		}
		m := *old
		if m.Text != "" {
			m.Text, m.Entities = req.Text, detectEntities(req.Text)
		} else {
			m.Caption, m.CaptionEntities = req.Text, detectEntities(req.Text)
		}
		m.EditDate = now
		m.ReplyToMessage = nil
		if old.ReplyToMessage != nil {
			rt := *old.ReplyToMessage
			m.ReplyToMessage = &rt
		}
		stored := m
		c.messages[m.MessageID] = &stored
		u.EditedMessage = &m
	} else {
		var reply *Message
		if req.ReplyToMessageID != 0 {
			rt := c.messages[req.ReplyToMessageID]
			if rt == nil {
				s.mu.Unlock()
				return deliveryResult{}, fmt.Errorf("telegram: chat %d has no message %d to reply to", c.id, req.ReplyToMessageID)
			}
			cp := *rt
			cp.ReplyToMessage = nil
			reply = &cp
		}
		if req.MessageThreadID != 0 && c.topics[req.MessageThreadID] == "" {
			s.mu.Unlock()
			return deliveryResult{}, fmt.Errorf("telegram: chat %d has no topic %d", c.id, req.MessageThreadID)
		}
		c.nextMessageID++
		user := c.user
		m := Message{MessageID: c.nextMessageID, From: &user, Date: now, Chat: c.chatObject(),
			ReplyToMessage: reply, MediaGroupID: req.MediaGroupID,
			MessageThreadID: req.MessageThreadID, IsTopicMessage: req.MessageThreadID != 0}
		switch {
		case req.Photo:
			m.Photo = b.storePhoto(sizes)
			m.Caption, m.CaptionEntities = req.Text, detectEntities(req.Text)
		case req.Document != nil:
			d := *req.Document
			if d.FileName == "" {
				d.FileName = "file.bin"
			}
			if d.MimeType == "" {
				d.MimeType = mimeType(d.FileName, "")
			}
			if d.Size == 0 {
				d.Size = 1024
			}
			doc := b.storeDocument(d.FileName, d.MimeType, d.Size, nil).document()
			m.Document = &doc
			m.Caption, m.CaptionEntities = req.Text, detectEntities(req.Text)
		case req.hasMedia():
			b.userMedia(&m, req) // media.go
			if req.Voice != nil {
				m.Caption, m.CaptionEntities = req.Text, detectEntities(req.Text)
			}
		default:
			m.Text, m.Entities = req.Text, detectEntities(req.Text)
		}
		stored := m
		c.messages[m.MessageID] = &stored
		u.Message = &m
	}
	p := s.enqueue(b, &u, c.id)
	res := deliveryResult{UpdateID: u.UpdateID}
	if u.Message != nil {
		res.MessageID = u.Message.MessageID
	} else {
		res.MessageID = u.EditedMessage.MessageID
	}
	if p == nil {
		res.UpdateID, res.Filtered = 0, true
		s.mu.Unlock()
		return res, nil
	}
	hook, ok := s.claim(b, p, time.Now())
	s.mu.Unlock()
	s.poke()
	return s.firstAttempt(b, p, hook, ok, res), nil
}

// firstAttempt delivers a claimed update at once, for the control call's
// answer; an unclaimed one is left to the dispatcher.
func (s *Sim) firstAttempt(b *bot, p *pending, hook webhook, claimed bool, res deliveryResult) deliveryResult {
	if !claimed {
		res.Pending = true
		return res
	}
	status, err := s.deliver(b, p, hook)
	res.Status = status
	if err != nil {
		res.Error = deliveryError(0, err)
	}
	return res
}

// userChat finds or opens the private chat of the request's user; s.mu is
// held.
func (s *Sim) userChat(b *bot, req sendRequest) *chat {
	c := b.chats[req.ChatID]
	if c == nil {
		c = &chat{id: req.ChatID, messages: make(map[int64]*Message),
			user: User{ID: req.ChatID, FirstName: "Test", LanguageCode: "en"}}
		b.chats[req.ChatID] = c
	}
	if req.FirstName != "" {
		c.user.FirstName = req.FirstName
	}
	if req.LastName != "" {
		c.user.LastName = req.LastName
	}
	if req.Username != "" {
		c.user.Username = req.Username
	}
	if req.LanguageCode != "" {
		c.user.LanguageCode = req.LanguageCode
	}
	return c
}

// memberUpdate is the my_chat_member update of the user changing the bot's
// status in the chat; s.mu is held.
func (s *Sim) memberUpdate(b *bot, c *chat, from, to string) *Update {
	member := func(status string) ChatMember {
		m := ChatMember{Status: status, User: b.sender()}
		if status == "kicked" {
			zero := int64(0)
			m.UntilDate = &zero
		}
		return m
	}
	return &Update{MyChatMember: &ChatMemberUpdated{
		Chat: c.chatObject(), From: c.user, Date: s.now().Unix(),
		OldChatMember: member(from), NewChatMember: member(to),
	}}
}

// commandPattern finds bot commands: a '/' at the start of a word, the
// name, and an optional @botname.
var commandPattern = regexp.MustCompile(`(?:^|[\s])(/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)`)

// detectEntities finds the entities Telegram detects in a user's text: bot
// commands.
func detectEntities(text string) []MessageEntity {
	var out []MessageEntity
	for _, m := range commandPattern.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		if end < len(text) && !isSpace(text[end]) && text[end] != '.' && text[end] != ',' {
			continue
		}
		out = append(out, MessageEntity{Type: "bot_command", Offset: utf16Count(text[:start]), Length: utf16Count(text[start:end])})
	}
	return out
}

func (s *Sim) controlSent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	chatID, err := strconv.ParseInt(q.Get("chat_id"), 10, 64)
	if err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: chat_id query parameter is required")
		return
	}
	b, ok := s.controlBot(w, q.Get("bot_id"))
	if !ok {
		return
	}
	s.mu.Lock()
	out := []Sent{}
	if c := b.chats[chatID]; c != nil {
		out = append(out, c.sent...)
	}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}

// controlBot picks the bot of a ?bot_id=; empty is the first bot.
func (s *Sim) controlBot(w http.ResponseWriter, raw string) (*bot, bool) {
	var id int64
	if raw != "" {
		var err error
		if id, err = strconv.ParseInt(raw, 10, 64); err != nil {
			simctl.WriteError(w, http.StatusBadRequest, "telegram: bad bot_id")
			return nil, false
		}
	}
	b := s.botByID(id)
	if b == nil {
		simctl.WriteError(w, http.StatusNotFound, fmt.Sprintf("telegram: no bot with id %d", id))
		return nil, false
	}
	return b, true
}

// webhookState is the answer of GET /_sim/telegram/webhook.
type webhookState struct {
	URL                string   `json:"url"`
	SecretToken        string   `json:"secret_token"`
	MaxConnections     int      `json:"max_connections,omitempty"`
	AllowedUpdates     []string `json:"allowed_updates,omitempty"`
	PendingUpdateCount int      `json:"pending_update_count"`
	LastErrorMessage   string   `json:"last_error_message,omitempty"`
}

func (s *Sim) controlWebhook(w http.ResponseWriter, r *http.Request) {
	b, ok := s.controlBot(w, r.URL.Query().Get("bot_id"))
	if !ok {
		return
	}
	s.mu.Lock()
	st := webhookState{URL: b.hook.url, SecretToken: b.hook.secret, MaxConnections: b.hook.maxConnections,
		AllowedUpdates: b.hook.allowed, PendingUpdateCount: len(b.queue), LastErrorMessage: b.lastErrorMessage}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, st)
}

// blockRequest is the body of POST /_sim/telegram/block.
type blockRequest struct {
	BotID   int64 `json:"bot_id"`
	ChatID  int64 `json:"chat_id"`
	Unblock bool  `json:"unblock"`
}

func (s *Sim) controlBlock(w http.ResponseWriter, r *http.Request) {
	var req blockRequest
	if err := simctl.DecodeJSON(r.Body, &req); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+err.Error())
		return
	}
	if req.ChatID <= 0 {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: chat_id must be a positive user id")
		return
	}
	b := s.botByID(req.BotID)
	if b == nil {
		simctl.WriteError(w, http.StatusNotFound, fmt.Sprintf("telegram: no bot with id %d", req.BotID))
		return
	}
	s.mu.Lock()
	c := s.userChat(b, sendRequest{ChatID: req.ChatID})
	if c.blocked == !req.Unblock {
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, deliveryResult{}) // no change, no update
		return
	}
	from, to := "member", "kicked"
	if req.Unblock {
		from, to = to, from
	}
	c.blocked = !req.Unblock
	u := s.memberUpdate(b, c, from, to)
	p := s.enqueue(b, u, c.id)
	res := deliveryResult{UpdateID: u.UpdateID}
	if p == nil {
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, deliveryResult{Filtered: true})
		return
	}
	hook, ok := s.claim(b, p, time.Now())
	s.mu.Unlock()
	s.poke()
	simctl.WriteJSON(w, http.StatusOK, s.firstAttempt(b, p, hook, ok, res))
}

// stats is the answer of GET /_sim/telegram/stats.
type stats struct {
	Requests map[string]int64 `json:"requests"`
	// Refused counts calls of methods the Bot API does not have.
	Refused      map[string]int64 `json:"refused"`
	EarlyRetries int64            `json:"early_retries"`
	RateLimited  int64            `json:"rate_limited"`
	Delivered    int64            `json:"delivered"`
	Dropped      int64            `json:"dropped"`
}

func (s *Sim) controlStats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	st := stats{Requests: make(map[string]int64, len(s.requests)), Refused: maps.Clone(s.refused), EarlyRetries: s.earlyRetries,
		RateLimited: s.rateLimited, Delivered: s.delivered, Dropped: s.dropped}
	for k, v := range s.requests {
		st.Requests[k] = v
	}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, st)
}
