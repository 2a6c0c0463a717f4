package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/plaintext"
	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Name is the channel's name in configurations and storage keys.
const Name = "web"

// Limits of the widget.
const (
	// MaxText is the longest message a customer may send, and the longest
	// part a reply is split into, in characters.
	MaxText = 4000
	// MaxName is the longest display name, in characters.
	MaxName = 80
	// MaxBody is the largest request body the channel reads: a message of
	// MaxText characters of up to 4 bytes, escaped, with its fields.
	MaxBody = 24 << 10
	// sessionBytes is a session's randomness.
	sessionBytes = 32
	// maxMessageID bounds the widget's id of a message.
	maxMessageID = 64
)

// MaxUpload is the largest file a customer may upload through the widget:
// the size of the upload link the bridge asks the host for (the host's own
// limit may be lower). The file goes from the page to the link and on to
// the service desk as it is sent; the module never sees its bytes.
const MaxUpload = 10 << 20

// maxFileName bounds an upload's file name, in characters.
const maxFileName = 255

// UploadSubject is the subject of the upload link of a chat's file id: what
// the host hands back with the upload's result, for the bridge to check
// that the result is this chat's and this file's. A hash, so that the
// host's record names neither.
func UploadSubject(chatID, fileID string) string {
	sum := sha256.Sum256([]byte("chatbridge web upload\x00" + chatID + "\x00" + fileID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Kind is the attachment kind an upload counts as for the project's
// accepted kinds: a photo for an image, else a document.
func (r Request) Kind() channel.AttachmentKind {
	if strings.HasPrefix(r.MIME, "image/") {
		return channel.Photo
	}
	return channel.Document
}

// Request is what the widget POSTs (as text/plain JSON).
type Request struct {
	// Op is "session" (a new session), "connect" (a realtime token and the
	// history), "send" (a message), "choose" (a press of a button of a
	// "choices" event), "upload" (an upload link for a file) or "attach"
	// (the file an upload link received, to the request).
	Op      string `json:"op"`
	Session string `json:"session,omitempty"`
	// Name is the visitor's display name; "" shows as a visitor.
	Name string `json:"name,omitempty"`
	// ID is the widget's id of a message or press, unique within the
	// session: a retried send with the same id is one message.
	ID   string `json:"id,omitempty"`
	Text string `json:"text,omitempty"`
	// Data is the pressed button's data (channel.Choice.Data), on a choose.
	Data string `json:"data,omitempty"`
	// Lang is the browser's language, its primary subtag only ("de" for
	// navigator.language "de-AT"), or "": the bridge uses it as it uses
	// Telegram's language_code.
	Lang string `json:"lang,omitempty"`
	// File, MIME and Size describe the file of an upload.
	File string `json:"file,omitempty"`
	MIME string `json:"mime,omitempty"`
	Size int64  `json:"size,omitempty"`
	// Link is the upload link whose file an attach asks for.
	Link string `json:"link,omitempty"`
}

// Errors of ReadRequest.
var (
	ErrBadRequest = errors.New("web: request not understood")
	ErrTooLong    = errors.New("web: message too long")
)

// ReadRequest decodes and checks a widget request: a known op, a session of
// the right shape where one is needed, a message id and text within the
// limits for a send.
func ReadRequest(body []byte) (Request, error) {
	var r Request
	if len(body) > MaxBody {
		return r, ErrTooLong
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, ErrBadRequest
	}
	switch r.Op {
	case "session":
		return r, nil
	case "connect", "send", "choose", "upload", "attach":
	default:
		return r, ErrBadRequest
	}
	if !ValidSession(r.Session) || utf8.RuneCountInString(r.Name) > MaxName || !utf8.ValidString(r.Name) || !validLang(r.Lang) {
		return r, ErrBadRequest
	}
	if r.Op == "choose" && (!validID(r.ID) || !channel.ValidChoiceData(r.Data)) {
		return r, ErrBadRequest
	}
	if r.Op == "send" {
		if !validID(r.ID) || strings.TrimSpace(r.Text) == "" || !utf8.ValidString(r.Text) {
			return r, ErrBadRequest
		}
		if utf8.RuneCountInString(r.Text) > MaxText {
			return r, ErrTooLong
		}
	}
	switch r.Op {
	case "upload":
		r.File = cleanFileName(r.File)
		if !validID(r.ID) || r.File == "" || r.Size < 1 {
			return r, ErrBadRequest
		}
		if r.Size > MaxUpload {
			return r, ErrTooLong
		}
		if mt, _, err := mime.ParseMediaType(r.MIME); err != nil {
			r.MIME = "application/octet-stream"
		} else {
			r.MIME = mt
		}
	case "attach":
		if !validID(r.ID) || r.Link == "" || len(r.Link) > abi.MaxUploadResultLinkLen {
			return r, ErrBadRequest
		}
	}
	return r, nil
}

// validLang reports whether lang is "" or a primary language subtag: two
// or three lower-case letters (RFC 5646, 2.2.1, less the reserved longer
// forms).
func validLang(lang string) bool {
	if lang == "" {
		return true
	}
	if len(lang) < 2 || len(lang) > 3 {
		return false
	}
	for i := 0; i < len(lang); i++ {
		if lang[i] < 'a' || lang[i] > 'z' {
			return false
		}
	}
	return true
}

// cleanFileName is a file name Jira can show: no path, no control
// characters, at most maxFileName characters; "" when none is left.
func cleanFileName(name string) string {
	if !utf8.ValidString(name) {
		return ""
	}
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name))
	if utf8.RuneCountInString(name) > maxFileName {
		return ""
	}
	return name
}

func validID(id string) bool {
	if id == "" || len(id) > maxMessageID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// NewSession returns a fresh session: 256 random bits, URL-safe base64.
func NewSession() string {
	var b [sessionBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidSession reports whether s has a session's shape.
func ValidSession(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(sessionBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// ChatOf is the chat id of a session: 24 bytes of its SHA-256 under a
// label, in URL-safe base64 (32 characters, usable in storage keys and
// realtime channel names). The session cannot be found from it.
func ChatOf(session string) string {
	sum := sha256.Sum256([]byte("chatbridge web session\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

// RealtimeChannel is the realtime channel of a chat.
func RealtimeChannel(chatID string) string { return "web:" + chatID }

// Event is what the widget receives on its realtime channel.
type Event struct {
	// Type is "reply" (an agent's public reply or a bot text), "file" (an
	// agent's file, by single-use link) or "choices" (a bot text with
	// buttons: Choices).
	Type    string   `json:"type"`
	Text    string   `json:"text,omitempty"`
	URL     string   `json:"url,omitempty"`
	Name    string   `json:"name,omitempty"`
	MIME    string   `json:"mime,omitempty"`
	Size    int64    `json:"size,omitempty"`
	Choices []Button `json:"choices,omitempty"`
}

// Button is one button of a "choices" event; the widget sends Data back
// in a "choose" request when it is pressed.
type Button struct {
	Label string `json:"label"`
	Data  string `json:"data"`
}

// maxChoices is how many buttons one message carries: as many as the
// longest first-message menu (ten request types), which the widget shows
// as a column of buttons.
const maxChoices = 10

// Channel is the widget channel of one project.
type Channel struct {
	env *sdk.Env
}

var (
	_ channel.Channel    = (*Channel)(nil)
	_ channel.LinkSender = (*Channel)(nil)
	_ channel.Chooser    = (*Channel)(nil)
)

// New returns the channel; the widget has no token and no webhook secret.
func New(env *sdk.Env, _ channel.Secrets) *Channel { return &Channel{env: env} }

// Name implements channel.Channel.
func (*Channel) Name() string { return Name }

// MaxFile is the largest agent's file the widget offers: the host's
// download links stream up to 50 MiB (host/medialink).
const MaxFile = 50 << 20

// Limits implements channel.Channel: the widget gets agents' files by link
// only, up to MaxFile (a customer's file takes an upload link instead,
// MaxUpload).
func (*Channel) Limits() channel.Limits { return channel.Limits{Text: MaxText, Upload: MaxFile} }

// Authenticate implements channel.Channel: a send or a press must carry a
// session of the right shape; the session itself is the credential (see the
// package documentation), and the bridge checks the page's origin first.
func (*Channel) Authenticate(req *abi.WebTriggerRequest) error {
	r, err := ReadRequest(req.Body)
	if err != nil || (r.Op != "send" && r.Op != "choose") {
		return channel.ErrUnauthorized
	}
	return nil
}

// Parse implements channel.Channel: a send is one message event of the
// session's chat, a choose one button press (channel.Chosen) whose data
// the bridge checks against the chat as it checks a messenger's. Its id is
// the chat and the widget's id, so a retried request is the same event.
func (*Channel) Parse(body []byte) ([]channel.Inbound, error) {
	r, err := ReadRequest(body)
	if err != nil {
		return nil, err
	}
	if r.Op != "send" && r.Op != "choose" {
		return nil, nil
	}
	chat := ChatOf(r.Session)
	name := strings.TrimSpace(r.Name)
	if name == "" {
		name = "Website visitor"
	}
	ev := channel.Inbound{ID: chat + ":" + r.ID, Kind: channel.Message, ChatID: chat, MessageID: r.ID, Sender: name, Lang: r.Lang}
	if r.Op == "choose" {
		ev.Kind, ev.Choice = channel.Chosen, r.Data
	} else {
		text := strings.TrimSpace(r.Text)
		ev.Wiki, ev.Plain = format.ViberToWiki(text), text
	}
	return []channel.Inbound{ev}, nil
}

// Render implements channel.Channel: plain text in parts of MaxText.
func (*Channel) Render(c channel.Content) []string { return plaintext.Render(c, MaxText, 0) }

// publish sends ev to the chat's page, if it is connected.
func (c *Channel) publish(chatID string, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	err = c.env.Realtime.Publish(RealtimeChannel(chatID), b)
	switch {
	case errors.Is(err, sdk.ErrLimitExceeded):
		// The installation's realtime rate: try again shortly.
		return fmt.Errorf("%w: realtime publish: %w", channel.ErrTemporary, err)
	case errors.Is(err, sdk.ErrUnavailable):
		return fmt.Errorf("%w: realtime publish: %w", channel.ErrTemporary, err)
	}
	return err
}

// SendText implements channel.Channel: the text goes live to the chat's
// page. A page that is not connected reads it from Jira when it connects.
func (c *Channel) SendText(chatID, text string) error {
	return c.publish(chatID, Event{Type: "reply", Text: text})
}

// MaxChoices implements channel.Chooser.
func (*Channel) MaxChoices() int { return maxChoices }

// SendChoices implements channel.Chooser: the text and its buttons go live
// to the chat's page, which shows them as buttons and sends a press back as
// a "choose" request. Like a reply, nothing is kept for a page that is not
// connected: the bridge's question is not in Jira, so a page that connects
// later does not show it.
func (c *Channel) SendChoices(chatID, text string, choices []channel.Choice) error {
	if len(choices) == 0 || len(choices) > maxChoices {
		return fmt.Errorf("web: %d buttons", len(choices))
	}
	ev := Event{Type: "choices", Text: text, Choices: make([]Button, 0, len(choices))}
	for _, ch := range choices {
		if !channel.ValidChoiceData(ch.Data) {
			return fmt.Errorf("web: a button's data is not valid")
		}
		ev.Choices = append(ev.Choices, Button{Label: ch.Label, Data: ch.Data})
	}
	return c.publish(chatID, ev)
}

// SendFile implements channel.Channel: the widget takes files by link only
// (SendFileURL); the bridge uses that for a LinkSender.
func (*Channel) SendFile(string, channel.File) error {
	return fmt.Errorf("%w: the widget takes files by link", channel.ErrTooLarge)
}

// SendFileURL implements channel.LinkSender: the page gets the single-use
// link to the agent's file.
func (c *Channel) SendFileURL(chatID string, f channel.FileLink) error {
	return c.publish(chatID, Event{Type: "file", URL: f.URL, Name: f.Name, MIME: f.MIME, Size: f.Size})
}

// Download implements channel.Channel: the widget sends no files yet.
func (*Channel) Download(channel.Attachment) ([]byte, error) {
	return nil, fmt.Errorf("%w: the widget sends no files", channel.ErrNotFound)
}

// Validate implements channel.Channel: there is no bot to check; an empty
// id, since any number of projects may each have a widget.
func (*Channel) Validate() (channel.Bot, error) { return channel.Bot{Username: "website widget"}, nil }

// Register implements channel.Channel: there is no webhook to register.
func (*Channel) Register(string, string) error { return nil }

// Unregister implements channel.Channel.
func (*Channel) Unregister() error { return nil }
