package telegram

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Voice is a voice note (Bot API Voice).
type Voice struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Duration     int    `json:"duration"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// VideoNote is a round video message (Bot API VideoNote).
type VideoNote struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Length       int    `json:"length"`
	Duration     int    `json:"duration"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Video is a video file (Bot API Video).
type Video struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Duration     int    `json:"duration"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Location is a point on the map (Bot API Location).
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// Contact is a shared contact (Bot API Contact).
type Contact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name,omitempty"`
	UserID      int64  `json:"user_id,omitempty"`
}

// Sticker is a sticker (Bot API Sticker): a static WebP of 512 pixels.
type Sticker struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Type         string `json:"type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	IsAnimated   bool   `json:"is_animated"`
	IsVideo      bool   `json:"is_video"`
	Emoji        string `json:"emoji,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// MessageReactionUpdated is a user's change of their reactions.
type MessageReactionUpdated struct {
	Chat        Chat           `json:"chat"`
	MessageID   int64          `json:"message_id"`
	User        *User          `json:"user,omitempty"`
	Date        int64          `json:"date"`
	OldReaction []ReactionType `json:"old_reaction"`
	NewReaction []ReactionType `json:"new_reaction"`
}

// ReactionType is a reaction of type "emoji" (the only one a simulated
// user sets).
type ReactionType struct {
	Type  string `json:"type"`
	Emoji string `json:"emoji"`
}

// reactionEmoji are the emoji a user may react with in a private chat with
// a bot: Telegram's ReactionTypeEmoji list.
var reactionEmoji = map[string]bool{}

func init() {
	for _, e := range []string{"❤", "👍", "👎", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩", "🤮", "💩", "🙏", "👌", "🕊", "🤡", "🥱", "🥴", "😍", "🐳", "❤‍🔥", "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓", "🍾", "💋", "🖕", "😈", "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈", "😇", "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃", "💅", "🤪", "🗿", "🆒", "💘", "🙉", "🦄", "😘", "💊", "🙊", "😎", "👾", "🤷‍♂", "🤷", "🤷‍♀", "😡"} {
		reactionEmoji[e] = true
	}
}

// MaxVoiceBytes is the largest voice message a bot may send: "Bots can
// currently send voice messages of up to 50 MB in size".
const MaxVoiceBytes = 50 << 20

// voiceFormat names the format of a voice upload sendVoice plays: "OGG
// encoded with OPUS, or .MP3, or .M4A". Anything else is "".
func voiceFormat(data []byte) (mime string) {
	switch {
	case len(data) >= 36 && bytes.HasPrefix(data, []byte("OggS")) && bytes.Contains(data[:min(len(data), 128)], []byte("OpusHead")):
		return "audio/ogg"
	case bytes.HasPrefix(data, []byte("ID3")), len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0:
		return "audio/mpeg"
	case len(data) >= 12 && bytes.Equal(data[4:8], []byte("ftyp")) && (bytes.Equal(data[8:11], []byte("M4A")) || bytes.Equal(data[8:12], []byte("mp42")) || bytes.Equal(data[8:12], []byte("isom"))):
		return "audio/mp4"
	}
	return ""
}

// sendVoice sends an uploaded OGG/Opus, MP3 or M4A file as a voice message;
// any other upload is refused (the Bot API says other formats "may be sent
// as Audio or Document"), as is a user who forbids voice messages.
func sendVoice(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	com, up, ref, f, e := readFileSend(a, "voice")
	if e != nil {
		return nil, "", e
	}
	duration, _, e := a.integer("duration")
	if e != nil {
		return nil, "", e
	}
	var mime string
	switch {
	case up != nil:
		if int64(len(up.data)) > MaxVoiceBytes {
			return nil, "", errTooLarge
		}
		if mime = voiceFormat(up.data); mime == "" {
			return nil, "", badRequest("wrong file type: a voice message must be OGG encoded with OPUS, MP3 or M4A")
		}
	case ref == "":
		return nil, "", badRequest("there is no voice in the request")
	case isURL(ref):
		return nil, "", badRequest("failed to get HTTP URL content")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(com.chatID)
	if e != nil {
		return nil, "", e
	}
	if c.noVoice {
		return nil, "", badRequest("VOICE_MESSAGES_FORBIDDEN")
	}
	reply, e := c.replyTo(com.reply)
	if e != nil {
		return nil, "", e
	}
	var fl *file
	if up != nil {
		fl = b.newFile("voice", ".oga", int64(len(up.data)), up.data)
		fl.name, fl.mime = up.name, mime
	} else if fl = b.files[ref]; fl == nil || fl.kind != "voice" {
		return nil, "", badRequest("wrong file identifier/HTTP URL specified")
	}
	v := Voice{FileID: fl.id, FileUniqueID: fl.uniqueID, Duration: int(max(duration, 0)), MimeType: fl.mime, FileSize: fl.size}
	m := s.postMessage(b, c, Message{Voice: &v, Caption: f.plain, CaptionEntities: f.entities, ReplyToMessage: reply, ReplyMarkup: com.markup},
		Sent{Method: "sendVoice", Text: f.raw, ParseMode: f.mode, Plain: f.plain, Entities: f.entities,
			FileName: fl.name, FileSize: fl.size, MimeType: fl.mime})
	return m, "", nil
}

// MaxVideoBytes is the largest video a bot may send: "Bots can currently
// send video files of up to 50 MB in size".
const MaxVideoBytes = 50 << 20

// isMPEG4 reports whether data is an MPEG-4 file (an ISO base media file
// whose first box is ftyp): what "Telegram clients support" as video.
func isMPEG4(data []byte) bool {
	return len(data) >= 12 && bytes.Equal(data[4:8], []byte("ftyp"))
}

// sendVideo sends an uploaded MPEG-4 video; other formats are refused
// ("other formats may be sent as Document").
func sendVideo(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	com, e := readCommon(a)
	if e != nil {
		return nil, "", e
	}
	up, ref, e := a.file("video")
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
	var dims [3]int64
	for i, name := range []string{"duration", "width", "height"} {
		if dims[i], _, e = a.integer(name); e != nil {
			return nil, "", e
		}
	}
	a.boolean("show_caption_above_media")
	a.boolean("has_spoiler")
	a.boolean("supports_streaming")
	switch {
	case up != nil:
		if int64(len(up.data)) > MaxVideoBytes {
			return nil, "", errTooLarge
		}
		if !isMPEG4(up.data) {
			return nil, "", badRequest("wrong file type: a video must be MPEG4")
		}
	case ref == "":
		return nil, "", badRequest("there is no video in the request")
	case isURL(ref):
		return nil, "", badRequest("failed to get HTTP URL content")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(com.chatID)
	if e != nil {
		return nil, "", e
	}
	reply, e := c.replyTo(com.reply)
	if e != nil {
		return nil, "", e
	}
	var fl *file
	if up != nil {
		fl = b.newFile("video", ".mp4", int64(len(up.data)), up.data)
		fl.name, fl.mime = up.name, "video/mp4"
	} else if fl = b.files[ref]; fl == nil || fl.kind != "video" {
		return nil, "", badRequest("wrong file identifier/HTTP URL specified")
	}
	v := Video{FileID: fl.id, FileUniqueID: fl.uniqueID, Duration: int(max(dims[0], 0)), Width: int(max(dims[1], 0)),
		Height: int(max(dims[2], 0)), FileName: fl.name, MimeType: fl.mime, FileSize: fl.size}
	m := s.postMessage(b, c, Message{Video: &v, Caption: f.plain, CaptionEntities: f.entities, ReplyToMessage: reply, ReplyMarkup: com.markup},
		Sent{Method: "sendVideo", Text: f.raw, ParseMode: f.mode, Plain: f.plain, Entities: f.entities,
			FileName: fl.name, FileSize: fl.size, MimeType: fl.mime})
	return m, "", nil
}

// userMedia fills a user's message with the voice note, video note,
// location, contact or sticker the control request names; s.mu is held.
func (b *bot) userMedia(m *Message, req sendRequest) {
	switch {
	case req.Voice != nil:
		fl := b.newFile("voice", ".oga", sizeOr(req.Voice.Size, 4096), nil)
		fl.mime = "audio/ogg"
		m.Voice = &Voice{FileID: fl.id, FileUniqueID: fl.uniqueID, Duration: max(req.Voice.Duration, 1), MimeType: fl.mime, FileSize: fl.size}
	case req.VideoNote != nil:
		fl := b.newFile("video_note", ".mp4", sizeOr(req.VideoNote.Size, 65536), nil)
		fl.mime = "video/mp4"
		m.VideoNote = &VideoNote{FileID: fl.id, FileUniqueID: fl.uniqueID, Length: 384, Duration: max(req.VideoNote.Duration, 1), FileSize: fl.size}
	case req.Location != nil:
		m.Location = &Location{Latitude: req.Location.Latitude, Longitude: req.Location.Longitude}
	case req.Contact != nil:
		c := *req.Contact
		m.Contact = &c
	case req.Sticker != nil:
		fl := b.newFile("sticker", ".webp", 24576, nil)
		fl.mime = "image/webp"
		m.Sticker = &Sticker{FileID: fl.id, FileUniqueID: fl.uniqueID, Type: "regular", Width: 512, Height: 512,
			Emoji: req.Sticker.Emoji, FileSize: fl.size}
	}
}

func sizeOr(n, def int64) int64 {
	if n > 0 {
		return n
	}
	return def
}

// mediaProblem checks the media of a control send request as Telegram's
// clients limit them; "" when they are sound.
func (req sendRequest) mediaProblem() string {
	n := 0
	for _, set := range []bool{req.Photo, req.Document != nil, req.Voice != nil, req.VideoNote != nil, req.Location != nil, req.Contact != nil, req.Sticker != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return "photo, document, voice, video_note, location, contact and sticker are exclusive"
	case req.Location != nil && (req.Location.Latitude < -90 || req.Location.Latitude > 90 || req.Location.Longitude < -180 || req.Location.Longitude > 180):
		return "location out of range"
	case req.Contact != nil && (req.Contact.PhoneNumber == "" || req.Contact.FirstName == ""):
		return "a contact needs phone_number and first_name"
	case req.Sticker != nil && (req.Sticker.Emoji == "" || utf8.RuneCountInString(req.Sticker.Emoji) > 8):
		return "a sticker needs its emoji"
	case req.Voice != nil && (req.Voice.Size < 0 || req.Voice.Size > maxUserFile):
		return "voice size out of range"
	case req.VideoNote != nil && (req.VideoNote.Size < 0 || req.VideoNote.Size > maxUserFile):
		return "video note size out of range"
	case n == 1 && req.EditOf != 0:
		return "an edit changes the text or caption only"
	case n == 1 && req.Text != "" && (req.Location != nil || req.Contact != nil || req.Sticker != nil || req.VideoNote != nil):
		return "a location, contact, sticker or video note has no caption"
	}
	return ""
}

// hasMedia reports whether req sends something other than text.
func (req sendRequest) hasMedia() bool {
	return req.Photo || req.Document != nil || req.Voice != nil || req.VideoNote != nil || req.Location != nil || req.Contact != nil || req.Sticker != nil
}

type voiceReq struct {
	Duration int   `json:"duration"`
	Size     int64 `json:"size"`
}

type locationReq struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type stickerReq struct {
	Emoji string `json:"emoji"`
}

// reactRequest is the body of POST /_sim/telegram/react: the user of
// private chat ChatID sets Emoji as their reaction to MessageID, or takes
// their reaction back ("").
type reactRequest struct {
	BotID     int64  `json:"bot_id"`
	ChatID    int64  `json:"chat_id"`
	MessageID int64  `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// forbidVoiceRequest is the body of POST /_sim/telegram/forbid-voice: the
// user of ChatID forbids (or allows again) voice messages in their
// privacy settings.
type forbidVoiceRequest struct {
	BotID  int64 `json:"bot_id"`
	ChatID int64 `json:"chat_id"`
	Forbid bool  `json:"forbid"`
}

func (s *Sim) controlForbidVoice(w http.ResponseWriter, r *http.Request) {
	var req forbidVoiceRequest
	if err := simctl.DecodeJSON(r.Body, &req); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+err.Error())
		return
	}
	b := s.botByID(req.BotID)
	if b == nil {
		simctl.WriteError(w, http.StatusBadRequest, fmt.Sprintf("telegram: no bot with id %d", req.BotID))
		return
	}
	s.mu.Lock()
	c := b.chats[req.ChatID]
	if c != nil {
		c.noVoice = req.Forbid
	}
	s.mu.Unlock()
	if c == nil {
		simctl.WriteError(w, http.StatusNotFound, fmt.Sprintf("telegram: no chat %d", req.ChatID))
		return
	}
	simctl.WriteJSON(w, http.StatusOK, req)
}

// controlReact makes the message_reaction update of a user's reaction; it
// is delivered only to a bot that listed "message_reaction" in
// allowed_updates (the update is not made otherwise).
func (s *Sim) controlReact(w http.ResponseWriter, r *http.Request) {
	var req reactRequest
	if err := simctl.DecodeJSON(r.Body, &req); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+err.Error())
		return
	}
	if req.Emoji != "" && !reactionEmoji[req.Emoji] {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+req.Emoji+" is not an emoji Telegram offers as a reaction")
		return
	}
	b := s.botByID(req.BotID)
	if b == nil {
		simctl.WriteError(w, http.StatusBadRequest, fmt.Sprintf("telegram: no bot with id %d", req.BotID))
		return
	}
	s.mu.Lock()
	c := b.chats[req.ChatID]
	var msg *Message
	if c != nil {
		msg = c.messages[req.MessageID]
	}
	if msg == nil {
		s.mu.Unlock()
		simctl.WriteError(w, http.StatusNotFound, fmt.Sprintf("telegram: chat %d has no message %d", req.ChatID, req.MessageID))
		return
	}
	old := c.reactions[req.MessageID]
	if old == req.Emoji {
		s.mu.Unlock()
		simctl.WriteError(w, http.StatusBadRequest, "telegram: the reaction is already set")
		return
	}
	if c.reactions == nil {
		c.reactions = map[int64]string{}
	}
	c.reactions[req.MessageID] = req.Emoji
	list := func(e string) []ReactionType {
		if e == "" {
			return []ReactionType{}
		}
		return []ReactionType{{Type: "emoji", Emoji: e}}
	}
	user := c.user
	u := Update{MessageReaction: &MessageReactionUpdated{Chat: c.chatObject(), MessageID: req.MessageID, User: &user,
		Date: s.now().Unix(), OldReaction: list(old), NewReaction: list(req.Emoji)}}
	p := s.enqueue(b, &u, c.id)
	res := deliveryResult{MessageID: req.MessageID}
	if p == nil {
		res.Filtered = true
		s.mu.Unlock()
		simctl.WriteJSON(w, http.StatusOK, res)
		return
	}
	res.UpdateID = u.UpdateID
	hook, ok := s.claim(b, p, time.Now())
	s.mu.Unlock()
	s.poke()
	simctl.WriteJSON(w, http.StatusOK, s.firstAttempt(b, p, hook, ok, res))
}
