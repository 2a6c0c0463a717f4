package telegram

import (
	"net/http"
	"strings"
	"testing"
)

func keyboard(buttons ...map[string]any) map[string]any {
	row := []any{}
	for _, b := range buttons {
		row = append(row, b)
	}
	return map[string]any{"inline_keyboard": []any{row}}
}

func TestReplyMarkupIsCheckedAsTelegramChecksIt(t *testing.T) {
	e := newEnv(t, Config{})
	e.userSays(t, map[string]any{"chat_id": 12, "text": "hi"})
	for _, tc := range []struct {
		name   string
		markup any
		want   string
	}{
		{"a text-only button", keyboard(map[string]any{"text": "1"}), "Text buttons are unallowed in the inline keyboard"},
		{"callback data over 64 bytes", keyboard(map[string]any{"text": "1", "callback_data": strings.Repeat("x", 65)}), "BUTTON_DATA_INVALID"},
		{"empty callback data", keyboard(map[string]any{"text": "1", "callback_data": ""}), "BUTTON_DATA_INVALID"},
		{"two actions", keyboard(map[string]any{"text": "1", "callback_data": "a", "url": "https://x.org"}), "only one of the optional fields"},
		{"no text", keyboard(map[string]any{"callback_data": "a"}), `Field "text" must be of type String`},
		{"rows that are not arrays", map[string]any{"inline_keyboard": []any{"a"}}, "Array of Arrays"},
		{"not a markup", map[string]any{"buttons": []any{}}, "can't parse reply keyboard markup JSON object"},
		{"not an object", "[1]", "can't parse reply keyboard markup JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, "sendMessage", map[string]any{"chat_id": 12, "text": "Rate us", "reply_markup": tc.markup})
			if r.OK || r.ErrorCode != 400 || !strings.Contains(r.Description, tc.want) {
				t.Fatalf("got %s, want 400 %q", r.Raw, tc.want)
			}
		})
	}
	if n := len(e.sent(t, 12)); n != 0 {
		t.Fatalf("%d refused messages were recorded as sent", n)
	}
}

func TestAPressIsACallbackQueryTheBotAnswersOnce(t *testing.T) {
	sp := loadSpec(t)
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.userSays(t, map[string]any{"chat_id": 12, "text": "hi"})
	e.hook.next(t)
	r := e.call(t, "sendMessage", map[string]any{"chat_id": 12, "text": "Rate us",
		"reply_markup": keyboard(map[string]any{"text": "★", "callback_data": "csat:1:SUP-1"}, map[string]any{"text": "★★", "callback_data": "csat:2:SUP-1"})})
	if !r.OK {
		t.Fatal(r.Raw)
	}
	if errs := sp.check(sp.Methods["sendMessage"].Returns, decodeLoose(t, r.Result), "sendMessage"); len(errs) > 0 {
		t.Fatalf("%s\n%s", strings.Join(errs, "\n"), r.Result)
	}
	var m Message
	r.into(t, &m)
	if m.ReplyMarkup == nil || len(m.ReplyMarkup.InlineKeyboard[0]) != 2 {
		t.Fatalf("message %s", r.Result)
	}
	sent := e.sent(t, 12)
	if len(sent) != 1 || sent[0].ReplyMarkup == nil || sent[0].ReplyMarkup.InlineKeyboard[0][1].CallbackData != "csat:2:SUP-1" {
		t.Fatalf("sent %+v", sent)
	}

	for name, body := range map[string]map[string]any{
		"data the message does not show": {"chat_id": 12, "message_id": m.MessageID, "data": "csat:9:SUP-1"},
		"a message without buttons":      {"chat_id": 12, "message_id": 1, "data": "csat:1:SUP-1"},
		"an unknown chat":                {"chat_id": 13, "message_id": m.MessageID, "data": "csat:1:SUP-1"},
	} {
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/press", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
	code, out := e.control(t, http.MethodPost, "/_sim/telegram/press", map[string]any{"chat_id": 12, "message_id": m.MessageID, "data": "csat:2:SUP-1"})
	if code != http.StatusOK {
		t.Fatalf("press: %d %s", code, out)
	}
	d := e.hook.next(t)
	if errs := sp.check([]string{"Update"}, decodeLoose(t, d.body), "update"); len(errs) > 0 {
		t.Fatalf("%s\n%s", strings.Join(errs, "\n"), d.body)
	}
	q := d.update.CallbackQuery
	if q == nil || q.Data != "csat:2:SUP-1" || q.Message == nil || q.Message.MessageID != m.MessageID || q.From.ID != 12 || q.ID == "" {
		t.Fatalf("update %s", d.body)
	}

	if r := e.call(t, "answerCallbackQuery", map[string]any{"callback_query_id": q.ID, "text": strings.Repeat("x", 201)}); r.OK {
		t.Fatalf("an answer over 200 characters: %s", r.Raw)
	}
	if r := e.call(t, "answerCallbackQuery", map[string]any{"callback_query_id": "nope"}); r.OK || r.ErrorCode != 400 {
		t.Fatalf("an unknown query: %s", r.Raw)
	}
	if r := e.call(t, "answerCallbackQuery", map[string]any{"callback_query_id": q.ID, "text": "Thanks"}); !r.OK || string(r.Result) != "true" {
		t.Fatalf("answer: %s", r.Raw)
	}
	if r := e.call(t, "answerCallbackQuery", map[string]any{"callback_query_id": q.ID}); r.OK || !strings.Contains(r.Description, "query ID is invalid") {
		t.Fatalf("a second answer: %s", r.Raw)
	}
	sent = e.sent(t, 12)
	if last := sent[len(sent)-1]; last.Method != "answerCallbackQuery" || last.Text != "Thanks" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestAPressIsFilteredWhenAllowedUpdatesLeaveCallbacksOut(t *testing.T) {
	e := newEnv(t, Config{})
	if r := e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg", "allowed_updates": []string{"message"}}); !r.OK {
		t.Fatal(r.Raw)
	}
	e.userSays(t, map[string]any{"chat_id": 12, "text": "hi"})
	r := e.call(t, "sendMessage", map[string]any{"chat_id": 12, "text": "Rate us", "reply_markup": keyboard(map[string]any{"text": "1", "callback_data": "a"})})
	var m Message
	r.into(t, &m)
	code, out := e.control(t, http.MethodPost, "/_sim/telegram/press", map[string]any{"chat_id": 12, "message_id": m.MessageID, "data": "a"})
	if code != http.StatusOK || !strings.Contains(string(out), `"filtered":true`) {
		t.Fatalf("press: %d %s", code, out)
	}
}
