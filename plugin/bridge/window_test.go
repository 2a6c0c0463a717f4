package bridge

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// countSends counts the bridge's calls to WhatsApp's messages endpoint.
func countSends(h *harness) *atomic.Int64 {
	var n atomic.Int64
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if req.Method == "POST" && strings.HasSuffix(req.URL, "/messages") {
			n.Add(1)
		}
		return inner(req)
	}
	return &n
}

func internalNotes(h *harness) []string {
	var notes []string
	for _, c := range h.jira.issue("SUP-1").Comments {
		if !c.Public {
			notes = append(notes, c.Body)
		}
	}
	return notes
}

func waText(id, text string) []byte {
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Anna"}, "wa_id": waCustomer}},
			"messages": []any{map[string]any{"from": waCustomer, "id": id, "type": "text", "text": map[string]any{"body": text}}},
		}}}}}})
	return b
}

func TestWhatsAppReplyOutsideTheWindowIsNotTriedAndBecomesANote(t *testing.T) {
	h, f := whatsappConversation(t) // the customer wrote now
	sends := countSends(h)
	h.advance(24*time.Hour + time.Minute)
	// WhatsApp would even accept it: the bridge's own record decides.
	h.retries = nil
	h.event("comment_created_public.json")
	h.drain()
	if n := sends.Load(); n != 0 || len(f.sent) != 0 {
		t.Fatalf("%d sends after the window closed: %q", n, f.sent)
	}
	if len(h.retries) != 0 {
		t.Errorf("retries %v", h.retries)
	}
	notes := internalNotes(h)
	if len(notes) != 1 || !strings.Contains(notes[0], "WhatsApp") || !strings.Contains(notes[0], "24 hours") {
		t.Fatalf("internal notes %q", notes)
	}

	// The customer writes again: the window opens and the next reply goes out.
	body := waText("wamid.C==", "Still waiting")
	h.waPost(body, "sha256="+hmacHex([]byte(waApp), body))
	h.drain()
	h.event("comment_created_public.json", `"id": "10101"`, `"id": "10102"`)
	h.drain()
	if sends.Load() != 1 || len(f.sent) != 1 {
		t.Errorf("after the customer wrote again: %d sends, sent %q", sends.Load(), f.sent)
	}
	if n := len(internalNotes(h)); n != 1 {
		t.Errorf("%d internal notes", n)
	}
}

func TestWhatsAppReplyInsideTheWindowIsSent(t *testing.T) {
	h, f := whatsappConversation(t)
	sends := countSends(h)
	h.advance(23 * time.Hour)
	h.event("comment_created_public.json")
	h.drain()
	if sends.Load() != 1 || len(f.sent) != 1 {
		t.Fatalf("%d sends, sent %q", sends.Load(), f.sent)
	}
	if notes := internalNotes(h); len(notes) != 0 {
		t.Errorf("internal notes %q", notes)
	}
}

// Without a record of the customer's last message (expired, or from before
// the bridge kept them) the reply is tried and WhatsApp's 131047 still
// gives the note.
func TestWhatsAppWithoutARecordTheRefusalIsTheFallback(t *testing.T) {
	h, f := whatsappConversation(t)
	sends := countSends(h)
	h.advance(24*time.Hour + seenSlack + time.Hour)
	if found, err := (store{h.env.Storage}).get(seenKey(testProject, "whatsapp", waCustomer), &seenRecord{}); err != nil || found {
		t.Fatalf("record still there: %v %v", found, err)
	}
	f.window = false
	h.retries = nil
	h.event("comment_created_public.json")
	h.drain()
	if sends.Load() != 1 || len(f.sent) != 0 || len(h.retries) != 0 {
		t.Fatalf("%d sends, sent %q, retries %v", sends.Load(), f.sent, h.retries)
	}
	if notes := internalNotes(h); len(notes) != 1 || !strings.Contains(notes[0], "WhatsApp") {
		t.Errorf("internal notes %q", notes)
	}
}

func TestTheLastMessageRecordHoldsATimeOnlyAndGoesWithTheProject(t *testing.T) {
	h, _ := whatsappConversation(t)
	page, err := h.env.Storage.Query("seen:", "", 10)
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("records %+v %v", page, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(page.Entries[0].Value, &rec); err != nil || len(rec) != 1 || rec["at"] == nil {
		t.Errorf("record %s", page.Entries[0].Value)
	}
	if a, err := h.resolve("config.delete", map[string]any{"projectKey": testProject}); err != nil || a["ok"] != true {
		t.Fatalf("%v %v", a, err)
	}
	if page, _ := h.env.Storage.Query("seen:", "", 10); len(page.Entries) != 0 {
		t.Errorf("left after config.delete: %+v", page.Entries)
	}
}

// Channels without a reply window keep no record.
func TestTelegramKeepsNoLastMessageRecord(t *testing.T) {
	h := conversation(t)
	if page, _ := h.env.Storage.Query("seen:", "", 10); len(page.Entries) != 0 {
		t.Errorf("records %+v", page.Entries)
	}
}

// A resolution outside the window is not tried either, and needs no note:
// the agents resolved the request themselves.
func TestWhatsAppResolutionOutsideTheWindowIsNotSent(t *testing.T) {
	h, f := whatsappConversation(t)
	sends := countSends(h)
	h.advance(25 * time.Hour)
	h.retries = nil
	h.event("issue_updated_done.json")
	h.drain()
	if sends.Load() != 0 || len(f.sent) != 0 || len(h.retries) != 0 {
		t.Fatalf("%d sends, sent %q, retries %v", sends.Load(), f.sent, h.retries)
	}
	if notes := internalNotes(h); len(notes) != 0 {
		t.Errorf("internal notes %q", notes)
	}
	var rev issueRecord
	if _, err := (store{h.env.Storage}).get("issue:SUP-1", &rev); err != nil || !rev.Resolved {
		t.Errorf("the request's mapping was not closed: %+v %v", rev, err)
	}
}

// A reply button pressed is a customer message to WhatsApp: it opens the
// 24-hour window, and the bridge's record follows it, so the next agent
// reply goes out instead of becoming a note.
func TestWhatsAppAButtonPressOpensTheWindowAsAMessageDoes(t *testing.T) {
	h, f := whatsappConversation(t) // the customer wrote now
	sends := countSends(h)
	h.advance(24*time.Hour + time.Minute)
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Anna"}, "wa_id": waCustomer}},
			"messages": []any{map[string]any{"from": waCustomer, "id": "wamid.P==", "type": "interactive",
				"interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "csat:5:SUP-9", "title": "Excellent"}}}},
		}}}}}})
	h.waPost(b, "sha256="+hmacHex([]byte(waApp), b))
	h.drain()
	h.event("comment_created_public.json")
	h.drain()
	if sends.Load() == 0 || len(f.sent) == 0 {
		t.Fatalf("the reply after a button press was not sent: %d sends, sent %q", sends.Load(), f.sent)
	}
	if notes := internalNotes(h); len(notes) != 0 {
		t.Errorf("internal notes %q", notes)
	}
}
