package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/telegram"
	"github.com/chatbridge/chatbridge/plugin/channel/viber"
	"github.com/chatbridge/chatbridge/plugin/channel/web"
	"github.com/chatbridge/chatbridge/plugin/channel/whatsapp"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Queue names, as the manifest's consumers declare them.
const (
	QueueInbound  = "inbound"
	QueueOutbound = "outbound"
)

// Bridge is the conversation logic. The zero value is ready to use with the
// real clock; tests replace the fields.
type Bridge struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep paces messages to one chat; nil means time.Sleep.
	Sleep func(time.Duration)
	// Channels maps a channel name to its constructor; nil means the
	// built-in channels (Telegram, Viber, WhatsApp).
	Channels map[string]Kind
	// SweepBatch bounds the retention sweep per project and run; 0 means
	// the package's SweepBatch.
	SweepBatch int
}

// Kind describes a channel implementation the bridge can configure.
type Kind struct {
	// New builds the channel of one project from its secrets' names.
	New func(env *sdk.Env, s channel.Secrets) channel.Channel
	// TokenProblem explains why a token is malformed, or returns "".
	TokenProblem func(token string) string
	// Trigger is the web trigger key that receives its webhooks.
	Trigger string
	// Short is a short name used in dedupe keys ("tg").
	Short string
	// StoreToken stores a token under name, and any secrets derived from it
	// under name plus each suffix of Derived; nil stores it as it is.
	StoreToken func(s sdk.Secrets, name, token string) error
	// Derived lists the suffixes of secrets StoreToken derives from a token.
	Derived []string
	// Handshake answers the messenger's check of the webhook URL, which may
	// arrive before the configuration is saved (during Register) or at any
	// time after (a re-verification), or returns nil. webhook names the
	// saved configuration's webhook secret, "" when none is saved.
	Handshake func(env *sdk.Env, req *abi.WebTriggerRequest, webhook string) *abi.Response
	// NoToken marks a channel without a bot token (the website widget).
	NoToken bool
	// Origins marks a channel that serves pages of the configuration's
	// AllowedOrigins only, with CORS (the website widget, web.go).
	Origins bool
}

// builtin are the channels this build supports.
var builtin = map[string]Kind{
	telegram.Name: {
		New:          func(env *sdk.Env, s channel.Secrets) channel.Channel { return telegram.New(env, s) },
		TokenProblem: telegram.TokenProblem,
		Trigger:      "telegram-webhook",
		Short:        "tg",
	},
	viber.Name: {
		New:          func(env *sdk.Env, s channel.Secrets) channel.Channel { return viber.New(env, s) },
		TokenProblem: viber.TokenProblem,
		Trigger:      "viber-webhook",
		Short:        "vb",
		Handshake:    func(_ *sdk.Env, req *abi.WebTriggerRequest, _ string) *abi.Response { return viber.Handshake(req) },
	},
	web.Name: {
		New:          func(env *sdk.Env, s channel.Secrets) channel.Channel { return web.New(env, s) },
		TokenProblem: func(string) string { return "The website widget takes no token." },
		Trigger:      "web-widget",
		Short:        "wb",
		NoToken:      true,
		Origins:      true,
	},
	whatsapp.Name: {
		New:          func(env *sdk.Env, s channel.Secrets) channel.Channel { return whatsapp.New(env, s) },
		TokenProblem: whatsapp.TokenProblem,
		Trigger:      "whatsapp-webhook",
		Short:        "wa",
		StoreToken:   whatsapp.StoreToken,
		Derived:      whatsapp.Derived,
		Handshake:    whatsapp.Handshake,
	},
}

// secretNames lists the secrets of a configuration: the token, those derived
// from it, and the webhook secret.
func (k Kind) secretNames(token, webhook string) []string {
	var names []string
	if token != "" {
		names = append(names, token)
		for _, suffix := range k.Derived {
			names = append(names, token+suffix)
		}
	}
	if webhook != "" {
		names = append(names, webhook)
	}
	return names
}

// Handlers returns the plugin's entry points on a default Bridge.
func Handlers() sdk.Handlers { return (&Bridge{}).Handlers() }

// Handlers returns the plugin's entry points.
func (b *Bridge) Handlers() sdk.Handlers {
	return sdk.Handlers{
		WebTrigger: b.WebTrigger,
		Event:      b.Event,
		Queue:      b.Queue,
		Resolver:   b.Resolver,
		Scheduled:  b.Scheduled,
	}
}

func (b *Bridge) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bridge) sleep(d time.Duration) {
	if b.Sleep != nil {
		b.Sleep(d)
		return
	}
	time.Sleep(d)
}

func (b *Bridge) kinds() map[string]Kind {
	if b.Channels != nil {
		return b.Channels
	}
	return builtin
}

// kindByTrigger finds the channel a web trigger serves.
func (b *Bridge) kindByTrigger(trigger string) (string, Kind, bool) {
	for name, k := range b.kinds() {
		if k.Trigger == trigger {
			return name, k, true
		}
	}
	return "", Kind{}, false
}

// Queue dispatches a queue delivery to its consumer.
func (b *Bridge) Queue(env *sdk.Env, m *abi.QueueMessage) (abi.QueueResult, error) {
	switch m.Queue {
	case QueueInbound:
		return b.consumeInbound(env, m)
	case QueueOutbound:
		return b.consumeOutbound(env, m)
	}
	env.Log.Warn("message for an unknown queue", "queue", m.Queue)
	return abi.QueueResult{}, nil
}

// newNonce returns a random id that tells deliveries of the same work apart.
func newNonce() string {
	var buf [8]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

// lastAttempt reports whether m is the host's last attempt before the
// message becomes a dead letter. There a temporary failure is told to the
// customer or the agents, instead of the message waiting silently for an
// operator's replay.
func lastAttempt(m *abi.QueueMessage) bool { return m.MaxAttempts > 0 && m.Attempt >= m.MaxAttempts }

// retryAfter decides whether err deserves another attempt and when: Jira's
// Retry-After, Telegram's retry_after, or a back-off growing with the
// attempt for 5xx and host unavailability. ok is false for permanent errors.
func retryAfter(err error, attempt uint32) (abi.QueueResult, bool) {
	if err == nil {
		return abi.QueueResult{}, false
	}
	var je *jira.StatusError
	if errors.As(err, &je) && je.Temporary() {
		if d := je.RetryAfter(); d > 0 {
			return abi.QueueResult{RetryAfterSeconds: seconds(d)}, true
		}
		return abi.QueueResult{RetryAfterSeconds: backoff(attempt)}, true
	}
	if errors.Is(err, channel.ErrTemporary) {
		if d, ok := channel.RetryAfter(err); ok {
			return abi.QueueResult{RetryAfterSeconds: seconds(d)}, true
		}
		return abi.QueueResult{RetryAfterSeconds: backoff(attempt)}, true
	}
	if errors.Is(err, jira.ErrTemporary) || errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrTimeout) {
		return abi.QueueResult{RetryAfterSeconds: backoff(attempt)}, true
	}
	return abi.QueueResult{}, false
}

func seconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	switch {
	case s < 1:
		return 1
	case s > 900: // Forge's longest queue delay
		return 900
	}
	return uint32(s)
}

// backoff is 5 s doubling with each attempt, at most 5 minutes.
func backoff(attempt uint32) uint32 {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 7 {
		return 300
	}
	return min(uint32(5)<<(attempt-1), 300)
}

// logger tags env.Log with ids; never a chat id, a token or message text.
func logger(env *sdk.Env, attrs ...any) *slog.Logger { return env.Log.With(attrs...) }
