package bridge

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// fullConversation runs a day's worth of one chat: messages, a photo, an
// edit, a reply, agent replies public and internal, a resolution and a new
// request.
func fullConversation(t *testing.T) *harness {
	h := newHarness(t)
	// Business hours on weekdays: the harness's Saturday is out of hours
	// (a closed record); another chat is blocked (a block record).
	h.configure(map[string]any{"timeZone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"09:00-17:00"}}, "acknowledge": true})
	if a, err := h.resolve("blocks.add", map[string]any{"projectKey": testProject, "channel": "telegram", "chat": "6666666666"}); err != nil || a["ok"] != true {
		t.Fatalf("blocks.add: %v %v", a, err)
	}
	h.tg.files["AgACAgIAAxkBAAIEu2dLarge"] = []byte("JPEG-parcel-label")
	for _, f := range []string{"update_start.json", "update_text.json", "update_followup.json", "update_edit.json",
		"update_photo.json", "update_reply.json", "update_document_oversize.json"} {
		h.sendFixture(f)
		h.drain()
	}
	h.event("comment_created_public.json")
	h.event("issue_updated_commented.json")
	h.event("comment_created_internal.json")
	h.event("comment_created_unclear.json")
	h.drain()
	h.event("comment_updated.json") // an edit of the public reply: a correction
	h.drain()
	h.event("issue_updated_done.json")
	h.drain()
	h.send(h.text(5123456789, "Another question about invoice 99"))
	h.drain()
	if h.jira.issueCount() != 2 || len(h.tg.messages()) < 4 {
		t.Fatalf("conversation did not run: %d requests, %d messages", h.jira.issueCount(), len(h.tg.messages()))
	}
	return h
}

// secretsOfTheConversation are strings that must never be stored or logged.
var secretsOfTheConversation = []string{
	goodToken, "Hello", "order", "Monday", "Tuesday", "parcel label", "Sure, one moment", "sorry about that",
	"VIP", "Another question", "invoice 99", "Video of the damage", "JPEG-parcel-label", "Anna", "Schmidt",
	"bert@example.com", "6000000002",
}

func TestStorageHoldsOnlyConfigMappingAndExpiringRecords(t *testing.T) {
	h := fullConversation(t)
	// Another chat links to a JSM customer: a link record, the record of
	// its /link asks (linklimit.go) and its own flood count (identity_test.go).
	withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	linkChat(t, h, 6000000002, "bert@example.com")
	keys := h.env.Store.Keys()
	kinds := map[string]int{}
	for _, k := range keys {
		prefix, _, _ := strings.Cut(k, ":")
		kinds[prefix]++
		v, _ := h.env.Store.Get(k)
		for _, s := range secretsOfTheConversation {
			if strings.Contains(string(v), s) {
				t.Errorf("%s holds %q", k, s)
			}
		}
		if _, ok := KindOf(k); !ok {
			t.Errorf("unexpected record %s: no RecordKinds entry names it", k)
		}
	}
	if kinds["config"] != 1 || kinds["chat"] != 1 || kinds["issue"] != 2 || kinds["dedupe"] == 0 ||
		kinds["closed"] != 1 || kinds["block"] != 1 || kinds["flood"] != 2 || kinds["link"] != 1 || kinds["linkrate"] != 1 {
		t.Errorf("records by kind: %v", kinds)
	}
	edits := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "dedupe:jira:"+testProject+":edit:") {
			edits++
		}
	}
	if edits != 1 {
		t.Errorf("%d progress records of edits, want the one correction's", edits)
	}
	// Delivery records expire on their own.
	h.advance(DedupeTTL + time.Minute)
	// So do the flood count, the /link limit's record and the out-of-hours
	// record (the team opened on Monday at 09:00 in Berlin, before now).
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "dedupe:") || strings.HasPrefix(k, "flood:") || strings.HasPrefix(k, "linkrate:") || strings.HasPrefix(k, "closed:") {
			t.Errorf("%s outlived its TTL", k)
		}
	}
	if n := len(h.env.Store.Keys()); n != 6 {
		t.Errorf("%d records left, want config, one chat, two issues, the block and the link", n)
	}
}

func TestLogsCarryNoChatIDsTokensOrText(t *testing.T) {
	h := fullConversation(t)
	records := h.env.Logs.Records()
	if len(records) == 0 {
		t.Fatal("nothing logged")
	}
	forbidden := append([]string{annaChat, h.tg.secret()}, secretsOfTheConversation...)
	for _, r := range records {
		line := r.Message
		for _, a := range r.Attrs {
			line += " " + a.Name + "=" + a.Value
		}
		for _, s := range forbidden {
			if strings.Contains(line, s) {
				t.Errorf("log %q contains %q", line, s)
			}
		}
	}
}

func TestQueuePayloadsAreTheOnlyPlaceTextTravels(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_followup.json")
	p := h.env.Pushed.Take()
	if len(p) != 1 || !strings.Contains(string(p[0].Payload), "Monday") {
		t.Fatalf("the inbound job must carry the message: %+v", p)
	}
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		if strings.Contains(string(v), "Monday") {
			t.Errorf("%s holds the text before delivery", k)
		}
	}
}

// The records of delivery receipts (sent:) hold neither text nor chat id,
// and expire after SentTTL; with the window's seen: record they are the
// only records a WhatsApp conversation adds to Telegram's.
func TestWhatsAppReceiptRecordsHoldNoTextAndExpire(t *testing.T) {
	h, f := whatsappConversation(t)
	h.event("comment_created_public.json")
	h.drain()
	h.waSigned(waStatus(f.ids[0], "failed", 131026))
	kinds := map[string]int{}
	for _, k := range h.env.Store.Keys() {
		prefix, _, _ := strings.Cut(k, ":")
		kinds[prefix]++
		v, _ := h.env.Store.Get(k)
		for _, s := range []string{"My order is late", "Order 4711", "sorry about that", "Anna", f.ids[0]} {
			if strings.Contains(string(v), s) || strings.Contains(k, s) {
				t.Errorf("%s holds %q", k, s)
			}
		}
		if prefix == "sent" && (strings.Contains(k, waCustomer) || strings.Contains(string(v), waCustomer)) {
			t.Errorf("%s holds the chat id", k)
		}
		if _, ok := KindOf(k); !ok {
			t.Errorf("unexpected record %s: no RecordKinds entry names it", k)
		}
	}
	if kinds["sent"] != 2 {
		t.Errorf("records by kind: %v; want a sent message and its reply's note claim", kinds)
	}
	h.advance(SentTTL + time.Minute)
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "sent:") || strings.HasPrefix(k, "dedupe:") {
			t.Errorf("%s outlived its TTL", k)
		}
	}
}

// logVocabulary is every attribute the bridge may log, and what its value
// is: the log carries these and nothing else (SECURITY.md, "Logs").
var logVocabulary = map[string]string{
	"project":    "a project key",
	"channel":    "a channel name",
	"event":      "a messenger's event id (a number or a hash) or a Jira event name",
	"message":    "the host's queue message id",
	"attempt":    "a delivery attempt number",
	"kind":       "a job or event kind",
	"comment":    "a numeric Jira comment id",
	"attachment": "a numeric Jira attachment id",
	"step":       "a step name",
	"sent":       "a count of parts",
	"retryAfter": "seconds",
	"visibility": "a number",
	"bytes":      "a size",
	"records":    "a count",
	"enabled":    "a boolean",
	"type":       "a Forge event type",
	"err":        "an error: fixed words, Jira paths as shapes, no quoted input",
	"queue":      "a queue name of the manifest",
	"code":       "a messenger's numeric error code",
	"rating":     "a satisfaction rating, 1 to 5",
	"status":     "an HTTP status",
}

var issueKeyInText = regexp.MustCompile(`[A-Z][A-Z0-9_]*-[0-9]+`)

func TestLogsNameNoIssueKeyAndOnlyAFixedVocabulary(t *testing.T) {
	h := fullConversation(t)
	// Failing calls log their errors, which name Jira paths with keys in them.
	h.jira.fail("POST", "/rest/servicedeskapi/request/SUP-2/comment", 503, 1)
	h.send(h.text(5123456789, "One more thing"))
	h.drain()
	h.jira.fail("GET", "/rest/api/3/issue/SUP-2", 503, 1)
	h.event("comment_created_unclear.json", `"SUP-1"`, `"SUP-2"`, `"10042"`, `"10043"`, `"10104"`, `"10199"`)
	h.drain()
	// An authentic delivery that does not decode: the error must not quote it.
	h.send([]byte(`{"update_id": 99999999999999999999999, "message": {"chat": {"id": 5123456789}}}`))
	records := h.env.Logs.Records()
	var sawErr, sawPath bool
	for _, r := range records {
		line := r.Message
		for _, a := range r.Attrs {
			line += " " + a.Name + "=" + a.Value
			if _, ok := logVocabulary[a.Name]; !ok {
				t.Errorf("log %q: attribute %q is not in the vocabulary", r.Message, a.Name)
			}
			if a.Name == "err" {
				sawErr = true
				sawPath = sawPath || strings.Contains(a.Value, "{key}")
			}
		}
		if k := issueKeyInText.FindString(line); k != "" {
			t.Errorf("log %q names the issue key %s", line, k)
		}
		for _, s := range []string{annaChat, "99999999999999999999999"} {
			if strings.Contains(line, s) {
				t.Errorf("log %q quotes %s from outside", line, s)
			}
		}
	}
	if !sawErr || !sawPath {
		t.Errorf("the failures were not logged with their Jira path (err %v, path %v): nothing checked", sawErr, sawPath)
	}
}
