package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// reaction builds a Telegram message_reaction update of chat's user.
func (h *harness) reaction(chat int64, messageID int64, emoji string) []byte {
	h.seq++
	list := []any{}
	if emoji != "" {
		list = append(list, map[string]any{"type": "emoji", "emoji": emoji})
	}
	b, _ := json.Marshal(map[string]any{"update_id": 900000000 + h.seq, "message_reaction": map[string]any{
		"chat": map[string]any{"id": chat, "type": "private"}, "message_id": messageID, "date": 1763805120 + h.seq,
		"user":         map[string]any{"id": chat, "is_bot": false, "first_name": "Anna", "last_name": "Schmidt"},
		"old_reaction": []any{}, "new_reaction": list}})
	return b
}

func TestReactionsAreIgnoredUnlessTheProjectRelaysThemAsInternalNotes(t *testing.T) {
	h := newHarness(t)
	if v := h.configure(nil); strings.Contains(mustJSON(t, v), `"relayReactions":true`) {
		t.Fatalf("reactions relayed by default: %v", v)
	}
	h.send(h.text(5123456789, "My order never came"))
	h.drain()
	h.send(h.reaction(5123456789, 12, "👍"))
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("an ignored reaction was queued: %d jobs", len(p))
	}
	if c := h.jira.issue("SUP-1").Comments; len(c) != 0 {
		t.Fatalf("an ignored reaction left comments %+v", c)
	}

	if v := h.configure(map[string]any{"relayReactions": true}); !strings.Contains(mustJSON(t, v), `"relayReactions":true`) {
		t.Fatalf("config.set does not show the setting: %v", v)
	}
	h.send(h.reaction(5123456789, 12, "🔥"))
	h.send(h.reaction(5123456789, 12, ""))
	h.drain()
	c := h.jira.issue("SUP-1").Comments
	if len(c) != 2 || c[0].Public || c[1].Public ||
		c[0].Body != "Anna Schmidt reacted with 🔥 to a message in Telegram." ||
		c[1].Body != "Anna Schmidt took back their reaction to a message in Telegram." {
		t.Fatalf("notes %+v", c)
	}
	if h.jira.issueCount() != 1 {
		t.Errorf("a reaction opened a request")
	}
}

func TestAReactionWithoutAnOpenRequestOpensNothing(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"relayReactions": true})
	h.send(h.reaction(5123456789, 12, "👍"))
	h.drain()
	if h.jira.issueCount() != 0 {
		t.Fatalf("a reaction opened %d requests", h.jira.issueCount())
	}
	if n := len(h.tg.messages()); n != 0 {
		t.Errorf("the customer was sent %d messages for a reaction", n)
	}
}

func TestNoteTextNamesWhatTheCustomerDid(t *testing.T) {
	tests := []struct {
		ev   channel.Inbound
		want string
	}{
		{channel.Inbound{Kind: channel.Deleted, Sender: "Ann *bold*"}, `Ann \*bold\* deleted one of their messages in WhatsApp. What it said stays on this request as it arrived.`},
		{channel.Inbound{Kind: channel.Reaction, Reaction: "👍"}, "The customer reacted with 👍 to a message in WhatsApp."},
		{channel.Inbound{Kind: channel.Reaction, Sender: "Ann"}, "Ann took back their reaction to a message in WhatsApp."},
	}
	for _, tt := range tests {
		if got := noteText(&tt.ev, "WhatsApp"); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
