package channel

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// Channel is one messenger bot serving one Jira project.
type Channel interface {
	// Name is the channel's short name ("telegram"), used in storage keys
	// and configuration.
	Name() string
	// Limits are the messenger's size limits.
	Limits() Limits

	// Authenticate checks that a webhook delivery came from the messenger;
	// it returns an error matching ErrUnauthorized when it did not.
	Authenticate(req *abi.WebTriggerRequest) error
	// Parse turns an authenticated webhook body into events. Deliveries
	// the bridge has no use for give no events and no error.
	Parse(body []byte) ([]Inbound, error)

	// Render turns Jira content into messages in the channel's format, in
	// order, each within Limits().Text.
	Render(c Content) []string
	// SendText sends one message produced by Render.
	SendText(chatID, text string) error
	// SendFile sends a document or photo.
	SendFile(chatID string, f File) error
	// Download fetches an inbound attachment's content.
	Download(a Attachment) ([]byte, error)

	// Validate checks the token with the messenger and names the bot.
	Validate() (Bot, error)
	// Register points the messenger's webhook at url; the messenger will
	// present secret (already stored under Secrets.Webhook) on every delivery.
	Register(url, secret string) error
	// Unregister removes the webhook.
	Unregister() error
}

// Greeter is implemented by channels whose messenger takes a welcome message
// in the webhook's answer (Viber's conversation_started). Greet returns that
// answer's body for events, or nil, and the events still to be queued.
type Greeter interface {
	Greet(events []Inbound, text string) (answer []byte, rest []Inbound)
}

// LinkSender is implemented by channels whose messenger takes files by URL
// only (Viber): the bridge hands them a single-use download link to the
// Jira attachment (jira.attachment-link) instead of the file's bytes.
type LinkSender interface {
	SendFileURL(chatID string, f FileLink) error
}

// FileLink is an outbound file sent by URL.
type FileLink struct {
	// URL streams the file once, for a short while; it is a credential:
	// never log it.
	URL  string
	Name string
	MIME string
	Size int64 // bytes, as Jira reports them
}

// Receipted is implemented by channels whose messenger accepts a message at
// once and reports later, in a webhook, whether it reached the customer
// (WhatsApp's statuses). SendTextID and SendFileID are SendText and SendFile
// that also return the messenger's id of the message sent; a later
// [Undelivered] event names that id in its MessageID.
type Receipted interface {
	SendTextID(chatID, text string) (id string, err error)
	SendFileID(chatID string, f File) (id string, err error)
}

// Windowed is implemented by channels whose messenger accepts free-form
// replies only for a while after the customer's last message (WhatsApp's
// 24 hours); the bridge does not try a reply outside it.
type Windowed interface {
	ReplyWindow() time.Duration
}

// Topics is implemented by channels whose messenger keeps topics in a
// private chat with the bot (Telegram's forum topic mode, Bot API 9.3):
// the bridge gives each request its own topic where the bot has them
// (Bot.Topics). CreateTopic makes one named name in chatID and returns its
// thread id; InTopic is the channel sending into thread ("" for the chat's
// general thread), every other method unchanged.
type Topics interface {
	CreateTopic(chatID, name string) (thread string, err error)
	InTopic(thread string) Channel
}

// Secrets names the host secrets a channel uses by reference.
type Secrets struct {
	Token   string // the bot token
	Webhook string // the shared secret the messenger presents on webhooks
}

// Limits are a messenger's size limits; a zero field means no limit.
type Limits struct {
	Text     int   // characters of one text message
	Caption  int   // characters of a file caption
	Download int64 // bytes the bot may download from the messenger
	Upload   int64 // bytes of a file the bot may send
	Photo    int64 // bytes of a photo the bot may send as a photo
}

// Bot describes a validated bot.
type Bot struct {
	ID       string
	Username string
	// Topics: the bot has topics in private chats (Telegram's getMe
	// has_topics_enabled), so the channel's Topics may be used.
	Topics bool
}

// Kind is what an inbound event means.
type Kind string

// Inbound event kinds.
const (
	// Message is a customer message: text, a command, an attachment or an edit.
	Message Kind = "message"
	// Blocked means the customer blocked the bot or unsubscribed.
	Blocked Kind = "blocked"
	// Unblocked means the customer allowed the bot again.
	Unblocked Kind = "unblocked"
	// Undelivered means the messenger reported, after accepting it, that a
	// message the bot sent (MessageID) did not reach the customer; Failure
	// says why.
	Undelivered Kind = "undelivered"
	// Reaction is a customer's reaction to a message (MessageID):
	// Inbound.Reaction holds the emoji, or "" when the customer took
	// their reaction back.
	Reaction Kind = "reaction"
	// Deleted means the customer deleted a message (MessageID) for
	// everyone, where the messenger tells the bot (WhatsApp's revoke).
	Deleted Kind = "deleted"
)

// Commands the bridge understands, lower case without the slash.
const (
	CommandStart  = "start"
	CommandHelp   = "help"
	CommandNew    = "new"
	CommandStatus = "status"
	// CommandForget asks the bridge to forget the chat (the customer's
	// request to be forgotten). Channels without bot commands send it as
	// the text "/forget", which the bridge recognises itself.
	CommandForget = "forget"
)

// Inbound is one event from a messenger, already in the bridge's terms.
// It travels in queue payloads (which expire once delivered) and is never
// stored.
type Inbound struct {
	// ID identifies the event for deduplication, unique per bot.
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	ChatID string `json:"chat"`
	// Group is set for group chats, where several people share one request.
	Group     bool   `json:"group,omitempty"`
	MessageID string `json:"msg,omitempty"`
	// Sender is the sender's display name.
	Sender string `json:"sender,omitempty"`
	// Lang is the sender's language as the messenger reports it (an IETF
	// tag such as "de" or "pt-br": Telegram's from.language_code, Viber's
	// language), or "" where the messenger tells none (WhatsApp).
	Lang string `json:"lang,omitempty"`
	// Wiki is the message text (or caption) in Jira wiki markup.
	Wiki string `json:"wiki,omitempty"`
	// Plain is the same text without markup, for summaries.
	Plain string `json:"plain,omitempty"`
	// Command is a recognised command (CommandStart, ...), else "".
	Command string `json:"cmd,omitempty"`
	// Edited marks a correction of an earlier message.
	Edited bool `json:"edited,omitempty"`
	// ReplyTo is the text of the message this one answers, in wiki markup.
	ReplyTo string `json:"replyTo,omitempty"`
	// MediaGroup groups the messages of one album.
	MediaGroup  string       `json:"album,omitempty"`
	Attachments []Attachment `json:"att,omitempty"`
	// Unreadable marks a message the messenger delivered without its
	// content (a type its API does not support): the customer is told so.
	Unreadable bool `json:"unreadable,omitempty"`
	// Failure is set on Undelivered events.
	Failure *Failure `json:"failure,omitempty"`
	// Choice is the data of the button a Chosen event pressed; Callback
	// is the press's id where the messenger wants it answered (choice.go).
	Choice   string `json:"choice,omitempty"`
	Callback string `json:"cb,omitempty"`
	// Reaction is the emoji of a Reaction event ("" when taken back).
	Reaction string `json:"reaction,omitempty"`
	// Thread is the topic of a private chat the event came from (Topics),
	// "" for the chat's general thread and on channels without topics.
	Thread string `json:"thread,omitempty"`
}

// Failure is why a message was not delivered: the messenger's error code and
// its meaning in words, never message text.
type Failure struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// AttachmentKind names a kind of inbound file; admins choose which they accept.
type AttachmentKind string

// Attachment kinds.
const (
	Photo    AttachmentKind = "photo"
	Document AttachmentKind = "document"
	Voice    AttachmentKind = "voice"
	Video    AttachmentKind = "video"
	Sticker  AttachmentKind = "sticker"
)

// AttachmentKinds lists every kind, in the order a settings UI shows them.
var AttachmentKinds = []AttachmentKind{Photo, Document, Voice, Video, Sticker}

// Attachment refers to an inbound file kept by the messenger.
type Attachment struct {
	Kind AttachmentKind `json:"kind"`
	Ref  string         `json:"ref"`            // the messenger's file reference
	Name string         `json:"name,omitempty"` // a file name, made up when the messenger sends none
	MIME string         `json:"mime,omitempty"`
	Size int64          `json:"size,omitempty"` // bytes; 0 when unknown
}

// Content is Jira text to be rendered for a channel: exactly one field is set.
type Content struct {
	Wiki  string          `json:"wiki,omitempty"` // Jira wiki markup
	ADF   json.RawMessage `json:"adf,omitempty"`  // Atlassian Document Format
	Plain string          `json:"text,omitempty"` // plain text such as a bot message
}

// File is an outbound file.
type File struct {
	Name string
	MIME string
	Data []byte
	// Caption is plain text; channels escape and shorten it.
	Caption string
}

// Errors a channel reports; channel errors match them with errors.Is.
var (
	// ErrUnauthorized: the token was rejected, or a webhook was not authentic.
	ErrUnauthorized = errors.New("channel: unauthorized")
	// ErrBlocked: the customer blocked the bot; do not retry.
	ErrBlocked = errors.New("channel: blocked by the user")
	// ErrTooLarge: a file is over the messenger's limit.
	ErrTooLarge = errors.New("channel: file too large")
	// ErrTemporary: try again later (flood control, 5xx, network).
	ErrTemporary = errors.New("channel: temporary failure")
	// ErrNotFound: the chat or file no longer exists.
	ErrNotFound = errors.New("channel: not found")
)

// Waiter is implemented by errors that say how long to wait before retrying.
type Waiter interface{ RetryAfter() time.Duration }

// RetryAfter returns how long err asks the caller to wait, if it says.
func RetryAfter(err error) (time.Duration, bool) {
	var w Waiter
	if errors.As(err, &w) {
		if d := w.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// Migrator is implemented by errors reporting that a chat moved to a new id
// (a Telegram group upgraded to a supergroup).
type Migrator interface{ MigratedTo() string }

// MigratedTo returns the chat's new id when err reports a migration.
func MigratedTo(err error) (string, bool) {
	var m Migrator
	if errors.As(err, &m) {
		if id := m.MigratedTo(); id != "" {
			return id, true
		}
	}
	return "", false
}
