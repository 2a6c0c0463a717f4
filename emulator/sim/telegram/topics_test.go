package telegram

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestTopics_APrivateChatHasTopicsOnlyWhereTheBotHasTopicMode(t *testing.T) {
	const chat = 5123456789
	t.Run("without topic mode", func(t *testing.T) {
		e := newEnv(t, Config{})
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/send", map[string]any{"chat_id": chat, "text": "hi"}); code != 200 {
			t.Fatalf("send: %d %s", code, out)
		}
		var me User
		json.Unmarshal(e.call(t, "getMe", nil).Result, &me)
		if me.HasTopicsEnabled == nil || *me.HasTopicsEnabled {
			t.Errorf("getMe has_topics_enabled %v, want false", me.HasTopicsEnabled)
		}
		if r := e.call(t, "createForumTopic", map[string]any{"chat_id": chat, "name": "SUP-1"}); r.OK || r.ErrorCode != 400 {
			t.Errorf("createForumTopic without topic mode: %s", r.Raw)
		}
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": chat, "text": "x", "message_thread_id": 7}); r.OK ||
			!strings.Contains(r.Description, "message thread not found") {
			t.Errorf("a send into a thread without topic mode: %s", r.Raw)
		}
	})
	t.Run("with topic mode", func(t *testing.T) {
		e := newEnv(t, Config{Topics: true})
		e.setHook(t, "s3cret")
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/send", map[string]any{"chat_id": chat, "text": "hi"}); code != 200 {
			t.Fatalf("send: %d %s", code, out)
		}
		e.hook.next(t)
		var me User
		json.Unmarshal(e.call(t, "getMe", nil).Result, &me)
		if me.HasTopicsEnabled == nil || !*me.HasTopicsEnabled {
			t.Fatalf("getMe has_topics_enabled %v, want true", me.HasTopicsEnabled)
		}
		if r := e.call(t, "createForumTopic", map[string]any{"chat_id": chat, "name": ""}); r.OK {
			t.Errorf("a topic without a name: %s", r.Raw)
		}
		r := e.call(t, "createForumTopic", map[string]any{"chat_id": chat, "name": "SUP-1: the printer"})
		var topic ForumTopic
		if !r.OK || json.Unmarshal(r.Result, &topic) != nil || topic.MessageThreadID == 0 || topic.Name != "SUP-1: the printer" {
			t.Fatalf("createForumTopic: %s", r.Raw)
		}
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": chat, "text": "in the topic", "message_thread_id": topic.MessageThreadID}); !r.OK {
			t.Fatalf("a send into the topic: %s", r.Raw)
		} else {
			var m Message
			json.Unmarshal(r.Result, &m)
			if m.MessageThreadID != topic.MessageThreadID || !m.IsTopicMessage {
				t.Errorf("the sent message %s is not in the topic", r.Raw)
			}
		}
		if r := e.call(t, "sendMessage", map[string]any{"chat_id": chat, "text": "x", "message_thread_id": topic.MessageThreadID + 100}); r.OK {
			t.Errorf("a send into a topic that does not exist: %s", r.Raw)
		}
		sent := e.sent(t, chat)
		if len(sent) != 1 || sent[0].Thread != topic.MessageThreadID {
			t.Errorf("sent %+v", sent)
		}
		// The user writes in the topic: the update says so.
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/send", map[string]any{"chat_id": chat, "text": "more", "message_thread_id": topic.MessageThreadID}); code != 200 {
			t.Fatalf("send in topic: %d %s", code, out)
		}
		d := e.hook.next(t)
		if m := d.update.Message; m == nil || m.MessageThreadID != topic.MessageThreadID || !m.IsTopicMessage {
			t.Errorf("the user's message in the topic arrived as %s", d.body)
		}
		if code, _ := e.control(t, http.MethodPost, "/_sim/telegram/send", map[string]any{"chat_id": chat, "text": "x", "message_thread_id": 999999}); code != 400 {
			t.Errorf("a user's message in a topic that does not exist: %d", code)
		}
	})
}
