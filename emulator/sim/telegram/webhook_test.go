package telegram

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestSetWebhook(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name   string
		params map[string]any
		status int
		desc   string
	}{
		{"plain http", map[string]any{"url": "http://example.com/tg"}, 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
		{"a port Telegram does not use", map[string]any{"url": "https://example.com:8080/tg"}, 400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"},
		{"a secret with a space", map[string]any{"url": "https://example.com/tg", "secret_token": "a b"}, 400, "Bad Request: secret token contains unallowed characters"},
		{"a secret of 257 characters", map[string]any{"url": "https://example.com/tg", "secret_token": strings.Repeat("a", 257)}, 400, "Bad Request: secret token is too long"},
		{"max_connections 0", map[string]any{"url": "https://example.com/tg", "max_connections": 0}, 400, "Bad Request: bad webhook: max_connections must be between 1 and 100"},
		{"max_connections 101", map[string]any{"url": "https://example.com/tg", "max_connections": 101}, 400, "Bad Request: bad webhook: max_connections must be between 1 and 100"},
		{"port 8443 and a 256-character secret", map[string]any{"url": "https://example.com:8443/tg", "secret_token": strings.Repeat("A-_9", 64)}, 200, "Webhook was set"},
		{"everything", map[string]any{"url": "https://example.com/tg", "secret_token": "s3cr3t", "max_connections": 5,
			"allowed_updates": []string{"message", "edited_message", "my_chat_member", "no_such_type"}}, 200, "Webhook was set"},
		{"the same again", map[string]any{"url": "https://example.com/tg", "secret_token": "s3cr3t", "max_connections": 5}, 200, "Webhook is already set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "setWebhook", tt.params)
			if r.Status != tt.status || r.Description != tt.desc {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Description, tt.status, tt.desc)
			}
		})
	}
	t.Run("getWebhookInfo reports the registration", func(t *testing.T) {
		var info WebhookInfo
		e.call(t, "getWebhookInfo", nil).into(t, &info)
		if info.URL != "https://example.com/tg" || info.MaxConnections != 5 || strings.Join(info.AllowedUpdates, ",") != "message,edited_message,my_chat_member" {
			t.Errorf("info %+v", info)
		}
		code, out := e.control(t, http.MethodGet, "/_sim/telegram/webhook", nil)
		var st struct {
			URL         string `json:"url"`
			SecretToken string `json:"secret_token"`
		}
		json.Unmarshal(out, &st)
		if code != 200 || st.URL != "https://example.com/tg" || st.SecretToken != "s3cr3t" {
			t.Errorf("control webhook: %d %s", code, out)
		}
	})
	t.Run("deleteWebhook removes it once", func(t *testing.T) {
		if r := e.call(t, "deleteWebhook", nil); r.Description != "Webhook was deleted" {
			t.Errorf("first delete: %s", r.Raw)
		}
		if r := e.call(t, "deleteWebhook", nil); r.Description != "Webhook is already deleted" {
			t.Errorf("second delete: %s", r.Raw)
		}
		var info WebhookInfo
		e.call(t, "getWebhookInfo", nil).into(t, &info)
		if info.URL != "" || info.MaxConnections != 0 {
			t.Errorf("info %+v", info)
		}
	})
	t.Run("any port, when configured", func(t *testing.T) {
		e := newEnv(t, Config{AnyWebhookPort: true})
		if r := e.call(t, "setWebhook", map[string]any{"url": "https://127.0.0.1:1234/x"}); !r.OK {
			t.Errorf("%s", r.Raw)
		}
	})
}

func TestWebhook_DeliversRealUpdatesWithTheSecret(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "the-secret_1")
	res := e.userSays(t, map[string]any{"chat_id": 77, "text": "/start ref42", "first_name": "Bo", "username": "bo"})
	if res.Status != 200 || res.Pending || res.UpdateID == 0 || res.MessageID != 1 {
		t.Fatalf("control answer %+v", res)
	}
	d := e.hook.next(t)
	if d.secret != "the-secret_1" || d.contentType != "application/json" {
		t.Errorf("headers: secret %q, content type %q", d.secret, d.contentType)
	}
	m := d.update.Message
	if d.update.UpdateID != res.UpdateID || m == nil || m.Text != "/start ref42" || m.From.IsBot || m.From.FirstName != "Bo" ||
		m.From.ID != 77 || m.Chat.ID != 77 || m.Chat.Type != "private" || m.Date == 0 {
		t.Fatalf("update %s", d.body)
	}
	if len(m.Entities) != 1 || m.Entities[0] != (MessageEntity{Type: "bot_command", Offset: 0, Length: 6}) {
		t.Errorf("entities %+v", m.Entities)
	}

	t.Run("a photo comes in sizes the bot can fetch", func(t *testing.T) {
		e.userSays(t, map[string]any{"chat_id": 77, "text": "pic", "photo": true, "media_group_id": "album1"})
		d := e.hook.next(t)
		m := d.update.Message
		if len(m.Photo) < 2 || m.Caption != "pic" || m.MediaGroupID != "album1" || m.Text != "" {
			t.Fatalf("update %s", d.body)
		}
		if m.Photo[0].Width >= m.Photo[len(m.Photo)-1].Width {
			t.Errorf("sizes not largest last: %+v", m.Photo)
		}
		for _, p := range m.Photo {
			if got := e.download(t, p.FileID); int64(len(got)) != p.FileSize {
				t.Errorf("size %dx%d: %d bytes, said %d", p.Width, p.Height, len(got), p.FileSize)
			}
		}
	})
	t.Run("a document has a name, type and size and its bytes", func(t *testing.T) {
		e.userSays(t, map[string]any{"chat_id": 77, "document": map[string]any{"file_name": "report.pdf", "size": 12345}})
		d := e.hook.next(t)
		doc := d.update.Message.Document
		if doc == nil || doc.FileName != "report.pdf" || doc.MimeType != "application/pdf" || doc.FileSize != 12345 || doc.FileUniqueID == "" {
			t.Fatalf("update %s", d.body)
		}
		if got := e.download(t, doc.FileID); len(got) != 12345 {
			t.Errorf("downloaded %d bytes", len(got))
		}
	})
	t.Run("a reply carries the message replied to", func(t *testing.T) {
		var bot Message
		e.call(t, "sendMessage", map[string]any{"chat_id": 77, "text": "How can I help?"}).into(t, &bot)
		e.userSays(t, map[string]any{"chat_id": 77, "text": "this", "reply_to_message_id": bot.MessageID})
		d := e.hook.next(t)
		rt := d.update.Message.ReplyToMessage
		if rt == nil || rt.MessageID != bot.MessageID || !rt.From.IsBot || rt.Text != "How can I help?" {
			t.Errorf("update %s", d.body)
		}
	})
	t.Run("an edit is an edited_message with edit_date", func(t *testing.T) {
		e.userSays(t, map[string]any{"chat_id": 77, "text": "/start fixed", "edit_of": 1})
		d := e.hook.next(t)
		m := d.update.EditedMessage
		if d.update.Message != nil || m == nil || m.MessageID != 1 || m.Text != "/start fixed" || m.EditDate == 0 || m.Date == 0 {
			t.Errorf("update %s", d.body)
		}
	})
	t.Run("a webhook answer with a method runs it", func(t *testing.T) {
		e.hook.mu.Lock()
		e.hook.reply = `{"method":"sendMessage","chat_id":77,"text":"from the webhook answer"}`
		e.hook.mu.Unlock()
		defer func() { e.hook.mu.Lock(); e.hook.reply = ""; e.hook.mu.Unlock() }()
		e.userSays(t, map[string]any{"chat_id": 77, "text": "ping"})
		e.hook.next(t)
		waitfor.Until(t, 0, "the answer's method to run", waitfor.True(func() bool {
			list := e.sent(t, 77)
			return list[len(list)-1].Text == "from the webhook answer"
		}))

	})
	t.Run("allowed_updates filters what is made", func(t *testing.T) {
		e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg", "secret_token": "the-secret_1", "allowed_updates": []string{"edited_message"}})
		res := e.userSays(t, map[string]any{"chat_id": 77, "text": "not wanted"})
		if !res.Filtered || res.Status != 0 {
			t.Errorf("answer %+v", res)
		}
		e.hook.none(t, e.sim)
	})
}

func TestWebhook_RetriesUntilDelivered(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.hook.answer(500, 502)
	res := e.userSays(t, map[string]any{"chat_id": 1, "text": "hello"})
	if res.Status != 500 {
		t.Errorf("first attempt status %d", res.Status)
	}
	var ids []int64
	for range 3 {
		d := e.hook.next(t)
		ids = append(ids, d.update.UpdateID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[0] != res.UpdateID {
		t.Errorf("attempts delivered updates %v", ids)
	}
	var info WebhookInfo
	waitfor.Until(t, 0, "the queue to empty", waitfor.True(func() bool {
		e.call(t, "getWebhookInfo", nil).into(t, &info)
		return info.PendingUpdateCount == 0
	}))

	if info.LastErrorMessage != "Wrong response from the webhook: 502 Bad Gateway" || info.LastErrorDate == 0 {
		t.Errorf("info %+v", info)
	}
}

func TestWebhook_KeepsEachChatInOrder(t *testing.T) {
	e := newEnv(t, Config{RetryDelay: 100 * time.Millisecond})
	e.setHook(t, "s")
	e.hook.answer(500) // chat 1's first update fails once
	a1 := e.userSays(t, map[string]any{"chat_id": 1, "text": "a1"})
	a2 := e.userSays(t, map[string]any{"chat_id": 1, "text": "a2"})
	b1 := e.userSays(t, map[string]any{"chat_id": 2, "text": "b1"})
	if a1.Status != 500 || !a2.Pending || a2.Status != 0 || b1.Status != 200 {
		t.Fatalf("answers %+v %+v %+v", a1, a2, b1)
	}
	// Chat 1 sees a1 (refused), a1 again, then a2; chat 2 is not held up.
	var chat1, chat2 []string
	for range 4 {
		m := e.hook.next(t).update.Message
		if m.Chat.ID == 1 {
			chat1 = append(chat1, m.Text)
		} else {
			chat2 = append(chat2, m.Text)
		}
	}
	if got := strings.Join(chat1, " "); got != "a1 a1 a2" {
		t.Errorf("chat 1 got %q, want %q", got, "a1 a1 a2")
	}
	if got := strings.Join(chat2, " "); got != "b1" {
		t.Errorf("chat 2 got %q", got)
	}
}

func TestWebhook_GivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, Config{MaxAttempts: 3})
	e.setHook(t, "s")
	e.hook.answer(500, 500, 500, 500)
	e.userSays(t, map[string]any{"chat_id": 1, "text": "doomed"})
	for range 3 {
		e.hook.next(t)
	}
	e.hook.none(t, e.sim)
	var info WebhookInfo
	e.call(t, "getWebhookInfo", nil).into(t, &info)
	if info.PendingUpdateCount != 0 {
		t.Errorf("pending %d after giving up", info.PendingUpdateCount)
	}
	var st stats
	_, out := e.control(t, http.MethodGet, "/_sim/telegram/stats", nil)
	json.Unmarshal(out, &st)
	if st.Dropped != 1 {
		t.Errorf("stats %s", out)
	}
}

func TestWebhook_NetworkErrorsAreRecorded(t *testing.T) {
	e := newEnv(t, Config{MaxAttempts: 1})
	e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg"})
	e.hook.srv.Close() // nothing listens any more
	res := e.userSays(t, map[string]any{"chat_id": 1, "text": "x"})
	if res.Status != 0 || res.Error == "" {
		t.Errorf("answer %+v", res)
	}
	var info WebhookInfo
	e.call(t, "getWebhookInfo", nil).into(t, &info)
	if info.LastErrorMessage != "Connection refused" {
		t.Errorf("last_error_message %q", info.LastErrorMessage)
	}
}

func TestBlockedChat(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.userSays(t, map[string]any{"chat_id": 8, "text": "hi"})
	e.hook.next(t)
	code, out := e.control(t, http.MethodPost, "/_sim/telegram/block", map[string]any{"chat_id": 8})
	if code != 200 {
		t.Fatalf("block: %d %s", code, out)
	}
	d := e.hook.next(t)
	mcm := d.update.MyChatMember
	if mcm == nil || mcm.OldChatMember.Status != "member" || mcm.NewChatMember.Status != "kicked" || mcm.NewChatMember.User.ID != 7000000001 ||
		mcm.From.ID != 8 || mcm.Chat.ID != 8 || mcm.NewChatMember.UntilDate == nil {
		t.Fatalf("update %s", d.body)
	}
	for _, call := range []struct {
		method string
		params map[string]any
	}{
		{"sendMessage", map[string]any{"chat_id": 8, "text": "still there?"}},
		{"sendChatAction", map[string]any{"chat_id": 8, "action": "typing"}},
	} {
		r := e.call(t, call.method, call.params)
		if r.Raw != `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}` {
			t.Errorf("%s to a blocked chat: %s", call.method, r.Raw)
		}
	}
	t.Run("writing again unblocks", func(t *testing.T) {
		e.userSays(t, map[string]any{"chat_id": 8, "text": "back"})
		if d := e.hook.next(t); d.update.MyChatMember == nil || d.update.MyChatMember.NewChatMember.Status != "member" {
			t.Errorf("first update %s", d.body)
		}
		if d := e.hook.next(t); d.update.Message == nil || d.update.Message.Text != "back" {
			t.Errorf("second update %s", d.body)
		}
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": 8, "text": "welcome back"}); !r.OK {
			t.Errorf("%s", r.Raw)
		}
	})
}

func TestTooManyRequests(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now})
	e.userSays(t, map[string]any{"chat_id": 4, "text": "hi"})
	code, out := e.control(t, http.MethodPost, "/_sim/fail", map[string]any{"service": "telegram", "match": "sendMessage", "status": 429, "retry_after": 3})
	if code != 200 {
		t.Fatalf("fail rule: %d %s", code, out)
	}
	r := e.call(t, "sendMessage", map[string]any{"chat_id": 4, "text": "x"})
	if r.Raw != `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}` {
		t.Fatalf("injected 429: %s", r.Raw)
	}
	if e.sim.EarlyRetries() != 0 {
		t.Fatal("early retries before any retry")
	}
	clk.Add(2 * time.Second)
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 4, "text": "x"}); r.Status != 429 || r.Parameters.RetryAfter != 3 {
		t.Errorf("retry after 2 s of 3: %s", r.Raw)
	}
	if e.sim.EarlyRetries() != 1 {
		t.Errorf("early retries %d, want 1", e.sim.EarlyRetries())
	}
	clk.Add(2 * time.Second) // the early retry extended the wait to 3 s from then
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 4, "text": "x"}); r.Status != 429 {
		t.Errorf("retry inside the extended wait: %s", r.Raw)
	}
	clk.Add(3 * time.Second)
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 4, "text": "x"}); !r.OK {
		t.Errorf("retry after waiting: %s", r.Raw)
	}
	if e.sim.EarlyRetries() != 2 {
		t.Errorf("early retries %d, want 2", e.sim.EarlyRetries())
	}
	t.Run("other chats are not held back", func(t *testing.T) {
		e.userSays(t, map[string]any{"chat_id": 5, "text": "hi"})
		e.control(t, http.MethodPost, "/_sim/fail", map[string]any{"service": "telegram", "match": "sendMessage", "status": 429, "retry_after": 10})
		e.call(t, "sendMessage", map[string]any{"chat_id": 4, "text": "x"})
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": 5, "text": "x"}); !r.OK {
			t.Errorf("%s", r.Raw)
		}
	})
	t.Run("other injected statuses", func(t *testing.T) {
		e.control(t, http.MethodPost, "/_sim/fail", map[string]any{"service": "telegram", "match": "*", "status": 502, "count": 2})
		for range 2 {
			if r := e.call(t, "getMe", nil); r.Raw != `{"ok":false,"error_code":502,"description":"Bad Gateway"}` {
				t.Errorf("%s", r.Raw)
			}
		}
		if r := e.call(t, "getMe", nil); !r.OK {
			t.Errorf("after the count ran out: %s", r.Raw)
		}
	})
}

func TestFloodControl(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now, RateLimit: true})
	for id := int64(1); id <= 31; id++ {
		e.userSays(t, map[string]any{"chat_id": id, "text": "hi"})
	}
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 1, "text": "a"}); !r.OK {
		t.Fatalf("first: %s", r.Raw)
	}
	r := e.call(t, "sendMessage", map[string]any{"chat_id": 1, "text": "b"})
	if r.Status != 429 || r.Parameters.RetryAfter != 1 {
		t.Fatalf("second in the same second: %s", r.Raw)
	}
	clk.Add(time.Second)
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 1, "text": "b"}); !r.OK {
		t.Fatalf("a second later: %s", r.Raw)
	}
	// 30 a second for the whole bot: chat 1 was the first, 29 more pass.
	for id := int64(2); id <= 30; id++ {
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": id, "text": "x"}); !r.OK {
			t.Fatalf("chat %d: %s", id, r.Raw)
		}
	}
	if r := e.call(t, "sendMessage", map[string]any{"chat_id": 31, "text": "x"}); r.Status != 429 {
		t.Errorf("31st in a second: %s", r.Raw)
	}
	if e.sim.EarlyRetries() != 0 {
		t.Errorf("early retries %d", e.sim.EarlyRetries())
	}
	if n := len(e.sent(t, 1)); n != 2 {
		t.Errorf("chat 1 got %d messages", n)
	}
}
