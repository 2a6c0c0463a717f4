package ratelimit

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The rule table; doc.go says why each value.
var (
	// TelegramBot paces one bot: 20/s sustained, bursts of 5, so that no
	// second holds more than 25 of Telegram's "about 30".
	TelegramBot = Rule{Every: 50 * time.Millisecond, Burst: 5}
	// TelegramChat paces one private chat: one message per 1.1 s.
	TelegramChat = Rule{Every: 1100 * time.Millisecond, Burst: 1}
	// TelegramGroup paces one group, supergroup or channel: 20 a minute.
	TelegramGroup = Rule{Every: 3 * time.Second, Burst: 1}
	// ViberBot paces one Viber bot (token): 10/s, bursts of 10.
	ViberBot = Rule{Every: 100 * time.Millisecond, Burst: 10}
	// WhatsAppNumber paces one WhatsApp business phone number: 20/s,
	// bursts of 10.
	WhatsAppNumber = Rule{Every: 50 * time.Millisecond, Burst: 10}
)

// Host names with their own rules.
const (
	hostTelegram = "api.telegram.org"
	hostViber    = "chatapi.viber.com"
	hostWhatsApp = "graph.facebook.com"
)

// kind says how a destination's answers and refusals are spelled.
type kind uint8

const (
	kindOther kind = iota
	kindTelegram
)

// Destination is what one outbound request counts against. Its first key
// (the bot, phone number or site) is the one blocks learned from answers
// apply to.
type Destination struct {
	kind kind
	keys []Key
}

// For finds what a request of installation to u, with header and body,
// counts against. It reads the Telegram bot token from the path, the
// chat_id from the body (JSON, form or multipart) or the query, the Viber
// token from X-Viber-Auth-Token and the WhatsApp phone number id from the
// path, and keeps only their hashes. Any other host, Jira sites included,
// gets one unpaced key per installation and host.
func For(installation string, u *url.URL, header http.Header, body []byte) Destination {
	host := strings.ToLower(u.Hostname())
	switch host {
	case hostTelegram:
		bot, method, ok := telegramPath(u.EscapedPath())
		if !ok {
			break // file downloads and anything else: the host's default
		}
		d := Destination{kind: kindTelegram, keys: []Key{NewKey(TelegramBot, installation, host, bot)}}
		if strings.EqualFold(method, "sendChatAction") {
			return d // "typing" is not a message
		}
		if chat := telegramChat(u, header.Get("Content-Type"), body); chat != "" {
			rule := TelegramChat
			if strings.HasPrefix(chat, "-") || strings.HasPrefix(chat, "@") {
				rule = TelegramGroup
			}
			d.keys = append(d.keys, NewKey(rule, installation, host, bot, "chat", chat))
		}
		return d
	case hostViber:
		if token := header.Get("X-Viber-Auth-Token"); token != "" {
			return Destination{keys: []Key{NewKey(ViberBot, installation, host, token)}}
		}
	case hostWhatsApp:
		// /<version>/<phone-number-id>/messages
		parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
		if len(parts) == 3 && parts[2] == "messages" {
			return Destination{keys: []Key{NewKey(WhatsAppNumber, installation, host, parts[1])}}
		}
	}
	return Destination{keys: []Key{NewKey(Rule{}, installation, host)}}
}

// telegramPath splits /bot<token>/<method>.
func telegramPath(p string) (bot, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	token, method, ok := strings.Cut(rest, "/")
	if !ok || token == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return token, method, true
}

// maxParts bounds the multipart fields read looking for chat_id; the
// bridge writes it first.
const maxParts = 8

// telegramChat returns the request's chat_id as sent, "" when it has none.
func telegramChat(u *url.URL, contentType string, body []byte) string {
	if v := u.Query().Get("chat_id"); v != "" {
		return v
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "application/json", "":
		var v struct {
			ChatID json.RawMessage `json:"chat_id"`
		}
		if json.Unmarshal(body, &v) != nil || len(v.ChatID) == 0 {
			return ""
		}
		if s, err := strconv.Unquote(string(v.ChatID)); err == nil {
			return s // "123" and 123 are one chat
		}
		return string(v.ChatID)
	case "application/x-www-form-urlencoded":
		q, _ := url.ParseQuery(string(body))
		return q.Get("chat_id")
	case "multipart/form-data":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for range maxParts {
			p, err := r.NextPart()
			if err != nil {
				return ""
			}
			if p.FormName() == "chat_id" && p.FileName() == "" {
				v, _ := io.ReadAll(io.LimitReader(p, 256))
				return strings.TrimSpace(string(v))
			}
		}
	}
	return ""
}

// Observe learns from an answer to a request counted against d: a 429 or
// 503 with Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (an
// RFC 3339 time), or Telegram's parameters.retry_after, blocks d's first
// key until then, so that no other request to that bot or site goes out
// before it.
func (l *Limiter) Observe(d Destination, status int, header http.Header, body []byte) {
	if l == nil || len(d.keys) == 0 {
		return
	}
	now := l.now()
	var wait time.Duration
	if d.kind == kindTelegram {
		wait = telegramRetryAfter(status, body)
	}
	if wait == 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		wait = headerRetryAfter(header, now)
	}
	if wait > 0 {
		l.block(d.keys[0], now.Add(wait))
	}
}

// telegramRetryAfter reads a Bot API refusal's parameters.retry_after; a
// 429 without one counts as 1 s, as the bridge reads it.
func telegramRetryAfter(status int, body []byte) time.Duration {
	var r struct {
		OK         bool `json:"ok"`
		ErrorCode  int  `json:"error_code"`
		Parameters *struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &r) != nil || r.OK {
		if status == http.StatusTooManyRequests {
			return time.Second
		}
		return 0
	}
	if r.Parameters != nil && r.Parameters.RetryAfter > 0 {
		return time.Duration(r.Parameters.RetryAfter) * time.Second
	}
	if status == http.StatusTooManyRequests || r.ErrorCode == http.StatusTooManyRequests {
		return time.Second
	}
	return 0
}

// headerRetryAfter reads Retry-After, then X-RateLimit-Reset.
func headerRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	return 0
}

// TooManyRequests is the answer to give in place of a request the limiter
// refused, one the caller already reads as "retry after seconds": for
// Telegram a Bot API 429 with parameters.retry_after, for anything else a
// 429 with Retry-After.
func (d Destination) TooManyRequests(seconds int) (status int, header http.Header, body []byte) {
	n := strconv.Itoa(seconds)
	header = http.Header{"Retry-After": {n}, "Content-Type": {"application/json"}}
	if d.kind == kindTelegram {
		body = []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after ` + n +
			`","parameters":{"retry_after":` + n + `}}`)
	} else {
		body = []byte(`{"errorMessages":["Too Many Requests: retry after ` + n + ` seconds"]}`)
	}
	return http.StatusTooManyRequests, header, body
}
