package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Update is the part of a Bot API Update the bridge reads.
type Update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *Message           `json:"message"`
	EditedMessage *Message           `json:"edited_message"`
	MyChatMember  *ChatMemberUpdated `json:"my_chat_member"`
	CallbackQuery *CallbackQuery     `json:"callback_query"`
	// MessageReaction is a user's change of their reactions (media.go).
	MessageReaction *MessageReactionUpdated `json:"message_reaction"`
}

// Message is the part of a Bot API Message the bridge reads.
type Message struct {
	MessageID       int64       `json:"message_id"`
	From            *User       `json:"from"`
	Chat            Chat        `json:"chat"`
	Date            int64       `json:"date"`
	EditDate        int64       `json:"edit_date"`
	Text            string      `json:"text"`
	Entities        []Entity    `json:"entities"`
	Caption         string      `json:"caption"`
	CaptionEntities []Entity    `json:"caption_entities"`
	MediaGroupID    string      `json:"media_group_id"`
	ReplyToMessage  *Message    `json:"reply_to_message"`
	Quote           *TextQuote  `json:"quote"`
	Photo           []PhotoSize `json:"photo"`
	Document        *FileRef    `json:"document"`
	Animation       *FileRef    `json:"animation"`
	Audio           *FileRef    `json:"audio"`
	Voice           *FileRef    `json:"voice"`
	Video           *FileRef    `json:"video"`
	VideoNote       *FileRef    `json:"video_note"`
	Sticker         *Sticker    `json:"sticker"`
	Location        *Location   `json:"location"`
	Venue           *struct {
		Location Location `json:"location"`
		Title    string   `json:"title"`
		Address  string   `json:"address"`
	} `json:"venue"`
	Contact *struct {
		PhoneNumber string `json:"phone_number"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
	} `json:"contact"`
	// MessageThreadID and IsTopicMessage place the message in a forum
	// topic: of a private chat where the bot has topic mode (topics.go).
	MessageThreadID int64 `json:"message_thread_id"`
	IsTopicMessage  bool  `json:"is_topic_message"`
}

// User is a Telegram user.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
	// HasTopicsEnabled is getMe's: the bot has forum topic mode in private
	// chats (Bot API 9.3).
	HasTopicsEnabled bool `json:"has_topics_enabled"`
}

// Chat is a Telegram chat.
type Chat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"` // private, group, supergroup, channel
	Title string `json:"title"`
}

// Entity is a MessageEntity; Offset and Length count UTF-16 code units.
type Entity struct {
	Type     string `json:"type"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`
	Language string `json:"language,omitempty"`
	User     *User  `json:"user,omitempty"`
}

// TextQuote is the quoted part of a replied-to message.
type TextQuote struct {
	Text     string   `json:"text"`
	Entities []Entity `json:"entities"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID   string `json:"file_id"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	FileSize int64  `json:"file_size"`
}

// FileRef covers Document, Audio, Voice, Video, VideoNote and Animation.
type FileRef struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MimeType string `json:"mime_type"`
	FileSize int64  `json:"file_size"`
}

// Sticker is a sticker.
type Sticker struct {
	FileID     string `json:"file_id"`
	Emoji      string `json:"emoji"`
	IsAnimated bool   `json:"is_animated"`
	IsVideo    bool   `json:"is_video"`
	FileSize   int64  `json:"file_size"`
}

// ChatMemberUpdated reports the bot's own membership in a chat changing.
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          *User      `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// ChatMember is the part of a ChatMember the bridge reads.
type ChatMember struct {
	Status string `json:"status"` // creator, administrator, member, restricted, left, kicked
}

// ErrMalformed reports an update that is not a Bot API Update.
var ErrMalformed = errors.New("telegram: malformed update")

// maxQuote bounds the quoted text of a reply, in runes.
const maxQuote = 500

// ParseUpdate decodes an Update and turns it into bridge events; updates
// the bridge has no use for (channel posts, callbacks, reactions) give none.
func ParseUpdate(body []byte) ([]channel.Inbound, error) {
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, sdk.JSONError(err))
	}
	if u.UpdateID == 0 && u.Message == nil && u.EditedMessage == nil && u.MyChatMember == nil && u.CallbackQuery == nil && u.MessageReaction == nil {
		return nil, fmt.Errorf("%w: no update_id", ErrMalformed)
	}
	id := strconv.FormatInt(u.UpdateID, 10)
	switch {
	case u.Message != nil:
		return one(messageEvent(id, u.Message, false))
	case u.EditedMessage != nil:
		return one(messageEvent(id, u.EditedMessage, true))
	case u.MyChatMember != nil:
		return one(memberEvent(id, u.MyChatMember))
	case u.CallbackQuery != nil:
		return one(callbackEvent(id, u.CallbackQuery)) // choice.go
	case u.MessageReaction != nil:
		return one(reactionEvent(id, u.MessageReaction)) // media.go
	}
	return nil, nil
}

func one(ev channel.Inbound, ok bool) ([]channel.Inbound, error) {
	if !ok {
		return nil, nil
	}
	return []channel.Inbound{ev}, nil
}

func memberEvent(id string, m *ChatMemberUpdated) (channel.Inbound, bool) {
	if m.Chat.ID == 0 {
		return channel.Inbound{}, false
	}
	ev := channel.Inbound{ID: id, ChatID: strconv.FormatInt(m.Chat.ID, 10), Group: m.Chat.Type != "private"}
	switch m.NewChatMember.Status {
	case "kicked", "left":
		ev.Kind = channel.Blocked
	case "member", "administrator", "restricted":
		if m.OldChatMember.Status != "kicked" && m.OldChatMember.Status != "left" {
			return channel.Inbound{}, false
		}
		ev.Kind = channel.Unblocked
	default:
		return channel.Inbound{}, false
	}
	return ev, true
}

func messageEvent(id string, m *Message, edited bool) (channel.Inbound, bool) {
	if m.Chat.ID == 0 || m.Chat.Type == "channel" {
		return channel.Inbound{}, false
	}
	ev := channel.Inbound{
		ID:         id,
		Kind:       channel.Message,
		ChatID:     strconv.FormatInt(m.Chat.ID, 10),
		Group:      m.Chat.Type != "private",
		MessageID:  strconv.FormatInt(m.MessageID, 10),
		Sender:     displayName(m.From),
		Edited:     edited || m.EditDate != 0,
		MediaGroup: m.MediaGroupID,
		Thread:     topicOf(m),
	}
	if m.From != nil {
		ev.Lang = m.From.LanguageCode
	}
	text, entities := m.Text, m.Entities
	if text == "" {
		text, entities = m.Caption, m.CaptionEntities
	}
	if cmd, ok := command(m.Text, m.Entities); ok && !ev.Edited {
		ev.Command = cmd
		// The rest of the line (a /start deep-link parameter) is ignored:
		// it is attacker-chosen and the bridge has no use for it.
		return ev, true
	}
	ev.Plain = text
	ev.Wiki = entitiesToWiki(text, entities)
	if r := m.ReplyToMessage; r != nil {
		if q := m.Quote; q != nil && q.Text != "" {
			ev.ReplyTo = entitiesToWiki(truncate(q.Text, maxQuote), nil)
		} else if t := firstNonEmpty(r.Text, r.Caption); t != "" {
			ev.ReplyTo = entitiesToWiki(truncate(t, maxQuote), nil)
		}
	}
	if ev.Edited && (m.Location != nil || m.Venue != nil) {
		// A live location moving: Telegram edits the message every few
		// seconds. The first position reached the agents.
		return channel.Inbound{}, false
	}
	if !ev.Edited {
		// An edit changes a caption; the file already reached the request.
		ev.Attachments = attachments(m)
	}
	if ev.Wiki == "" && len(ev.Attachments) == 0 {
		switch {
		case m.Venue != nil:
			ev.Plain = channel.LocationText(m.Venue.Location.Latitude, m.Venue.Location.Longitude, m.Venue.Title, m.Venue.Address)
		case m.Location != nil:
			ev.Plain = channel.LocationText(m.Location.Latitude, m.Location.Longitude, "", "")
		case m.Contact != nil:
			ev.Plain = channel.ContactText(m.Contact.FirstName+" "+m.Contact.LastName, m.Contact.PhoneNumber)
		default:
			// Service messages (a member joined, a title changed) and
			// content the bridge cannot carry (polls, games).
			return channel.Inbound{}, false
		}
		ev.Wiki = entitiesToWiki(ev.Plain, nil)
	}
	return ev, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// command recognises a bot command at the start of a message: "/start",
// "/start@SomeBot", "/start deep-link".
func command(text string, entities []Entity) (string, bool) {
	if !strings.HasPrefix(text, "/") {
		return "", false
	}
	var e *Entity
	for i := range entities {
		if entities[i].Type == "bot_command" && entities[i].Offset == 0 {
			e = &entities[i]
		}
	}
	if e == nil || e.Length < 2 {
		return "", false
	}
	name, ok := utf16Prefix(text, e.Length)
	if !ok {
		return "", false
	}
	name, _, _ = strings.Cut(name[1:], "@")
	name = strings.ToLower(name)
	switch name {
	case channel.CommandStart, channel.CommandHelp, channel.CommandNew, channel.CommandStatus, channel.CommandForget:
		return name, true
	}
	return "", false
}

// utf16Prefix returns the prefix of s that is n UTF-16 code units long.
func utf16Prefix(s string, n int) (string, bool) {
	units := 0
	for i, r := range s {
		if units == n {
			return s[:i], true
		}
		if units > n {
			return "", false
		}
		if r >= 0x10000 {
			units += 2
		} else {
			units++
		}
	}
	if units == n {
		return s, true
	}
	return "", false
}

func displayName(u *User) string {
	if u == nil {
		return "Telegram user"
	}
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if name == "" && u.Username != "" {
		name = "@" + u.Username
	}
	if name == "" {
		name = "Telegram user"
	}
	return truncate(name, 128)
}

// attachments lists the files of a message: the largest photo size, or the
// one document, voice note, video or sticker it carries.
func attachments(m *Message) []channel.Attachment {
	mid := strconv.FormatInt(m.MessageID, 10)
	var a channel.Attachment
	switch {
	case len(m.Photo) > 0:
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.FileSize > best.FileSize || p.FileSize == best.FileSize && p.Width*p.Height >= best.Width*best.Height {
				best = p
			}
		}
		a = channel.Attachment{Kind: channel.Photo, Ref: best.FileID, Name: "photo_" + mid + ".jpg", MIME: "image/jpeg", Size: best.FileSize}
	case m.Document != nil:
		a = fileAttachment(channel.Document, m.Document, "document_"+mid, "application/octet-stream", "")
	case m.Audio != nil:
		a = fileAttachment(channel.Document, m.Audio, "audio_"+mid, "audio/mpeg", ".mp3")
	case m.Animation != nil:
		a = fileAttachment(channel.Video, m.Animation, "animation_"+mid, "video/mp4", ".mp4")
	case m.Voice != nil:
		a = fileAttachment(channel.Voice, m.Voice, "voice_"+mid, "audio/ogg", ".ogg")
	case m.Video != nil:
		a = fileAttachment(channel.Video, m.Video, "video_"+mid, "video/mp4", ".mp4")
	case m.VideoNote != nil:
		a = fileAttachment(channel.Video, m.VideoNote, "video_note_"+mid, "video/mp4", ".mp4")
	case m.Sticker != nil:
		s := m.Sticker
		a = channel.Attachment{Kind: channel.Sticker, Ref: s.FileID, Name: "sticker_" + mid + ".webp", MIME: "image/webp", Size: s.FileSize}
		switch {
		case s.IsAnimated:
			a.Name, a.MIME = "sticker_"+mid+".tgs", "application/x-tgsticker"
		case s.IsVideo:
			a.Name, a.MIME = "sticker_"+mid+".webm", "video/webm"
		}
	default:
		return nil
	}
	if a.Ref == "" {
		return nil
	}
	return []channel.Attachment{a}
}

func fileAttachment(kind channel.AttachmentKind, f *FileRef, base, mime, ext string) channel.Attachment {
	name := cleanFileName(f.FileName)
	if name == "" {
		name = base + ext
		if ext == "" {
			name = base
		}
	}
	if f.MimeType != "" {
		mime = f.MimeType
	}
	return channel.Attachment{Kind: kind, Ref: f.FileID, Name: name, MIME: mime, Size: f.FileSize}
}

// cleanFileName keeps a customer's file name usable as a Jira attachment
// name: no path, no control characters, at most 200 bytes.
func cleanFileName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > 200 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "." || s == ".." {
		return ""
	}
	return s
}
