package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// eventWith delivers a Jira fixture after mutate changed its JSON.
func (h *harness) eventWith(name string, mutate func(m map[string]any)) {
	h.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(load(h.t, "jira/"+name), &m); err != nil {
		h.t.Fatal(err)
	}
	mutate(m)
	b, _ := json.Marshal(m)
	typ := "avi:jira:commented:issue"
	if m["webhookEvent"] == "jira:issue_updated" {
		typ = "avi:jira:updated:issue"
	}
	if err := h.b.Event(h.env.Env, &abi.Event{Context: h.ctx, Trigger: "jira-events", Type: typ, Payload: b}); err != nil {
		h.t.Fatal(err)
	}
}

func withBody(body string) func(map[string]any) {
	return func(m map[string]any) { m["comment"].(map[string]any)["body"] = body }
}

// conversation configures the project and opens SUP-1 for Anna.
func conversation(t *testing.T) *harness {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.drain()
	if h.jira.issue("SUP-1") == nil {
		t.Fatal("no request")
	}
	return h
}

func commentBodyOf(t *testing.T, name string) string {
	var m struct {
		Comment struct {
			Body string `json:"body"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(load(t, "jira/"+name), &m); err != nil {
		t.Fatal(err)
	}
	return m.Comment.Body
}

func TestAgentPublicReplyIsSentAsTelegramHTML(t *testing.T) {
	h := conversation(t)
	h.event("comment_created_public.json")
	h.drain()
	m := h.tg.messages()
	if len(m) != 1 {
		t.Fatalf("sent %+v", m)
	}
	want := format.WikiToTelegramHTML(commentBodyOf(t, "comment_created_public.json"))
	if m[0].Text != want || m[0].ParseMode != "HTML" || m[0].Chat != annaChat {
		t.Errorf("sent %+v, want text %q", m[0], want)
	}
	for _, s := range []string{"<b>photo</b>", "Orders &lt; 5 kg &amp; over"} {
		if !strings.Contains(m[0].Text, s) {
			t.Errorf("text %q lacks %q", m[0].Text, s)
		}
	}
	if err := format.ValidTelegramHTML(m[0].Text); err != nil {
		t.Errorf("Telegram would refuse it: %v", err)
	}
}

func TestADFReplyFromAForgeEventIsConverted(t *testing.T) {
	h := conversation(t)
	h.jira.properties["10106"] = string(load(t, "jira/property_public.json"))
	h.configure(map[string]any{"attachmentsOut": false, "botToken": nil})
	h.event("forge_commented_adf.json")
	h.drain()
	m := h.tg.messages()
	if len(m) != 1 || !strings.Contains(m[0].Text, "<b>approved</b>") || !strings.Contains(m[0].Text, `<a href="https://acme.example/refunds">refund policy</a>`) {
		t.Fatalf("sent %+v", m)
	}
}

func TestInternalCommentsNeverLeaveJira(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		property string // sd.public.comment value, "" for none
		sent     bool
		lookups  int
	}{
		{"jsdPublic false", "comment_created_internal.json", "", false, 0},
		{"visibility restriction", "comment_created_visibility.json", "", false, 0},
		{"visibility restriction even with a public property", "comment_created_visibility.json", "property_public.json", false, 0},
		{"unclear, property says internal", "comment_created_unclear.json", "property_internal.json", false, 1},
		{"unclear, no property: fail closed", "comment_created_unclear.json", "", false, 1},
		{"unclear, property says public", "comment_created_unclear.json", "property_public.json", true, 1},
		{"forge ADF, property says internal", "forge_commented_adf.json", "property_internal.json", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := conversation(t)
			if tt.property != "" {
				for _, id := range []string{"10103", "10104", "10106"} {
					h.jira.properties[id] = string(load(t, "jira/"+tt.property))
				}
			}
			h.event(tt.fixture)
			h.drain()
			sent := len(h.tg.messages()) > 0
			if sent != tt.sent {
				t.Fatalf("sent %v, want %v: %+v", sent, tt.sent, h.tg.messages())
			}
			lookups := 0
			for _, r := range h.env.JiraAPI.Requests() {
				if strings.HasSuffix(r.URL, "/properties/sd.public.comment") {
					lookups++
				}
			}
			if lookups != tt.lookups {
				t.Errorf("%d property lookups, want %d", lookups, tt.lookups)
			}
		})
	}
}

func TestPropertyLookupIsRetriedWhenJiraIsBusy(t *testing.T) {
	h := conversation(t)
	h.jira.properties["10104"] = string(load(t, "jira/property_public.json"))
	h.jira.fail("GET", "/rest/api/3/comment/10104/properties/", 429, 1, abi.Header{Name: "Retry-After", Value: "12"})
	h.event("comment_created_unclear.json")
	h.drain()
	if len(h.retries) != 1 || h.retries[0] != 12 || len(h.tg.messages()) != 1 {
		t.Fatalf("retries %v, sent %d", h.retries, len(h.tg.messages()))
	}
}

func TestTheAppsOwnCommentsAreNotEchoed(t *testing.T) {
	h := conversation(t)
	h.event("comment_created_by_app.json")
	h.eventWith("forge_commented_adf.json", func(m map[string]any) { m["selfGenerated"] = true })
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("queued %d echoes", len(p))
	}
}

func TestDoubleFireAndRetriesSendOnce(t *testing.T) {
	h := conversation(t)
	h.event("comment_created_public.json")
	h.event("issue_updated_commented.json") // Jira's second event for the same comment
	h.event("comment_created_public.json")  // Jira's retry
	pushed := h.env.Pushed.Take()
	// Each event before the consumer ran queues the claim's one job again.
	if len(pushed) != 3 || jobNonce(t, pushed[1]) != jobNonce(t, pushed[0]) || jobNonce(t, pushed[2]) != jobNonce(t, pushed[0]) {
		t.Fatalf("queued %d", len(pushed))
	}
	h.deliver(pushed[0], 1)
	h.deliver(pushed[0], 2) // the host's redelivery
	h.deliver(pushed[1], 1)
	h.deliver(pushed[2], 1)
	if n := len(h.tg.messages()); n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

// editOf mutates comment_updated.json into another edit: a later updated
// time and a new body.
func editOf(updated, body string) func(map[string]any) {
	return func(m map[string]any) {
		c := m["comment"].(map[string]any)
		c["updated"], c["body"] = updated, body
	}
}

func TestAnEditedPublicCommentIsSentOnceAsACorrection(t *testing.T) {
	h := conversation(t)
	h.event("comment_created_public.json")
	h.drain()
	// The edit, Jira's retry of it, and its second event for the same edit.
	h.event("comment_updated.json")
	h.event("comment_updated.json")
	h.eventWith("comment_updated.json", func(m map[string]any) {
		m["webhookEvent"], m["issue_event_type_name"] = "jira:issue_updated", "issue_comment_edited"
	})
	h.drain()
	h.event("comment_updated.json") // a retry after the correction went out
	h.drain()
	msgs := h.tg.messages()
	if len(msgs) != 2 {
		t.Fatalf("sent %d messages, want the reply and one correction: %+v", len(msgs), msgs)
	}
	const head = "<i>Korrektur unserer vorherigen Antwort:</i>\n" // Anna writes in German
	if !strings.HasPrefix(msgs[1].Text, head) || !strings.Contains(msgs[1].Text, "sorry about that") {
		t.Errorf("the correction reads %q", msgs[1].Text)
	}
	if strings.HasPrefix(msgs[0].Text, head) {
		t.Errorf("the first reply is marked as a correction: %q", msgs[0].Text)
	}
	// A second edit is a second correction; the first edit's record is kept.
	h.eventWith("comment_updated.json", editOf("2025-11-22T11:02:00.000+0100", "Second edit: the label, please."))
	h.drain()
	if msgs = h.tg.messages(); len(msgs) != 3 || !strings.HasPrefix(msgs[2].Text, head) || !strings.Contains(msgs[2].Text, "Second edit") {
		t.Fatalf("after a second edit: %+v", msgs)
	}
	// Forge's event of an edit: ADF, updated after created.
	h.eventWith("forge_commented_adf.json", func(m map[string]any) {
		c := m["comment"].(map[string]any)
		c["jsdPublic"], c["created"], c["updated"] = true, "2025-11-22T11:00:00.000+0100", "2025-11-22T11:30:00.000+0100"
	})
	h.drain()
	if msgs = h.tg.messages(); len(msgs) != 4 || !strings.HasPrefix(msgs[3].Text, head) || !strings.Contains(msgs[3].Text, "approved") {
		t.Fatalf("after Forge's edit event: %+v", msgs)
	}
}

func TestAnEditedCommentInGermanIsMarkedInGerman(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"language": "de"})
	h.sendFixture("update_text.json")
	h.drain()
	h.event("comment_updated.json")
	h.drain()
	msgs := h.tg.messages()
	if len(msgs) == 0 || !strings.HasPrefix(msgs[len(msgs)-1].Text, "<i>Korrektur unserer vorherigen Antwort:</i>") {
		t.Fatalf("sent %+v", msgs)
	}
}

func TestEditsOfInternalCommentsNeverLeaveJira(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c map[string]any)
	}{
		{"jsdPublic false", func(c map[string]any) { c["jsdPublic"] = false }},
		{"visibility restriction", func(c map[string]any) {
			delete(c, "jsdPublic")
			c["visibility"] = map[string]any{"type": "role", "value": "Service Desk Team"}
		}},
		{"unclear, no property: fail closed", func(c map[string]any) { delete(c, "jsdPublic") }},
		{"by the app itself", func(c map[string]any) {
			c["author"] = map[string]any{"accountId": appAccount, "accountType": "app"}
		}},
		{"not edited: updated equals created", func(c map[string]any) { c["updated"] = c["created"] }},
		{"updated time unreadable", func(c map[string]any) { c["updated"] = "yesterday" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := conversation(t)
			h.eventWith("comment_updated.json", func(m map[string]any) { tc.mutate(m["comment"].(map[string]any)) })
			h.drain()
			if msgs := h.tg.messages(); len(msgs) != 0 {
				t.Fatalf("sent %+v", msgs)
			}
		})
	}
}

func TestLongReplyIsSentInOrderedPartsWithinTheLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 10000*1; i++ {
		fmt.Fprintf(&b, "Step %d 👍🏽: check the *parcel* & the label <here>. ", i)
		if i%7 == 6 {
			b.WriteString("\n")
		}
	}
	body := b.String()
	h := conversation(t)
	h.eventWith("comment_created_public.json", withBody(body))
	h.drain()
	m := h.tg.messages()
	if len(m) < 3 {
		t.Fatalf("%d parts", len(m))
	}
	want, _, err := format.VisibleText(format.WikiToTelegramHTML(body))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for i, part := range m {
		text, units, err := format.VisibleText(part.Text)
		if err != nil {
			t.Fatalf("part %d is not valid Telegram HTML: %v", i, err)
		}
		if units > 4096 {
			t.Errorf("part %d has %d UTF-16 units", i, units)
		}
		got.WriteString(text)
	}
	if strip(got.String()) != strip(want) {
		t.Error("the parts do not add up to the reply, in order")
	}
	if len(h.slept) != len(m)-1 {
		t.Errorf("paced %d times for %d parts", len(h.slept), len(m))
	}
	for _, d := range h.slept {
		if d < time.Second {
			t.Errorf("paused only %v between parts", d)
		}
	}
}

// strip drops white space, which the splitter may trim at cuts.
func strip(s string) string { return strings.Join(strings.Fields(s), "") }

func TestVeryLongReplyContinuesInANewQueueMessage(t *testing.T) {
	h := conversation(t)
	var b strings.Builder
	for i := 0; b.Len() < 60000; i++ {
		fmt.Fprintf(&b, "Paragraph %05d with some words to fill the line.\n\n", i)
	}
	h.eventWith("comment_created_public.json", withBody(b.String()))
	h.drain()
	m := h.tg.messages()
	if len(m) <= partsPerCall {
		t.Fatalf("%d parts; the test needs more than %d", len(m), partsPerCall)
	}
	last := -1
	for i, part := range m {
		first := strings.Index(part.Text, "Paragraph ")
		var n int
		fmt.Sscanf(part.Text[first:], "Paragraph %05d", &n)
		if n <= last {
			t.Fatalf("part %d starts at paragraph %d after %d: out of order or repeated", i, n, last)
		}
		last = n
	}
}

func TestResolutionTellsTheCustomerAndClosesTheMapping(t *testing.T) {
	h := conversation(t)
	h.event("issue_updated_done.json")
	h.event("issue_updated_done.json") // duplicate delivery
	h.drain()
	m := h.tg.messages()
	if len(m) != 2 || m[0].Text != languages["de"].Resolved || m[1].Text != surveyLanguages["de"].Prompt { // Anna writes in German
		t.Fatalf("sent %+v", m)
	}
	var chat chatRecord
	var rev issueRecord
	st := store{h.env.Storage}
	_, _ = st.get("chat:SUP:telegram:"+annaChat, &chat)
	_, _ = st.get("issue:SUP-1", &rev)
	if chat.Issue != "" || !rev.Resolved {
		t.Fatalf("mapping %+v, reverse %+v", chat, rev)
	}
	h.sendFixture("update_followup.json")
	h.drain()
	if h.jira.issueCount() != 2 || len(h.jira.issue("SUP-1").Comments) != 0 {
		t.Fatal("the next message did not open a new request")
	}
}

func TestCustomResolutionMessage(t *testing.T) {
	h := conversation(t)
	h.configure(map[string]any{"botToken": nil, "resolutionMessage": "Done & dusted <3"})
	h.event("issue_updated_done.json")
	h.drain()
	if m := h.tg.messages(); len(m) != 2 || m[0].Text != "Done &amp; dusted &lt;3" {
		t.Fatalf("sent %+v", m)
	}
}

// Jira delivers webhooks in no particular order: an update written before
// the resolution (here: the request moved back to waiting for support)
// may arrive after it, still showing the older status. It reopens nothing:
// Jira, asked, says the request is resolved, and the customer's next
// message opens a new request.
func TestAStaleStatusArrivingAfterTheResolutionReopensNothing(t *testing.T) {
	h := conversation(t)
	h.event("issue_updated_done.json")
	h.drain()
	stale := load(t, "jira/issue_updated_reopened.json") // not followed: Jira has moved on
	if err := h.b.Event(h.env.Env, &abi.Event{Context: h.ctx, Trigger: "jira-events", Type: "avi:jira:updated:issue", Payload: stale}); err != nil {
		t.Fatal(err)
	}
	var rev issueRecord
	_, _ = (store{h.env.Storage}).get("issue:SUP-1", &rev)
	if !rev.Resolved {
		t.Fatal("a stale status reopened the request")
	}
	h.sendFixture("update_followup.json")
	h.drain()
	if h.jira.issueCount() != 2 || len(h.jira.issue("SUP-1").Comments) != 0 {
		t.Fatal("the message after the resolution did not open a new request")
	}
}

func TestReopenedRequestIsReattachedUnlessTheChatMovedOn(t *testing.T) {
	t.Run("no newer request", func(t *testing.T) {
		h := conversation(t)
		h.event("issue_updated_done.json")
		h.event("issue_updated_reopened.json")
		h.drain()
		h.sendFixture("update_followup.json")
		h.drain()
		if h.jira.issueCount() != 1 || len(h.jira.issue("SUP-1").Comments) != 1 {
			t.Fatal("the message after a reopening did not go to the reopened request")
		}
	})
	t.Run("the chat opened a newer request", func(t *testing.T) {
		h := conversation(t)
		h.event("issue_updated_done.json")
		h.drain()
		h.sendFixture("update_followup.json")
		h.drain()
		h.event("issue_updated_reopened.json")
		h.send(h.text(5123456789, "and another thing"))
		h.drain()
		if c := h.jira.issue("SUP-2").Comments; len(c) != 1 {
			t.Fatalf("SUP-2 comments %+v", c)
		}
		var rev issueRecord
		_, _ = (store{h.env.Storage}).get("issue:SUP-1", &rev)
		if rev.Resolved {
			t.Error("SUP-1 still marked resolved")
		}
		// Agents may still answer on the reopened request.
		h.event("comment_created_public.json")
		h.drain()
		if m := h.tg.messages(); !strings.Contains(m[len(m)-1].Text, "parcel label") {
			t.Error("a reply on the reopened request did not reach the customer")
		}
	})
}

func TestTelegramRateLimitAsksForRetryAfter(t *testing.T) {
	h := conversation(t)
	h.tg.fail("sendMessage", string(load(t, "telegram/error_429.json")))
	h.event("comment_created_public.json")
	p := h.env.Pushed.Take()
	if res := h.deliver(p[0], 1); res.RetryAfterSeconds != 17 {
		t.Fatalf("RetryAfterSeconds %d, want 17", res.RetryAfterSeconds)
	}
	if res := h.deliver(p[0], 2); res.RetryAfterSeconds != 0 {
		t.Fatalf("second attempt %+v", res)
	}
	if n := len(h.tg.messages()); n != 1 {
		t.Fatalf("sent %d", n)
	}
}

func TestRateLimitInTheMiddleOfALongReplyResendsNothing(t *testing.T) {
	h := conversation(t)
	var b strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "Sentence %03d of the long answer, consectetur adipiscing elit. ", i)
	}
	body := b.String()
	h.eventWith("comment_created_public.json", withBody(body))
	p := h.env.Pushed.Take()
	// The first part goes through, the second hits flood control.
	h.tg.mu.Lock()
	h.tg.faults["sendMessage"] = nil
	h.tg.mu.Unlock()
	calls := 0
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if strings.HasSuffix(req.URL, "/sendMessage") {
			calls++
			if calls == 2 {
				return tgError(string(load(t, "telegram/error_429.json"))), nil
			}
		}
		return inner(req)
	}
	if res := h.deliver(p[0], 1); res.RetryAfterSeconds != 17 {
		t.Fatalf("first attempt %+v", res)
	}
	h.deliver(p[0], 2)
	m := h.tg.messages()
	seen := map[string]bool{}
	for _, x := range m {
		if seen[x.Text] {
			t.Fatal("a part was sent twice")
		}
		seen[x.Text] = true
	}
	if len(m) < 3 || !strings.HasPrefix(m[0].Text, "Sentence 000") {
		t.Fatalf("sent %d parts", len(m))
	}
}

func TestBlockedCustomerIsMarkedAndAgentsAreTold(t *testing.T) {
	h := conversation(t)
	h.tg.fail("sendMessage", string(load(t, "telegram/error_403_blocked.json")))
	h.event("comment_created_public.json")
	p := h.env.Pushed.Take()
	if res := h.deliver(p[0], 1); res.RetryAfterSeconds != 0 {
		t.Fatalf("a block was retried: %+v", res)
	}
	var chat chatRecord
	_, _ = (store{h.env.Storage}).get("chat:SUP:telegram:"+annaChat, &chat)
	if !chat.Blocked || chat.Issue != "SUP-1" {
		t.Fatalf("mapping %+v", chat)
	}
	notes := func() (n int) {
		for _, c := range h.jira.issue("SUP-1").Comments {
			if !c.Public && strings.Contains(c.Body, "not delivered") {
				n++
			}
		}
		return n
	}
	if notes() != 1 {
		t.Fatalf("comments %+v", h.jira.issue("SUP-1").Comments)
	}
	// The next reply is not attempted, and agents hear of it again.
	sends := h.tg.count("sendMessage")
	h.eventWith("comment_created_public.json", func(m map[string]any) { m["comment"].(map[string]any)["id"] = "10199" })
	h.drain()
	if h.tg.count("sendMessage") != sends || notes() != 2 {
		t.Fatalf("sendMessage %d -> %d, notes %d", sends, h.tg.count("sendMessage"), notes())
	}
}

func TestMigratedGroupMovesTheMapping(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	b, _ := json.Marshal(map[string]any{"update_id": 77, "message": map[string]any{
		"message_id": 1, "from": map[string]any{"id": 6234567890, "is_bot": false, "first_name": "Bob"},
		"chat": map[string]any{"id": -4012345678, "type": "group", "title": "Acme ops"}, "date": 1, "text": "Printer on fire"}})
	h.send(b)
	h.drain()
	h.tg.fail("sendMessage", string(load(t, "telegram/error_400_migrated.json")))
	h.event("comment_created_public.json")
	h.drain()
	m := h.tg.messages()
	if len(m) != 1 || m[0].Chat != "-1001987654321" {
		t.Fatalf("sent %+v", m)
	}
	keys := strings.Join(h.env.Store.Keys(), " ")
	if !strings.Contains(keys, "chat:SUP:telegram:-1001987654321") || strings.Contains(keys, "chat:SUP:telegram:-4012345678") {
		t.Errorf("keys %s", keys)
	}
}

func TestAgentAttachmentsShownInAPublicReplyAreSent(t *testing.T) {
	setup := func(t *testing.T, overrides map[string]any) *harness {
		h := conversation(t)
		if overrides != nil {
			h.configure(overrides)
		}
		var list struct {
			Fields struct {
				Attachment []map[string]any `json:"attachment"`
			} `json:"fields"`
		}
		_ = json.Unmarshal(load(t, "jira/issue_attachments.json"), &list)
		h.jira.attachments = list.Fields.Attachment
		h.jira.content["10200"] = []byte("%PDF-refund")
		h.jira.content["10201"] = []byte("secret warehouse notes")
		h.jira.properties["10106"] = string(load(t, "jira/property_public.json"))
		return h
	}
	t.Run("public attachment follows the text", func(t *testing.T) {
		h := setup(t, nil)
		h.event("forge_commented_adf.json")
		h.drain()
		m := h.tg.messages()
		if len(m) != 2 || m[1].Method != "sendDocument" || m[1].File != "refund-form.pdf" || string(m[1].Data) != "%PDF-refund" {
			t.Fatalf("sent %+v", m)
		}
		for _, x := range m {
			if strings.Contains(string(x.Data), "warehouse") {
				t.Fatal("an attachment no public comment shows was sent")
			}
		}
	})
	t.Run("attachmentsOut off", func(t *testing.T) {
		h := setup(t, map[string]any{"attachmentsOut": false, "botToken": nil})
		h.event("forge_commented_adf.json")
		h.drain()
		if m := h.tg.messages(); len(m) != 1 || m[0].Method != "sendMessage" {
			t.Fatalf("sent %+v", m)
		}
	})
	t.Run("over 50 MB gives a notice without a link", func(t *testing.T) {
		h := setup(t, nil)
		h.jira.attachments[0]["size"] = 60 << 20
		h.event("forge_commented_adf.json")
		h.drain()
		m := h.tg.messages()
		if len(m) != 2 || m[1].Method != "sendMessage" || !strings.Contains(m[1].Text, "zu groß ist, um sie hier zu senden") || strings.Contains(m[1].Text, "http") {
			t.Fatalf("sent %+v", m)
		}
	})
	t.Run("over the host's download limit gives a notice", func(t *testing.T) {
		h := setup(t, nil)
		inner := h.env.JiraAPI.Handler
		h.env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
			if strings.HasPrefix(req.URL, "/rest/api/3/attachment/content/") {
				return nil, sdk.ErrLimitExceeded
			}
			return inner(req)
		}
		h.event("forge_commented_adf.json")
		h.drain()
		if m := h.tg.messages(); len(m) != 2 || !strings.Contains(m[1].Text, "refund-form.pdf") {
			t.Fatalf("sent %+v", m)
		}
	})
}

func TestCommentsOnUnmappedIssuesAreIgnored(t *testing.T) {
	h := conversation(t)
	h.event("comment_created_public.json", `"SUP-1"`, `"SUP-9"`)
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("queued %d", len(p))
	}
}

func TestTelegramDownForEveryAttemptTellsTheAgents(t *testing.T) {
	h := conversation(t)
	for range MaxAttempts {
		h.tg.fail("sendMessage", `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
	}
	h.event("comment_created_public.json")
	h.drain()
	c := h.jira.issue("SUP-1").Comments
	if len(c) != 1 || c[0].Public || !strings.Contains(c[0].Body, "could not be delivered") {
		t.Fatalf("comments %+v", c)
	}
}

func TestOnlyTheOwnerOfAClaimSends(t *testing.T) {
	// Two event handlers raced past the claim: both queued, the later
	// write owns the record, and only its job sends.
	h := conversation(t)
	h.event("comment_created_public.json")
	first := h.env.Pushed.Take()
	var job outboundJob
	_ = json.Unmarshal(first[0].Payload, &job)
	st := store{h.env.Storage}
	if err := st.put(job.Dedupe, progress{Owner: "other-nonce"}, DedupeTTL); err != nil {
		t.Fatal(err)
	}
	h.deliver(first[0], 1)
	if n := len(h.tg.messages()); n != 0 {
		t.Fatalf("a job that lost the claim sent %d messages", n)
	}
	job.Nonce = "other-nonce"
	payload, _ := json.Marshal(job)
	h.deliver(sdktestPushed(QueueOutbound, payload), 1)
	if n := len(h.tg.messages()); n != 1 {
		t.Fatalf("the owner sent %d messages", n)
	}
}

func TestAChatsInboundAndOutboundWorkShareOneOrderKey(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	in := h.env.Pushed.Take()
	for _, p := range in {
		h.deliver(p, 1)
	}
	h.event("comment_created_public.json")
	out := h.env.Pushed.Take()
	if len(in) != 1 || len(out) != 1 {
		t.Fatalf("pushed %d inbound and %d outbound", len(in), len(out))
	}
	want := chatKey(testProject, "telegram", annaChat)
	if in[0].OrderKey != want || out[0].OrderKey != want {
		t.Fatalf("order keys %q and %q, want both %q", in[0].OrderKey, out[0].OrderKey, want)
	}
}

// An agent's reply (or a JSM automation's comment) that comes back as an
// event while the delivery that created the request is still marking it
// reaches the customer: the request is mapped to its chat at once.
func TestAReplyWhileTheNewRequestIsBeingMarkedReachesTheChat(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.onCallPrefix = "PUT /rest/api/2/issue/SUP-1/properties/"
	h.jira.onCall = func() { h.event("comment_created_public.json") }
	h.sendFixture("update_text.json")
	h.drain()
	if h.jira.onCall != nil {
		t.Fatal("the request was never marked: nothing interleaved")
	}
	if h.jira.issue("SUP-1") == nil || h.jira.creates != 1 {
		t.Fatalf("requests created: %d", h.jira.creates)
	}
	if m := h.tg.messages(); len(m) != 1 || m[0].Chat != annaChat {
		t.Fatalf("sent %+v, want the agent's reply to Anna", m)
	}
}
