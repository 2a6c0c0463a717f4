package viber

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/plaintext"
	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Name is the channel's name in configuration and storage keys.
const Name = "viber"

// SignatureHeader carries the HMAC-SHA256 of a callback's body.
const SignatureHeader = "X-Viber-Content-Signature"

// EventTypes are the optional callbacks the bridge asks for; message,
// subscribed and unsubscribed always come, and delivered, seen and failed,
// which carry nothing the bridge uses, are left out. The values are those
// set_webhook documents.
var EventTypes = []string{"subscribed", "unsubscribed", "conversation_started"}

// Size limits of send_message.
const (
	// MaxRequest bounds a whole send_message request, in bytes.
	MaxRequest = 30 << 10
	// MaxSenderName bounds sender.name, in characters.
	MaxSenderName = 28
	// maxTextBytes bounds the JSON-encoded text of one message, leaving
	// room for the rest of the request.
	maxTextBytes = 28000
)

// Limits are Viber's: 7000 characters of text; files go by URL (pictures
// up to 1 MB, other files up to 50 MB); the bridge downloads at most 20 MB
// of a customer's file.
var Limits = channel.Limits{
	Text:     format.ViberLimit,
	Caption:  format.ViberLimit,
	Download: 20 << 20,
	Upload:   50 << 20,
	Photo:    1 << 20,
}

// DefaultSenderName is the name shown on the bot's messages.
const DefaultSenderName = "Support"

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9]{8,40}(-[A-Za-z0-9]{8,40}){1,5}$`)

// TokenProblem explains why token cannot be a Viber bot token, or returns "".
func TokenProblem(token string) string {
	if token == "" {
		return "A bot token is required."
	}
	if !tokenPattern.MatchString(token) {
		return "This is not a Viber bot token (it looks like 445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9)."
	}
	return ""
}

// Channel is one Viber bot. Create it with New.
type Channel struct {
	client  Client
	fetch   sdk.Fetcher
	secrets sdk.Secrets
	names   channel.Secrets
	// SenderName is sender.name of every message; "" means DefaultSenderName.
	SenderName string
}

var _ channel.Channel = (*Channel)(nil)

// New returns the channel for the bot whose token is stored under s.Token.
// Viber has no webhook secret: callbacks are signed with the token.
func New(env *sdk.Env, s channel.Secrets) *Channel {
	return &Channel{client: Client{Fetch: env.Fetch, TokenSecret: s.Token}, fetch: env.Fetch, secrets: env.Secrets, names: s}
}

// Name implements channel.Channel.
func (c *Channel) Name() string { return Name }

// Limits implements channel.Channel.
func (c *Channel) Limits() channel.Limits { return Limits }

// Handshake answers the event "webhook" check Viber posts while set_webhook
// runs, before the bridge has saved the configuration; it returns nil for
// any other request. The check carries nothing and changes nothing, so it
// is answered without a signature check.
func Handshake(req *abi.WebTriggerRequest) *abi.Response {
	if req.Method != "POST" || len(req.Body) > 4096 {
		return nil
	}
	var cb struct {
		Event string `json:"event"`
	}
	if json.Unmarshal(req.Body, &cb) != nil || cb.Event != "webhook" {
		return nil
	}
	return &abi.Response{Status: 200, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: []byte(`{}`)}
}

var _ channel.Greeter = (*Channel)(nil)

// Greet implements channel.Greeter: a conversation_started callback (the
// only event that carries CommandStart) is answered with the welcome
// message in the response body, since the customer has not subscribed yet
// and send_message would not reach them.
func (c *Channel) Greet(events []channel.Inbound, text string) ([]byte, []channel.Inbound) {
	var answer []byte
	rest := events[:0:0]
	for _, ev := range events {
		if ev.Command != channel.CommandStart || answer != nil {
			rest = append(rest, ev)
			continue
		}
		parts := RenderText(channel.Content{Plain: text}, Limits.Text)
		if len(parts) == 0 {
			continue
		}
		answer, _ = marshal(struct {
			Sender sender `json:"sender"`
			Type   string `json:"type"`
			Text   string `json:"text"`
		}{sender{c.senderName()}, "text", parts[0]})
	}
	return answer, rest
}

// Authenticate implements channel.Channel: X-Viber-Content-Signature must be
// the HMAC-SHA256 of the body keyed with the token, checked by the host in
// constant time.
func (c *Channel) Authenticate(req *abi.WebTriggerRequest) error {
	sig := strings.TrimSpace(abi.Get(req.Headers, SignatureHeader))
	mac, err := hex.DecodeString(sig)
	if sig == "" || err != nil || len(mac) != 32 || c.names.Token == "" {
		return fmt.Errorf("viber: callback without a valid signature: %w", channel.ErrUnauthorized)
	}
	ok, err := c.secrets.VerifyHMAC(c.names.Token, sdk.SHA256, req.Body, mac)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("viber: token secret missing: %w", channel.ErrUnauthorized)
		}
		return fmt.Errorf("viber: verify signature: %w", err)
	}
	if !ok {
		return fmt.Errorf("viber: wrong callback signature: %w", channel.ErrUnauthorized)
	}
	return nil
}

// Parse implements channel.Channel.
func (c *Channel) Parse(body []byte) ([]channel.Inbound, error) { return Parse(body) }

// Render implements channel.Channel: Jira content becomes plain text split
// into messages of at most 7000 characters whose JSON encoding fits a 30 KB
// request.
func (c *Channel) Render(content channel.Content) []string { return RenderText(content, Limits.Text) }

// RenderText turns Jira content into plain text split into parts of at
// most limit characters and a JSON size that fits a send_message request.
func RenderText(content channel.Content, limit int) []string {
	return plaintext.Render(content, limit, maxTextBytes)
}

// sendRequest is the body of send_message.
type sendRequest struct {
	Receiver     string `json:"receiver"`
	MinAPI       int    `json:"min_api_version,omitempty"`
	Type         string `json:"type"`
	Text         string `json:"text"`
	Sender       sender `json:"sender"`
	TrackingData string `json:"tracking_data,omitempty"`
}

type sender struct {
	Name string `json:"name"`
}

func (c *Channel) senderName() string {
	name := strings.TrimSpace(c.SenderName)
	if name == "" {
		name = DefaultSenderName
	}
	if utf8.RuneCountInString(name) > MaxSenderName {
		name = string([]rune(name)[:MaxSenderName])
	}
	return name
}

// SendText implements channel.Channel with send_message. A text over the
// limits, which Render never produces, is refused before it is sent.
func (c *Channel) SendText(chatID, text string) error {
	user, ok := UserID(chatID)
	if !ok {
		return fmt.Errorf("viber: bad chat id: %w", channel.ErrNotFound)
	}
	if utf8.RuneCountInString(text) > Limits.Text {
		return fmt.Errorf("viber: text of %d characters: %w", utf8.RuneCountInString(text), channel.ErrTooLarge)
	}
	body, err := marshal(sendRequest{Receiver: user, Type: "text", Text: text, Sender: sender{Name: c.senderName()}})
	if err != nil {
		return fmt.Errorf("viber: send_message: %w", err)
	}
	if len(body) > MaxRequest {
		return fmt.Errorf("viber: send_message of %d bytes: %w", len(body), channel.ErrTooLarge)
	}
	return c.client.post("send_message", body, nil)
}

// marshal encodes v as encoding/json does, HTML characters escaped.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// FileNotice is the text sent instead of an agent's file when the host
// hands out no download links (see SendFileURL): Viber takes media only by
// public URL.
const FileNotice = "Our support team shared a file ({name}) that cannot be shown in Viber. Please ask them to describe it or send it another way."

// SendFile implements channel.Channel: a notice naming the file, without a
// link (Viber sends media by URL only).
func (c *Channel) SendFile(chatID string, f channel.File) error {
	name := strings.NewReplacer("\n", " ", "\r", " ").Replace(f.Name)
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200]) + "…"
	}
	text := strings.ReplaceAll(FileNotice, "{name}", name)
	if f.Caption != "" {
		text = f.Caption + "\n" + text
	}
	for _, part := range RenderText(channel.Content{Plain: text}, Limits.Text) {
		if err := c.SendText(chatID, part); err != nil {
			return err
		}
	}
	return nil
}

var _ channel.LinkSender = (*Channel)(nil)

// Media limits of send_message by URL.
const (
	// MaxFileName bounds file_name of a file message, in characters.
	MaxFileName = 256
	// MaxPictureText bounds the description of a picture, in characters.
	MaxPictureText = 768
	// MaxVideo bounds a video message (MP4, H.264), in bytes.
	MaxVideo = 26 << 20
)

// pictureTypes are the image types Viber shows as a picture (JPEG, PNG and
// non-animated GIF); anything else goes as a file.
var pictureTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true}

// SendFileURL implements channel.LinkSender: a picture message for a JPEG,
// PNG or GIF image of at most 1 MB, a video message for an MP4 of at most
// 26 MB, a file message (media, size, file_name) for anything else up to
// 50 MB (Viber has no voice messages for bots: sound goes as a file). Viber's servers fetch the URL.
func (c *Channel) SendFileURL(chatID string, f channel.FileLink) error {
	user, ok := UserID(chatID)
	if !ok {
		return fmt.Errorf("viber: bad chat id: %w", channel.ErrNotFound)
	}
	if !strings.HasPrefix(f.URL, "https://") || strings.Contains(f.URL, "{{") {
		return fmt.Errorf("viber: media URL refused")
	}
	if f.Size > Limits.Upload {
		return fmt.Errorf("viber: file of %d bytes: %w", f.Size, channel.ErrTooLarge)
	}
	msg := map[string]any{"receiver": user, "sender": sender{Name: c.senderName()}, "media": f.URL}
	mimeType, _, _ := strings.Cut(strings.ToLower(f.MIME), ";")
	switch {
	case pictureTypes[strings.TrimSpace(mimeType)] && f.Size > 0 && f.Size <= Limits.Photo:
		msg["type"], msg["text"] = "picture", ""
	case strings.TrimSpace(mimeType) == "video/mp4" && f.Size > 0 && f.Size <= MaxVideo:
		// A video plays in the chat (issue 18, item 4).
		msg["type"], msg["size"] = "video", f.Size
	default:
		name := strings.NewReplacer("\n", " ", "\r", " ").Replace(f.Name)
		if name == "" {
			name = "file"
		}
		if utf8.RuneCountInString(name) > MaxFileName {
			name = string([]rune(name)[:MaxFileName])
		}
		msg["type"], msg["size"], msg["file_name"] = "file", max(f.Size, 1), name
	}
	body, err := marshal(msg)
	if err != nil {
		return fmt.Errorf("viber: send_message: %w", err)
	}
	if len(body) > MaxRequest {
		return fmt.Errorf("viber: send_message of %d bytes: %w", len(body), channel.ErrTooLarge)
	}
	return c.client.post("send_message", body, nil)
}

// Download implements channel.Channel: the media URL of the callback,
// fetched without credentials. Files over 20 MB give channel.ErrTooLarge.
func (c *Channel) Download(a channel.Attachment) ([]byte, error) {
	if a.Size > Limits.Download {
		return nil, fmt.Errorf("viber: file of %d bytes: %w", a.Size, channel.ErrTooLarge)
	}
	// The URL comes from the callback: only plain https, and never one that
	// could make the host substitute a secret into it.
	if !strings.HasPrefix(a.Ref, "https://") || strings.Contains(a.Ref, "{{") {
		return nil, fmt.Errorf("viber: media URL refused: %w", channel.ErrNotFound)
	}
	resp, err := c.fetch.Fetch(&abi.Request{Method: "GET", URL: a.Ref})
	if err != nil {
		return nil, transportError("media", err)
	}
	switch {
	case resp.Status == 404 || resp.Status == 410:
		return nil, fmt.Errorf("viber: media: HTTP %d: %w", resp.Status, channel.ErrNotFound)
	case resp.Status == 429 || resp.Status >= 500:
		return nil, fmt.Errorf("viber: media: HTTP %d: %w", resp.Status, channel.ErrTemporary)
	case resp.Status/100 != 2:
		return nil, fmt.Errorf("viber: media: HTTP %d", resp.Status)
	}
	if int64(len(resp.Body)) > Limits.Download {
		return nil, fmt.Errorf("viber: file of %d bytes: %w", len(resp.Body), channel.ErrTooLarge)
	}
	return resp.Body, nil
}

// accountInfo is the part of get_account_info the bridge reads.
type accountInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URI  string `json:"uri"`
}

// Validate implements channel.Channel with get_account_info.
func (c *Channel) Validate() (channel.Bot, error) {
	var info accountInfo
	if err := c.client.Call("get_account_info", struct{}{}, &info); err != nil {
		return channel.Bot{}, err
	}
	if info.ID == "" {
		return channel.Bot{}, fmt.Errorf("viber: get_account_info: no account id: %w", channel.ErrUnauthorized)
	}
	return channel.Bot{ID: info.ID, Username: firstNonEmpty(info.URI, info.Name)}, nil
}

// Register implements channel.Channel with set_webhook. Viber signs callbacks
// with the token, so secret is not used.
func (c *Channel) Register(url, _ string) error {
	return c.client.Call("set_webhook", map[string]any{
		"url":         url,
		"event_types": EventTypes,
		"send_name":   true,
		"send_photo":  false,
	}, nil)
}

// Unregister implements channel.Channel: set_webhook with an empty URL.
func (c *Channel) Unregister() error {
	return c.client.Call("set_webhook", map[string]any{"url": ""}, nil)
}
