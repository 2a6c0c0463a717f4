package viber

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Callback is the part of a Viber callback the bridge reads.
type Callback struct {
	Event        string      `json:"event"`
	Timestamp    int64       `json:"timestamp"`
	MessageToken json.Number `json:"message_token"`
	// Sender is set on message events, User on subscribed and
	// conversation_started, UserID on unsubscribed, delivered, seen, failed.
	Sender     *User    `json:"sender"`
	User       *User    `json:"user"`
	UserID     string   `json:"user_id"`
	Message    *Message `json:"message"`
	Subscribed bool     `json:"subscribed"`
}

// User is a Viber user.
type User struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Avatar   string `json:"avatar"`
	Language string `json:"language"`
	Country  string `json:"country"`
}

// Message is a received message.
type Message struct {
	Type      string `json:"type"` // text, picture, video, file, sticker, contact, url, location
	Text      string `json:"text"`
	Media     string `json:"media"`
	FileName  string `json:"file_name"`
	Size      int64  `json:"size"`
	StickerID int64  `json:"sticker_id"`
	Contact   *struct {
		Name        string `json:"name"`
		PhoneNumber string `json:"phone_number"`
	} `json:"contact"`
	Location *struct {
		Lat float64 `json:"lat"`
		Lon float64 `json:"lon"`
	} `json:"location"`
}

// ErrMalformed reports a body that is not a Viber callback.
var ErrMalformed = errors.New("viber: malformed callback")

// Parse decodes a callback and turns it into bridge events; events without
// content (webhook, delivered, seen, failed) give none.
func Parse(body []byte) ([]channel.Inbound, error) {
	var cb Callback
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&cb); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, sdk.JSONError(err))
	}
	if cb.Event == "" {
		return nil, fmt.Errorf("%w: no event", ErrMalformed)
	}
	id, ok := tokenID(cb.MessageToken)
	if !ok {
		switch cb.Event {
		case "webhook", "delivered", "seen", "failed":
			return nil, nil
		case "subscribed", "unsubscribed", "conversation_started":
			// Viber's SDK reads no message_token on subscribed and
			// unsubscribed: the user and the time identify the event.
			if id, ok = userEventID(&cb); !ok {
				return nil, fmt.Errorf("%w: %s without user or timestamp", ErrMalformed, cb.Event)
			}
		default:
			return nil, fmt.Errorf("%w: no message_token", ErrMalformed)
		}
	}
	ev := channel.Inbound{ID: id}
	switch cb.Event {
	case "message":
		if cb.Sender == nil || cb.Message == nil {
			return nil, fmt.Errorf("%w: message without sender or content", ErrMalformed)
		}
		ev.Kind = channel.Message
		ev.ChatID, ok = ChatID(cb.Sender.ID)
		ev.MessageID = id
		ev.Sender, ev.Lang = displayName(cb.Sender), cb.Sender.Language
		if !ok {
			return nil, nil
		}
		if data, pressed := pressData(cb.Message); pressed {
			// A reply button of the bridge's keyboard (choice.go).
			ev.Kind, ev.Choice = channel.Chosen, data
			break
		}
		if !message(&ev, cb.Message) {
			return nil, nil
		}
	case "conversation_started":
		if cb.User == nil {
			return nil, nil
		}
		// The customer opened the chat: the bridge greets them as for /start.
		ev.Kind, ev.Command, ev.Sender, ev.Lang = channel.Message, channel.CommandStart, displayName(cb.User), cb.User.Language
		ev.ChatID, ok = ChatID(cb.User.ID)
	case "subscribed":
		if cb.User == nil {
			return nil, nil
		}
		ev.Kind = channel.Unblocked
		ev.ChatID, ok = ChatID(cb.User.ID)
	case "unsubscribed":
		ev.Kind = channel.Blocked
		ev.ChatID, ok = ChatID(cb.UserID)
	default:
		return nil, nil
	}
	if !ok {
		return nil, nil
	}
	return []channel.Inbound{ev}, nil
}

// pressData is the choice data of a text message that a press of the
// bridge's keyboard sent (its ActionBody), or false.
func pressData(m *Message) (string, bool) {
	if m.Type != "text" {
		return "", false
	}
	return channel.ChoiceFromText(m.Text)
}

// userEventID is the dedupe id of a user event without a message_token:
// "u" and a hash of the event, the user and the timestamp, which a
// redelivery repeats.
func userEventID(cb *Callback) (string, bool) {
	user := cb.UserID
	if cb.User != nil {
		user = cb.User.ID
	}
	if user == "" || cb.Timestamp == 0 {
		return "", false
	}
	sum := sha256.Sum256([]byte(cb.Event + "\x00" + user + "\x00" + strconv.FormatInt(cb.Timestamp, 10)))
	return "u" + hex.EncodeToString(sum[:12]), true
}

// tokenID is a message_token as a dedupe id: a decimal integer.
func tokenID(n json.Number) (string, bool) {
	s := string(n)
	if s == "" || len(s) > 24 {
		return "", false
	}
	if _, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 10, 64); err != nil {
		return "", false
	}
	return s, true
}

// message fills ev from a received message; false when there is nothing
// the bridge can carry.
func message(ev *channel.Inbound, m *Message) bool {
	text := m.Text
	var a channel.Attachment
	switch m.Type {
	case "text":
	case "picture":
		a = channel.Attachment{Kind: channel.Photo, Ref: m.Media, Name: fileName(m.FileName, "photo_"+ev.ID+".jpg"), MIME: "image/jpeg", Size: m.Size}
	case "video":
		a = channel.Attachment{Kind: channel.Video, Ref: m.Media, Name: "video_" + ev.ID + ".mp4", MIME: "video/mp4", Size: m.Size}
	case "file":
		a = channel.Attachment{Kind: channel.Document, Ref: m.Media, Name: fileName(m.FileName, "file_"+ev.ID), MIME: "application/octet-stream", Size: m.Size}
	case "sticker":
		a = channel.Attachment{Kind: channel.Sticker, Ref: m.Media, Name: "sticker_" + ev.ID + ".png", MIME: "image/png"}
		if m.Media == "" && m.StickerID != 0 {
			// Viber's callback may name the sticker by id only, with no
			// media to fetch: the agents see that one was sent.
			text = "(sticker " + strconv.FormatInt(m.StickerID, 10) + ")"
		}
	case "contact":
		if m.Contact == nil {
			return false
		}
		text = channel.ContactText(m.Contact.Name, m.Contact.PhoneNumber)
	case "location":
		if m.Location == nil {
			return false
		}
		text = channel.LocationText(m.Location.Lat, m.Location.Lon, "", "")
	case "url":
		text = firstNonEmpty(m.Media, m.Text)
	default:
		return false
	}
	if a.Kind != "" && strings.HasPrefix(a.Ref, "https://") {
		ev.Attachments = []channel.Attachment{a}
	}
	if text != "" {
		ev.Plain = text
		ev.Wiki = format.ViberToWiki(text)
	}
	return ev.Wiki != "" || len(ev.Attachments) > 0
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ChatID turns a Viber user id into a chat id usable in storage keys.
func ChatID(userID string) (string, bool) {
	if userID == "" || len(userID) > 100 {
		return "", false
	}
	b := []byte(userID)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '+':
			b[i] = '-'
		case c == '/':
			b[i] = '_'
		case c == '=':
			b[i] = '.'
		default:
			return "", false
		}
	}
	return string(b), true
}

// UserID turns a chat id back into the Viber user id.
func UserID(chatID string) (string, bool) {
	if chatID == "" || len(chatID) > 100 {
		return "", false
	}
	b := []byte(chatID)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-':
			b[i] = '+'
		case c == '_':
			b[i] = '/'
		case c == '.':
			b[i] = '='
		default:
			return "", false
		}
	}
	return string(b), true
}

func displayName(u *User) string {
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = "Viber user"
	}
	return truncate(name, 128)
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fileName keeps a customer's file name usable as a Jira attachment name.
func fileName(s, fallback string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s))
	for len(s) > 200 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "" || s == "." || s == ".." {
		return fallback
	}
	return s
}
