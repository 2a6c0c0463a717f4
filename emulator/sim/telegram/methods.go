package telegram

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// param is a parameter a method reads, with its Bot API types (checked
// against the published spec by a test).
type param struct {
	name  string
	types []string
}

// method is one Bot API method of the simulator.
type method struct {
	name   string
	params []param
	send   bool // a message send, under flood control
	run    func(ctx context.Context, s *Sim, b *bot, a *args) (result any, desc string, e *apiError)
}

// methods are the simulated methods by lower-case name: Telegram's method
// names are case-insensitive.
var methods = map[string]*method{}

func init() {
	chatID := param{"chat_id", []string{"Integer", "String"}}
	replyParams := param{"reply_parameters", []string{"ReplyParameters"}}
	thread := param{"message_thread_id", []string{"Integer"}}
	replyMarkup := param{"reply_markup", []string{"InlineKeyboardMarkup", "ReplyKeyboardMarkup", "ReplyKeyboardRemove", "ForceReply"}}
	flags := []param{{"disable_notification", []string{"Boolean"}}, {"protect_content", []string{"Boolean"}}}
	parseMode := param{"parse_mode", []string{"String"}}
	scope := []param{{"scope", []string{"BotCommandScope"}}, {"language_code", []string{"String"}}}
	for _, m := range []*method{
		{name: "getMe", run: getMe},
		{name: "createForumTopic", run: createForumTopic, params: []param{chatID, {"name", []string{"String"}},
			{"icon_color", []string{"Integer"}}, {"icon_custom_emoji_id", []string{"String"}}}},
		{name: "getUpdates", run: getUpdates, params: []param{
			{"offset", []string{"Integer"}}, {"limit", []string{"Integer"}}, {"timeout", []string{"Integer"}},
			{"allowed_updates", []string{"Array of String"}}}},
		{name: "setWebhook", run: setWebhook, params: []param{
			{"url", []string{"String"}}, {"certificate", []string{"InputFile"}}, {"ip_address", []string{"String"}},
			{"max_connections", []string{"Integer"}}, {"allowed_updates", []string{"Array of String"}},
			{"drop_pending_updates", []string{"Boolean"}}, {"secret_token", []string{"String"}}}},
		{name: "deleteWebhook", run: deleteWebhook, params: []param{{"drop_pending_updates", []string{"Boolean"}}}},
		{name: "getWebhookInfo", run: getWebhookInfo},
		{name: "sendMessage", run: sendMessage, send: true, params: append([]param{chatID, thread,
			{"text", []string{"String"}}, parseMode, {"entities", []string{"Array of MessageEntity"}},
			{"link_preview_options", []string{"LinkPreviewOptions"}}, replyParams, replyMarkup}, flags...)},
		{name: "sendPhoto", run: sendPhoto, send: true, params: append([]param{chatID, thread,
			{"photo", []string{"InputFile", "String"}}, {"caption", []string{"String"}}, parseMode,
			{"caption_entities", []string{"Array of MessageEntity"}}, {"has_spoiler", []string{"Boolean"}},
			{"show_caption_above_media", []string{"Boolean"}}, replyParams, replyMarkup}, flags...)},
		{name: "sendDocument", run: sendDocument, send: true, params: append([]param{chatID, thread,
			{"document", []string{"InputFile", "String"}}, {"thumbnail", []string{"InputFile", "String"}},
			{"caption", []string{"String"}}, parseMode, {"caption_entities", []string{"Array of MessageEntity"}},
			{"disable_content_type_detection", []string{"Boolean"}}, replyParams, replyMarkup}, flags...)},
		{name: "sendVoice", run: sendVoice, send: true, params: append([]param{chatID, thread, // media.go
			{"voice", []string{"InputFile", "String"}}, {"caption", []string{"String"}}, parseMode,
			{"caption_entities", []string{"Array of MessageEntity"}}, {"duration", []string{"Integer"}},
			replyParams, replyMarkup}, flags...)},
		{name: "sendVideo", run: sendVideo, send: true, params: append([]param{chatID, thread, // media.go
			{"video", []string{"InputFile", "String"}}, {"duration", []string{"Integer"}}, {"width", []string{"Integer"}},
			{"height", []string{"Integer"}}, {"thumbnail", []string{"InputFile", "String"}}, {"caption", []string{"String"}}, parseMode,
			{"caption_entities", []string{"Array of MessageEntity"}}, {"show_caption_above_media", []string{"Boolean"}},
			{"has_spoiler", []string{"Boolean"}}, {"supports_streaming", []string{"Boolean"}}, replyParams, replyMarkup}, flags...)},
		{name: "sendChatAction", run: sendChatAction, params: []param{chatID, {"action", []string{"String"}}}},
		{name: "getFile", run: getFile, params: []param{{"file_id", []string{"String"}}}},
		{name: "setMyCommands", run: setMyCommands, params: append([]param{{"commands", []string{"Array of BotCommand"}}}, scope...)},
		{name: "getMyCommands", run: getMyCommands, params: scope},
		{name: "deleteMyCommands", run: deleteMyCommands, params: scope},
		{name: "answerCallbackQuery", run: answerCallbackQuery, params: []param{{"callback_query_id", []string{"String"}},
			{"text", []string{"String"}}, {"show_alert", []string{"Boolean"}}, {"url", []string{"String"}}, {"cache_time", []string{"Integer"}}}},
	} {
		methods[strings.ToLower(m.name)] = m
	}
}

func getMe(_ context.Context, s *Sim, b *bot, _ *args) (any, string, *apiError) {
	return b.user, "", nil
}

// updateTypes are the update types allowed_updates may name.
var updateTypes = []string{"message", "edited_message", "channel_post", "edited_channel_post",
	"business_connection", "business_message", "edited_business_message", "deleted_business_messages",
	"message_reaction", "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query",
	"shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
	"chat_member", "chat_join_request", "chat_boost", "removed_chat_boost"}

// readAllowed reads allowed_updates; unknown names are ignored, as Telegram
// ignores them.
func readAllowed(a *args) ([]string, bool, *apiError) {
	var list []string
	ok, e := a.object("allowed_updates", "allowed updates", &list)
	if e != nil || !ok {
		return nil, false, e
	}
	known := []string{}
	for _, u := range list {
		if slices.Contains(updateTypes, u) && !slices.Contains(known, u) {
			known = append(known, u)
		}
	}
	return known, true, nil
}

func getUpdates(ctx context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	offset, _, e := a.integer("offset")
	if e != nil {
		return nil, "", e
	}
	limit, ok, e := a.integer("limit")
	if e != nil {
		return nil, "", e
	}
	if !ok || limit > 100 {
		limit = 100
	}
	limit = max(limit, 1)
	timeout, _, e := a.integer("timeout")
	if e != nil {
		return nil, "", e
	}
	allowed, setAllowed, e := readAllowed(a)
	if e != nil {
		return nil, "", e
	}
	deadline := time.Now().Add(time.Duration(min(max(timeout, 0), 50)) * time.Second)
	for {
		s.mu.Lock()
		if b.hook.url != "" {
			s.mu.Unlock()
			return nil, "", &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
		}
		if setAllowed {
			b.hook.allowed = allowed
		}
		if offset != 0 {
			b.confirm(offset)
		}
		out := []json.RawMessage{}
		for _, p := range b.queue {
			if len(out) == int(limit) {
				break
			}
			out = append(out, p.body)
		}
		wait := b.newUpdate
		s.mu.Unlock()
		if len(out) > 0 || !time.Now().Before(deadline) {
			return out, "", nil
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-wait:
		case <-t.C:
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil || s.ctx.Err() != nil {
			return []json.RawMessage{}, "", nil
		}
	}
}

// confirm drops the queued updates getUpdates's offset confirms: ids below
// a positive offset, or all but the last -offset ones.
func (b *bot) confirm(offset int64) {
	keep := b.queue[:0]
	for i, p := range b.queue {
		if p.inflight || (offset > 0 && p.id >= offset) || (offset < 0 && int64(len(b.queue)-i) <= -offset) {
			keep = append(keep, p)
		}
	}
	clear(b.queue[len(keep):])
	b.queue = keep
}

var secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func setWebhook(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	raw, _, e := a.str("url")
	if e != nil {
		return nil, "", e
	}
	drop := a.boolean("drop_pending_updates")
	if raw == "" {
		return s.removeWebhook(b, drop)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, "", badRequest("bad webhook: Failed to resolve host: Name or service not known")
	}
	if u.Scheme != "https" {
		return nil, "", badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if port := u.Port(); port != "" && !s.cfg.AnyWebhookPort && port != "443" && port != "80" && port != "88" && port != "8443" {
		return nil, "", badRequest("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
	}
	secret, hasSecret, e := a.str("secret_token")
	if e != nil {
		return nil, "", e
	}
	if hasSecret && secret != "" && !secretToken.MatchString(secret) {
		if len(secret) > 256 {
			return nil, "", badRequest("secret token is too long")
		}
		return nil, "", badRequest("secret token contains unallowed characters")
	}
	maxConn, hasMax, e := a.integer("max_connections")
	if e != nil {
		return nil, "", e
	}
	if !hasMax {
		maxConn = 40
	}
	if maxConn < 1 || maxConn > 100 {
		return nil, "", badRequest("bad webhook: max_connections must be between 1 and 100")
	}
	allowed, setAllowed, e := readAllowed(a)
	if e != nil {
		return nil, "", e
	}
	if _, _, e := a.str("ip_address"); e != nil {
		return nil, "", e
	}
	cert, _, e := a.file("certificate")
	if e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := webhook{url: raw, secret: secret, maxConnections: int(maxConn), allowed: b.hook.allowed, certificate: cert != nil}
	if setAllowed {
		next.allowed = allowed
	}
	same := b.hook.url == next.url && b.hook.secret == next.secret && b.hook.maxConnections == next.maxConnections &&
		slices.Equal(b.hook.allowed, next.allowed)
	b.hook = next
	if drop {
		b.dropPending()
	}
	s.poke()
	if same {
		return true, "Webhook is already set", nil
	}
	return true, "Webhook was set", nil
}

func deleteWebhook(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	return s.removeWebhook(b, a.boolean("drop_pending_updates"))
}

func (s *Sim) removeWebhook(b *bot, drop bool) (any, string, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		b.dropPending()
	}
	if b.hook.url == "" {
		return true, "Webhook is already deleted", nil
	}
	b.hook = webhook{allowed: b.hook.allowed}
	return true, "Webhook was deleted", nil
}

// dropPending forgets the queued updates that are not being delivered.
func (b *bot) dropPending() {
	keep := b.queue[:0]
	for _, p := range b.queue {
		if p.inflight {
			keep = append(keep, p)
		}
	}
	clear(b.queue[len(keep):])
	b.queue = keep
}

func getWebhookInfo(_ context.Context, s *Sim, b *bot, _ *args) (any, string, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := WebhookInfo{
		URL:                  b.hook.url,
		HasCustomCertificate: b.hook.certificate,
		PendingUpdateCount:   len(b.queue),
		LastErrorDate:        b.lastErrorDate,
		LastErrorMessage:     b.lastErrorMessage,
		AllowedUpdates:       b.hook.allowed,
	}
	if b.hook.url != "" {
		info.MaxConnections = b.hook.maxConnections
	}
	return info, "", nil
}

// formatted is a text or caption after entity parsing.
type formatted struct {
	raw, mode, plain string
	entities         []MessageEntity
}

// format parses text in parse_mode (HTML is parsed like Telegram; Markdown
// modes are taken as they are), or takes the explicit entities.
func format(text, mode string, entities []MessageEntity) (formatted, *apiError) {
	f := formatted{raw: text, mode: mode}
	if !validUTF8(text) {
		return f, badRequest("text must be encoded in UTF-8")
	}
	switch strings.ToLower(mode) {
	case "":
		size := utf16Count(text)
		for _, e := range entities {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > size {
				return f, badRequest("can't parse entities: entity beginning at UTF-16 offset %d is out of bounds", e.Offset)
			}
		}
		f.plain, f.entities = trimEntities(text, slices.Clone(entities))
	case "html":
		plain, ents, err := parseHTML(text)
		if err != nil {
			return f, badRequest("can't parse entities: %s", err.Error())
		}
		f.plain, f.entities = plain, ents
	case "markdownv2", "markdown":
		f.plain = strings.TrimSpace(text)
	default:
		return f, badRequest("unsupported parse_mode")
	}
	return f, nil
}

// readFormatted reads a text or caption with its parse_mode and entities.
func readFormatted(a *args, textParam, entitiesParam string) (formatted, *apiError) {
	text, _, e := a.str(textParam)
	if e != nil {
		return formatted{}, e
	}
	mode, _, e := a.str("parse_mode")
	if e != nil {
		return formatted{}, e
	}
	var ents []MessageEntity
	if _, e := a.object(entitiesParam, "entities", &ents); e != nil {
		return formatted{}, e
	}
	return format(text, mode, ents)
}

// common are the parameters every send takes beyond its content.
type common struct {
	chatID int64
	thread int64 // message_thread_id: a topic of the private chat (topics.go)
	reply  *ReplyParameters
	markup *InlineKeyboardMarkup // an inline keyboard, kept with the message
}

func readCommon(a *args) (common, *apiError) {
	var c common
	var e *apiError
	if c.chatID, e = a.requireChatID(); e != nil {
		return c, e
	}
	var rp ReplyParameters
	ok, e := a.object("reply_parameters", "reply parameters", &rp)
	if e != nil {
		return c, e
	}
	if ok {
		c.reply = &rp
	}
	if c.markup, e = readMarkup(a); e != nil { // buttons.go
		return c, e
	}
	a.boolean("disable_notification")
	a.boolean("protect_content")
	if c.thread, _, e = a.integer("message_thread_id"); e != nil {
		return c, e
	}
	return c, nil
}

// target finds the chat a send goes to; s.mu is held.
func (b *bot) target(id int64) (*chat, *apiError) {
	c := b.chats[id]
	if c == nil {
		return nil, errChatNotFound
	}
	if c.blocked {
		return nil, errBlocked
	}
	return c, nil
}

// replyTo resolves reply_parameters to the message replied to (without its
// own reply_to_message, as Telegram sends it); s.mu is held.
func (c *chat) replyTo(rp *ReplyParameters) (*Message, *apiError) {
	if rp == nil {
		return nil, nil
	}
	m := c.messages[rp.MessageID]
	if m == nil {
		if rp.AllowSendingWithoutReply {
			return nil, nil
		}
		return nil, badRequest("message to be replied not found")
	}
	cp := *m
	cp.ReplyToMessage = nil
	return &cp, nil
}

// postMessage adds a message of the bot to a chat and records it; s.mu is held.
func (s *Sim) postMessage(b *bot, c *chat, m Message, sent Sent) Message {
	c.nextMessageID++
	m.MessageID = c.nextMessageID
	from := b.sender()
	m.From = &from
	m.Date = s.now().Unix()
	m.Chat = c.chatObject()
	stored := m
	c.messages[m.MessageID] = &stored
	sent.MessageID, sent.Date, sent.ReplyMarkup, sent.Thread = m.MessageID, m.Date, m.ReplyMarkup, m.MessageThreadID
	if m.ReplyToMessage != nil {
		sent.ReplyToMessageID = m.ReplyToMessage.MessageID
	}
	c.sent = append(c.sent, sent)
	return m
}

// sender is the bot as messages name it: getMe's extra fields are not there.
func (b *bot) sender() User {
	return User{ID: b.user.ID, IsBot: true, FirstName: b.user.FirstName, Username: b.user.Username}
}

func (c *chat) chatObject() Chat {
	return Chat{ID: c.id, Type: "private", FirstName: c.user.FirstName, LastName: c.user.LastName, Username: c.user.Username}
}

func sendMessage(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	com, e := readCommon(a)
	if e != nil {
		return nil, "", e
	}
	f, e := readFormatted(a, "text", "entities")
	if e != nil {
		return nil, "", e
	}
	if f.plain == "" {
		return nil, "", badRequest("message text is empty")
	}
	if utf16Count(f.plain) > 4096 {
		return nil, "", badRequest("message is too long")
	}
	var lpo *LinkPreviewOptions
	var opts LinkPreviewOptions
	if ok, e := a.object("link_preview_options", "link preview options", &opts); e != nil {
		return nil, "", e
	} else if ok {
		lpo = &opts
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(com.chatID)
	if e != nil {
		return nil, "", e
	}
	if e := b.checkThread(c, com.thread); e != nil { // topics.go
		return nil, "", e
	}
	reply, e := c.replyTo(com.reply)
	if e != nil {
		return nil, "", e
	}
	m := s.postMessage(b, c, Message{Text: f.plain, Entities: f.entities, LinkPreviewOptions: lpo, ReplyToMessage: reply, ReplyMarkup: com.markup, MessageThreadID: com.thread, IsTopicMessage: com.thread != 0},
		Sent{Method: "sendMessage", Text: f.raw, ParseMode: f.mode, Plain: f.plain, Entities: f.entities})
	return m, "", nil
}

// readCaption reads caption, parse_mode and caption_entities, at most 1024
// characters after parsing.
func readCaption(a *args) (formatted, *apiError) {
	f, e := readFormatted(a, "caption", "caption_entities")
	if e != nil {
		return f, e
	}
	if utf16Count(f.plain) > 1024 {
		return f, badRequest("message caption is too long")
	}
	return f, nil
}

// readFileSend reads what every file send starts with: the common fields,
// the file named field (an upload, or a file_id or URL) and its caption.
func readFileSend(a *args, field string) (common, *upload, string, formatted, *apiError) {
	com, e := readCommon(a)
	if e != nil {
		return com, nil, "", formatted{}, e
	}
	up, ref, e := a.file(field)
	if e != nil {
		return com, nil, "", formatted{}, e
	}
	f, e := readCaption(a)
	return com, up, ref, f, e
}

func sendPhoto(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	com, up, ref, f, e := readFileSend(a, "photo")
	if e != nil {
		return nil, "", e
	}
	a.boolean("has_spoiler")
	a.boolean("show_caption_above_media")
	var sizes []photoImage
	switch {
	case up != nil:
		if int64(len(up.data)) > s.cfg.MaxPhotoBytes {
			return nil, "", errTooLarge
		}
		if sizes, e = photoSizes(up.data); e != nil {
			return nil, "", e
		}
	case ref == "":
		return nil, "", badRequest("there is no photo in the request")
	case isURL(ref):
		return nil, "", badRequest("failed to get HTTP URL content")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(com.chatID)
	if e != nil {
		return nil, "", e
	}
	if e := b.checkThread(c, com.thread); e != nil { // topics.go
		return nil, "", e
	}
	reply, e := c.replyTo(com.reply)
	if e != nil {
		return nil, "", e
	}
	var photo []PhotoSize
	if sizes != nil {
		photo = b.storePhoto(sizes)
	} else {
		fl := b.files[ref]
		if fl == nil || fl.kind != "photo" {
			return nil, "", badRequest("wrong file identifier/HTTP URL specified")
		}
		photo = fl.group
	}
	largest := photo[len(photo)-1]
	m := s.postMessage(b, c, Message{Photo: photo, Caption: f.plain, CaptionEntities: f.entities, ReplyToMessage: reply, ReplyMarkup: com.markup, MessageThreadID: com.thread, IsTopicMessage: com.thread != 0},
		Sent{Method: "sendPhoto", Text: f.raw, ParseMode: f.mode, Plain: f.plain, Entities: f.entities,
			FileName: b.files[largest.FileID].name, FileSize: largest.FileSize, MimeType: "image/jpeg"})
	return m, "", nil
}

func sendDocument(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	com, e := readCommon(a)
	if e != nil {
		return nil, "", e
	}
	up, ref, e := a.file("document")
	if e != nil {
		return nil, "", e
	}
	if _, _, e := a.file("thumbnail"); e != nil {
		return nil, "", e
	}
	f, e := readCaption(a)
	if e != nil {
		return nil, "", e
	}
	a.boolean("disable_content_type_detection")
	switch {
	case up != nil:
		if len(up.data) == 0 {
			return nil, "", badRequest("file must be non-empty")
		}
	case ref == "":
		return nil, "", badRequest("there is no document in the request")
	case isURL(ref):
		return nil, "", badRequest("failed to get HTTP URL content")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(com.chatID)
	if e != nil {
		return nil, "", e
	}
	if e := b.checkThread(c, com.thread); e != nil { // topics.go
		return nil, "", e
	}
	reply, e := c.replyTo(com.reply)
	if e != nil {
		return nil, "", e
	}
	var fl *file
	if up != nil {
		fl = b.storeDocument(up.name, mimeType(up.name, up.contentType), int64(len(up.data)), up.data)
	} else if fl = b.files[ref]; fl == nil || fl.kind != "document" {
		return nil, "", badRequest("wrong file identifier/HTTP URL specified")
	}
	doc := fl.document()
	m := s.postMessage(b, c, Message{Document: &doc, Caption: f.plain, CaptionEntities: f.entities, ReplyToMessage: reply, ReplyMarkup: com.markup, MessageThreadID: com.thread, IsTopicMessage: com.thread != 0},
		Sent{Method: "sendDocument", Text: f.raw, ParseMode: f.mode, Plain: f.plain, Entities: f.entities,
			FileName: doc.FileName, FileSize: doc.FileSize, MimeType: doc.MimeType})
	return m, "", nil
}

func isURL(ref string) bool {
	l := strings.ToLower(ref)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// chatActions are the actions sendChatAction knows.
var chatActions = []string{"typing", "upload_photo", "record_video", "upload_video", "record_voice",
	"upload_voice", "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}

func sendChatAction(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	id, e := a.requireChatID()
	if e != nil {
		return nil, "", e
	}
	action, _, e := a.str("action")
	if e != nil {
		return nil, "", e
	}
	if action == "" {
		return nil, "", badRequest("action is empty")
	}
	if !slices.Contains(chatActions, action) {
		return nil, "", badRequest("wrong parameter action in request")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(id)
	if e != nil {
		return nil, "", e
	}
	c.sent = append(c.sent, Sent{Method: "sendChatAction", Action: action, Date: s.now().Unix()})
	return true, "", nil
}

func getFile(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	id, _, e := a.str("file_id")
	if e != nil {
		return nil, "", e
	}
	if id == "" {
		return nil, "", badRequest("file_id is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := b.files[id]
	if f == nil {
		return nil, "", badRequest("invalid file_id")
	}
	if f.size > s.cfg.MaxDownloadBytes {
		return nil, "", badRequest("file is too big")
	}
	return File{FileID: f.id, FileUniqueID: f.uniqueID, FileSize: f.size, FilePath: f.path}, "", nil
}

var commandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// commandsKey is where setMyCommands keeps a list: scope type and language.
func commandsKey(a *args) (string, *apiError) {
	var sc struct {
		Type   string          `json:"type"`
		ChatID json.RawMessage `json:"chat_id"`
		UserID int64           `json:"user_id"`
	}
	if _, e := a.object("scope", "bot command scope", &sc); e != nil {
		return "", e
	}
	if sc.Type == "" {
		sc.Type = "default"
	}
	switch sc.Type {
	case "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat", "chat_administrators", "chat_member":
	default:
		return "", badRequest("wrong bot command scope type specified")
	}
	lang, _, e := a.str("language_code")
	if e != nil {
		return "", e
	}
	return sc.Type + "/" + string(sc.ChatID) + "/" + strconv.FormatInt(sc.UserID, 10) + "/" + lang, nil
}

func setMyCommands(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	var cmds []BotCommand
	ok, e := a.object("commands", "bot commands", &cmds)
	if e != nil {
		return nil, "", e
	}
	if !ok {
		return nil, "", badRequest("parameter \"commands\" is required")
	}
	if len(cmds) > 100 {
		return nil, "", badRequest("too many commands specified")
	}
	for i := range cmds {
		cmds[i].Command = strings.ToLower(strings.TrimPrefix(cmds[i].Command, "/"))
		if !commandName.MatchString(cmds[i].Command) {
			return nil, "", badRequest("BOT_COMMAND_INVALID")
		}
		if n := len([]rune(strings.TrimSpace(cmds[i].Description))); n == 0 || n > 256 {
			return nil, "", badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	key, e := commandsKey(a)
	if e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.commands[key] = cmds
	return true, "", nil
}

func getMyCommands(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	key, e := commandsKey(a)
	if e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := b.commands[key]
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return cmds, "", nil
}

func deleteMyCommands(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	key, e := commandsKey(a)
	if e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(b.commands, key)
	return true, "", nil
}
