package telegram

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Name is the channel's name in configuration and storage keys.
const Name = "telegram"

// SecretHeader carries the webhook's secret_token on every delivery.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// AllowedUpdates are the update types the bridge asks for.
var AllowedUpdates = []string{"message", "edited_message", "my_chat_member", "callback_query", "message_reaction"}

// Limits are the Bot API's: 4096 characters of text, 1024 of a caption,
// 20 MB downloads, 50 MB uploads, 10 MB photos.
var Limits = channel.Limits{
	Text:     4096,
	Caption:  1024,
	Download: 20 << 20,
	Upload:   50 << 20,
	Photo:    10 << 20,
}

var tokenPattern = regexp.MustCompile(`^[0-9]{3,20}:[A-Za-z0-9_-]{30,100}$`)

// TokenProblem explains why token cannot be a bot token, or returns "".
func TokenProblem(token string) string {
	if token == "" {
		return "A bot token is required."
	}
	if !tokenPattern.MatchString(token) {
		return "This is not a Telegram bot token (it looks like 123456789:AA...)."
	}
	return ""
}

// Channel is one Telegram bot. Create it with New.
type Channel struct {
	client  Client
	secrets sdk.Secrets
	names   channel.Secrets
	// thread is the topic sends go to (InTopic), 0 for none.
	thread int64
}

var _ channel.Channel = (*Channel)(nil)

// New returns the channel for the bot whose token and webhook secret are
// stored under the names in s.
func New(env *sdk.Env, s channel.Secrets) *Channel {
	return &Channel{client: Client{Fetch: env.Fetch, TokenSecret: s.Token}, secrets: env.Secrets, names: s}
}

// Name implements channel.Channel.
func (c *Channel) Name() string { return Name }

// Limits implements channel.Channel.
func (c *Channel) Limits() channel.Limits { return Limits }

// Authenticate implements channel.Channel: the secret_token header must
// equal the stored webhook secret, compared in constant time by the host.
func (c *Channel) Authenticate(req *abi.WebTriggerRequest) error {
	got := abi.Get(req.Headers, SecretHeader)
	if got == "" || c.names.Webhook == "" {
		return fmt.Errorf("telegram: webhook without secret token: %w", channel.ErrUnauthorized)
	}
	ok, err := c.secrets.Compare(c.names.Webhook, []byte(got))
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("telegram: webhook secret missing: %w", channel.ErrUnauthorized)
		}
		return fmt.Errorf("telegram: compare webhook secret: %w", err)
	}
	if !ok {
		return fmt.Errorf("telegram: wrong webhook secret token: %w", channel.ErrUnauthorized)
	}
	return nil
}

// Parse implements channel.Channel.
func (c *Channel) Parse(body []byte) ([]channel.Inbound, error) { return ParseUpdate(body) }

// Render implements channel.Channel: Jira content becomes Telegram HTML
// split into messages of at most 4096 characters.
func (c *Channel) Render(content channel.Content) []string {
	return renderHTML(content, Limits.Text)
}

// SendText implements channel.Channel. A message Telegram cannot parse is
// sent again as plain text rather than lost.
func (c *Channel) SendText(chatID, text string) error {
	id, err := chatIDParam(chatID)
	if err != nil {
		return err
	}
	params := map[string]any{
		"chat_id":              id,
		"text":                 text,
		"parse_mode":           "HTML",
		"link_preview_options": map[string]bool{"is_disabled": true},
	}
	err = c.send("sendMessage", params) // topics.go
	if errors.Is(err, ErrMarkup) {
		delete(params, "parse_mode")
		params["text"] = plainOf(text)
		err = c.send("sendMessage", params)
	}
	return err
}

// plainOf is what an HTML message shows, as plain text.
func plainOf(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		s = s[i+j+1:]
	}
	return html.UnescapeString(b.String())
}

// SendFile implements channel.Channel: images up to 10 MB go as photos,
// OGG/Opus, MP3 and M4A sound as a voice message, MPEG-4 as a video,
// anything else up to 50 MB as a document.
func (c *Channel) SendFile(chatID string, f channel.File) error {
	id, err := chatIDParam(chatID)
	if err != nil {
		return err
	}
	size := int64(len(f.Data))
	if size > Limits.Upload {
		return fmt.Errorf("telegram: send file of %d bytes: %w", size, channel.ErrTooLarge)
	}
	method, field := "sendDocument", "document"
	switch {
	case isPhoto(f.MIME) && size <= Limits.Photo:
		method, field = "sendPhoto", "photo"
	case isVoice(f.MIME): // media.go
		method, field = "sendVoice", "voice"
	case channel.BaseMIME(f.MIME) == "video/mp4":
		method, field = "sendVideo", "video"
	}
	fields := [][2]string{{"chat_id", strconv.FormatInt(id, 10)}}
	if f.Caption != "" {
		fields = append(fields, [2]string{"caption", captionHTML(f.Caption)}, [2]string{"parse_mode", "HTML"})
	}
	err = c.sendFile(method, fields, Upload{Field: field, Name: f.Name, MIME: f.MIME, Data: f.Data}) // topics.go
	if method != "sendDocument" && err != nil && !errors.Is(err, channel.ErrTemporary) && !errors.Is(err, channel.ErrBlocked) {
		// Telegram refuses some images as photos (dimensions, format),
		// and voice messages to users who forbid them
		// (VOICE_MESSAGES_FORBIDDEN) or in a format it cannot play: a
		// document always works.
		err = c.sendFile("sendDocument", fields, Upload{Field: "document", Name: f.Name, MIME: f.MIME, Data: f.Data})
	}
	return err
}

func isPhoto(mime string) bool {
	switch strings.ToLower(mime) {
	case "image/jpeg", "image/png", "image/webp", "image/gif":
		return true
	}
	return false
}

// captionHTML escapes a plain caption and keeps it within 1024 characters.
func captionHTML(caption string) string {
	parts := renderHTML(channel.Content{Plain: caption}, Limits.Caption-1)
	if len(parts) == 0 {
		return ""
	}
	if len(parts) > 1 {
		return parts[0] + "…"
	}
	return parts[0]
}

func chatIDParam(chatID string) (int64, error) {
	id, err := strconv.ParseInt(chatID, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("telegram: bad chat id: %w", channel.ErrNotFound)
	}
	return id, nil
}

// Download implements channel.Channel: getFile, then the file itself, both
// with the token by reference. Files over 20 MB give channel.ErrTooLarge.
func (c *Channel) Download(a channel.Attachment) ([]byte, error) {
	if a.Size > Limits.Download {
		return nil, fmt.Errorf("telegram: file of %d bytes: %w", a.Size, channel.ErrTooLarge)
	}
	f, err := c.client.GetFile(a.Ref)
	if err != nil {
		return nil, err
	}
	if f.FileSize > Limits.Download {
		return nil, fmt.Errorf("telegram: file of %d bytes: %w", f.FileSize, channel.ErrTooLarge)
	}
	if f.FilePath == "" {
		return nil, fmt.Errorf("telegram: getFile gave no path: %w", channel.ErrTooLarge)
	}
	return c.client.DownloadFile(f.FilePath)
}

// Validate implements channel.Channel with getMe.
func (c *Channel) Validate() (channel.Bot, error) {
	var me User
	if err := c.client.Call("getMe", struct{}{}, &me); err != nil {
		return channel.Bot{}, err
	}
	if !me.IsBot {
		return channel.Bot{}, fmt.Errorf("telegram: getMe: the token is not a bot's: %w", channel.ErrUnauthorized)
	}
	return channel.Bot{ID: strconv.FormatInt(me.ID, 10), Username: me.Username, Topics: me.HasTopicsEnabled}, nil
}

// Register implements channel.Channel with setWebhook: the bridge's URL, the
// secret Telegram presents, and only the update types the bridge reads.
func (c *Channel) Register(url, secret string) error {
	return c.client.Call("setWebhook", map[string]any{
		"url":             url,
		"secret_token":    secret,
		"allowed_updates": AllowedUpdates,
		"max_connections": 40,
	}, nil)
}

// Unregister implements channel.Channel with deleteWebhook.
func (c *Channel) Unregister() error {
	return c.client.Call("deleteWebhook", map[string]any{"drop_pending_updates": true}, nil)
}
