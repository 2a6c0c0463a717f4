package whatsapp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Delivery is the part of a webhook delivery the bridge reads.
type Delivery struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one business account's changes.
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one change of an entry.
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value is the content of a "messages" change.
type Value struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		// WaID is the customer's phone number; it is left out for a
		// customer who hides it behind a username.
		WaID string `json:"wa_id"`
		// UserID is the customer's business-scoped user id (BSUID).
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []Message `json:"messages"`
	Statuses []Status  `json:"statuses"`
}

// Status reports what became of a message the business sent.
type Status struct {
	ID     string `json:"id"`
	Status string `json:"status"` // sent, delivered, read, failed
	// RecipientID is the customer's phone number, left out for a customer
	// who hides it; RecipientUserID is their BSUID.
	RecipientID     string        `json:"recipient_id"`
	RecipientUserID string        `json:"recipient_user_id"`
	Errors          []StatusError `json:"errors"`
}

// StatusError is an error of a failed status or an unsupported message.
type StatusError struct {
	Code  int    `json:"code"`
	Title string `json:"title"`
}

// Message is one inbound message.
type Message struct {
	// From is the customer's phone number, left out for a customer who
	// hides it; FromUserID is their BSUID.
	From       string `json:"from"`
	FromUserID string `json:"from_user_id"`
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Type       string `json:"type"`
	Text       *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *Media `json:"image"`
	Document *Media `json:"document"`
	Audio    *Media `json:"audio"`
	Video    *Media `json:"video"`
	Sticker  *Media `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
	Button *struct {
		Text string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Context *struct {
		ID string `json:"id"`
	} `json:"context"`
	// Edit carries the new content of an edited message.
	Edit *struct {
		OriginalMessageID string   `json:"original_message_id"`
		Message           *Message `json:"message"`
	} `json:"edit"`
	// Reaction and Revoke are media.go's.
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Revoke *struct {
		OriginalMessageID string `json:"original_message_id"`
	} `json:"revoke"`
	// Unsupported names the type of a message the Cloud API does not
	// deliver; Errors says why.
	Unsupported *struct {
		Type string `json:"type"`
	} `json:"unsupported"`
	Errors []StatusError `json:"errors"`
}

// Media is an inbound media object: fetched by id.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
	Animated bool   `json:"animated"`
}

// ErrMalformed reports a body that is not a WhatsApp webhook delivery.
var ErrMalformed = errors.New("whatsapp: malformed delivery")

// Parse decodes a delivery and turns every message of every entry into an
// event, and every failed status into an Undelivered event; the other
// statuses (sent, delivered, read) give none. accept, when not nil, decides
// whether a change's phone_number_id belongs to this bot.
func Parse(body []byte, accept func(phoneNumberID string) bool) ([]channel.Inbound, error) {
	var d Delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, sdk.JSONError(err))
	}
	if d.Object != "whatsapp_business_account" {
		return nil, fmt.Errorf("%w: object %q", ErrMalformed, truncate(d.Object, 40))
	}
	var out []channel.Inbound
	for _, e := range d.Entry {
		for _, ch := range e.Changes {
			if ch.Field != "messages" || len(ch.Value.Messages) == 0 && len(ch.Value.Statuses) == 0 {
				continue
			}
			if accept != nil && !accept(ch.Value.Metadata.PhoneNumberID) {
				continue
			}
			names := map[string]string{}
			var onlyUser string // the BSUID of a delivery's only contact
			for _, c := range ch.Value.Contacts {
				if c.WaID != "" {
					names[c.WaID] = c.Profile.Name
				}
				if c.UserID != "" {
					names[c.UserID] = c.Profile.Name
					if len(ch.Value.Contacts) == 1 {
						onlyUser = c.UserID
					}
				}
			}
			for i := range ch.Value.Messages {
				if ev, ok := event(&ch.Value.Messages[i], names, onlyUser); ok {
					out = append(out, ev)
				}
			}
			for i := range ch.Value.Statuses {
				if ev, ok := failed(&ch.Value.Statuses[i]); ok {
					out = append(out, ev)
				}
			}
		}
	}
	return out, nil
}

// EventID is the dedupe id of a message id: wamids are base64 with '=', '+'
// and '/', which storage keys do not allow.
func EventID(wamid string) string {
	sum := sha256.Sum256([]byte(wamid))
	return "wa" + hex.EncodeToString(sum[:16])
}

// validChat reports whether s addresses a customer: a phone number, or a
// business-scoped user id for a customer who hides theirs.
func validChat(s string) bool { return validPhone(s) || ValidUserID(s) }

// ValidUserID reports whether s is a business-scoped user id (BSUID): a
// two-letter country code, a dot and up to 128 letters and digits
// ("US.13491208655302741918"), or a parent BSUID with "ENT." after the
// country ("US.ENT.11815799212886844830"). Its characters are all allowed
// in storage keys, so it serves as a chat id as it is.
func ValidUserID(s string) bool {
	cc, rest, ok := strings.Cut(s, ".")
	if !ok || len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return false
	}
	rest = strings.TrimPrefix(rest, "ENT.")
	if rest == "" || len(rest) > 128 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// validPhone reports whether s is a phone number: digits only.
func validPhone(s string) bool {
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

// sender is the chat of a message: the customer's phone number when Meta
// shares it, else their business-scoped user id (from_user_id, or the user_id
// of the delivery's only contact).
func sender(m *Message, onlyUser string) string {
	switch {
	case validPhone(m.From):
		return m.From
	case ValidUserID(m.FromUserID):
		return m.FromUserID
	case m.From == "" && m.FromUserID == "" && ValidUserID(onlyUser):
		return onlyUser
	}
	return ""
}

// failed turns a failed status into an Undelivered event, deduplicated per
// message: Meta may deliver the same status more than once.
func failed(st *Status) (channel.Inbound, bool) {
	if st.Status != "failed" || st.ID == "" {
		return channel.Inbound{}, false
	}
	chat := st.RecipientID
	if !validPhone(chat) {
		chat = st.RecipientUserID
	}
	if !validChat(chat) {
		return channel.Inbound{}, false
	}
	f := &channel.Failure{Reason: FailureReason(0, "")}
	if len(st.Errors) > 0 {
		f.Code, f.Reason = st.Errors[0].Code, FailureReason(st.Errors[0].Code, st.Errors[0].Title)
	}
	return channel.Inbound{ID: EventID(st.ID + ":failed"), Kind: channel.Undelivered, ChatID: chat, MessageID: st.ID, Failure: f}, true
}

func event(m *Message, names map[string]string, onlyUser string) (channel.Inbound, bool) {
	chat := sender(m, onlyUser)
	if m.ID == "" || chat == "" {
		return channel.Inbound{}, false
	}
	ev := channel.Inbound{ID: EventID(m.ID), Kind: channel.Message, ChatID: chat, MessageID: m.ID,
		Sender: displayName(names[chat])}
	if m.Type == "edit" {
		// The edit's own id is the event's; its content is the new version
		// of the original message.
		if m.Edit == nil || m.Edit.Message == nil || m.Edit.Message.Type == "edit" {
			return channel.Inbound{}, false
		}
		edited := *m.Edit.Message
		edited.ID, edited.From, edited.FromUserID = m.ID, m.From, m.FromUserID
		m = &edited
		ev.Edited = true
	}
	if m.Type == "reaction" || m.Type == "revoke" {
		return reactionOrRevoke(ev, m) // media.go
	}
	if m.Type == "unsupported" || m.Type == "unknown" {
		// Meta delivers the message without its content: the customer is
		// told that it could not be read.
		ev.Unreadable = true
		return ev, true
	}
	short := ev.ID[2:12]
	var text string
	var a *channel.Attachment
	media := func(kind channel.AttachmentKind, md *Media, base, mime string) {
		if md == nil || md.ID == "" {
			return
		}
		name := fileName(md.Filename, base)
		if md.MimeType != "" {
			mime = md.MimeType
		}
		a = &channel.Attachment{Kind: kind, Ref: md.ID, Name: name, MIME: mime}
		text = md.Caption
	}
	switch m.Type {
	case "text":
		if m.Text != nil {
			text = m.Text.Body
		}
	case "image":
		media(channel.Photo, m.Image, "photo_"+short+".jpg", "image/jpeg")
	case "document":
		media(channel.Document, m.Document, "document_"+short, "application/octet-stream")
	case "audio":
		kind := channel.Document
		if m.Audio != nil && m.Audio.Voice {
			kind = channel.Voice
		}
		media(kind, m.Audio, "audio_"+short+".ogg", "audio/ogg")
	case "video":
		media(channel.Video, m.Video, "video_"+short+".mp4", "video/mp4")
	case "sticker":
		media(channel.Sticker, m.Sticker, "sticker_"+short+".webp", "image/webp")
	case "location":
		if l := m.Location; l != nil {
			text = channel.LocationText(l.Latitude, l.Longitude, l.Name, l.Address)
		}
	case "contacts":
		for _, c := range m.Contacts {
			var phones []string
			for _, p := range c.Phones {
				phones = append(phones, p.Phone)
			}
			text = strings.TrimSpace(text + "\n" + channel.ContactText(c.Name.FormattedName, phones...))
		}
	case "button":
		if m.Button != nil {
			text = m.Button.Text
		}
	case "interactive":
		if i := m.Interactive; i != nil {
			switch {
			case i.ButtonReply != nil && channel.ValidChoiceData(i.ButtonReply.ID) && !ev.Edited:
				// A press of the bridge's reply buttons (choice.go).
				ev.Kind, ev.Choice = channel.Chosen, i.ButtonReply.ID
				return ev, true
			case i.ListReply != nil && channel.ValidChoiceData(i.ListReply.ID) && !ev.Edited:
				// A row of the bridge's list messages (list.go).
				ev.Kind, ev.Choice = channel.Chosen, i.ListReply.ID
				return ev, true
			case i.ButtonReply != nil:
				text = i.ButtonReply.Title
			case i.ListReply != nil:
				text = i.ListReply.Title
			}
		}
	}
	if a != nil && !ev.Edited {
		// An edit changes a caption, never the file the request already has.
		ev.Attachments = []channel.Attachment{*a}
	}
	if text != "" {
		ev.Plain = text
		ev.Wiki = format.ViberToWiki(text)
	}
	if ev.Wiki == "" && len(ev.Attachments) == 0 {
		return channel.Inbound{}, false // reactions, unsupported, system messages
	}
	return ev, true
}

func displayName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "WhatsApp user"
	}
	return truncate(s, 128)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

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
