package bridge

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel/whatsapp"
)

func waStatus(id, status string, code int) []byte {
	st := map[string]any{"id": id, "status": status, "timestamp": "1750857384", "recipient_id": waCustomer}
	if code != 0 {
		st["errors"] = []any{map[string]any{"code": code, "title": "Message undeliverable", "message": "Message undeliverable",
			"error_data": map[string]any{"details": "Message failed to send."}}}
	}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "15550783881", "phone_number_id": waPhone},
			"statuses": []any{st}}}}}}})
	return body
}

func (h *harness) waSigned(body []byte) {
	h.t.Helper()
	if r := h.waPost(body, "sha256="+hmacHex([]byte(waApp), body)); r.Status != 200 {
		h.t.Fatalf("delivery answered %d", r.Status)
	}
	h.drain()
}

func notesOn(h *harness, key string) []string {
	var notes []string
	for _, c := range h.jira.issue(key).Comments {
		if !c.Public {
			notes = append(notes, c.Body)
		}
	}
	return notes
}

func storeSnapshot(h *harness) map[string]string {
	out := map[string]string{}
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		out[k] = string(v)
	}
	return out
}

// A reply WhatsApp accepted and later reported failed becomes one internal
// note with the code and its meaning, never the reply's text, however often
// the status arrives and however many of the reply's messages failed;
// sent, delivered and read change nothing stored (issue 16, finding 3).
func TestWhatsAppFailedStatusBecomesOneNotePerReply(t *testing.T) {
	h, f := whatsappConversation(t)
	long := strings.Repeat("Sure, one moment please. ", 200) // two messages of 4096 characters at most
	h.event("comment_created_public.json", "Hi Anna, sorry about that!", long)
	h.drain()
	if len(f.ids) != 2 {
		t.Fatalf("%d messages sent, want the reply in 2", len(f.ids))
	}

	before := storeSnapshot(h)
	for _, st := range []string{"sent", "delivered", "read"} {
		h.waSigned(waStatus(f.ids[0], st, 0))
	}
	if after := storeSnapshot(h); !maps.Equal(before, after) {
		t.Errorf("a progress status changed the store")
	}
	if n := len(notesOn(h, "SUP-1")); n != 0 {
		t.Fatalf("%d notes before any failure", n)
	}

	h.waSigned(waStatus(f.ids[0], "failed", whatsapp.CodeUndeliverable))
	h.waSigned(waStatus(f.ids[0], "failed", whatsapp.CodeUndeliverable)) // Meta's redelivery
	h.waSigned(waStatus(f.ids[1], "failed", whatsapp.CodeUndeliverable)) // the reply's second message
	h.advance(DedupeTTL + time.Hour)                                     // the status's own dedupe record is gone
	h.waSigned(waStatus(f.ids[0], "failed", whatsapp.CodeUndeliverable))
	notes := notesOn(h, "SUP-1")
	if len(notes) != 1 {
		t.Fatalf("%d notes, want 1: %q", len(notes), notes)
	}
	if !strings.Contains(notes[0], "131026") || !strings.Contains(notes[0], "WhatsApp") || strings.Contains(notes[0], "one moment") || strings.Contains(notes[0], "Anna") {
		t.Errorf("note %q", notes[0])
	}

	// A failure of a message the bridge has no record of (a bot text, or
	// past SentTTL) gives nothing.
	h.waSigned(waStatus("wamid.UNKNOWN", "failed", whatsapp.CodeUndeliverable))
	h.advance(SentTTL)
	h.event("comment_created_public.json", `"id": "10101"`, `"id": "10177"`)
	h.drain()
	h.waSigned(waStatus(f.ids[len(f.ids)-1], "failed", whatsapp.CodeExperiment))
	if notes := notesOn(h, "SUP-1"); len(notes) != 2 || !strings.Contains(notes[1], "130472") {
		t.Errorf("a second reply's failure: %q", notes)
	}
}

// A customer who hides their number is served by their business-scoped user
// id: a request opens and the agent's reply goes back by "recipient"
// (finding 4).
func TestWhatsAppCustomerKnownOnlyByUserIDGetsTheReply(t *testing.T) {
	h, f := whatsappConversation(t)
	const userID = "DE.1502576394655843"
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Bea", "username": "@bea"}, "user_id": userID}},
			"messages": []any{map[string]any{"from_user_id": userID, "id": "wamid.U==", "timestamp": "1", "type": "text", "text": map[string]any{"body": "Username here"}}},
		}}}}}})
	h.waSigned(body)
	if n := h.jira.issueCount(); n != 2 {
		t.Fatalf("%d requests, want the user's own", n)
	}
	h.event("comment_created_public.json", `"key": "SUP-1"`, `"key": "SUP-2"`, `"id": "10101"`, `"id": "10188"`)
	h.drain()
	last := f.bodies[len(f.bodies)-1]
	if last["recipient"] != userID || last["to"] != nil {
		t.Errorf("reply sent as %v", last)
	}
}

// A message WhatsApp delivers without content gets a clear answer and opens
// nothing (finding 5).
func TestWhatsAppUnsupportedMessageIsAnsweredNotLost(t *testing.T) {
	h, f := whatsappConversation(t)
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Anna"}, "wa_id": "4917600000001"}},
			"messages": []any{map[string]any{"from": "4917600000001", "id": "wamid.P==", "timestamp": "1", "type": "unsupported",
				"errors":      []any{map[string]any{"code": 131051, "title": "Message type unknown"}},
				"unsupported": map[string]any{"type": "poll_creation"}}},
		}}}}}})
	sent := len(f.sent)
	h.waSigned(body)
	if len(f.sent) != sent+1 || !strings.Contains(f.sent[sent], "cannot be passed on") {
		t.Fatalf("sent %q", f.sent[sent:])
	}
	if n := h.jira.issueCount(); n != 1 {
		t.Errorf("%d requests: an unreadable message opened one", n)
	}
}
