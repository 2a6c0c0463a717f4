package bridge

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestFirstMessageCreatesARequestAndFollowUpsComment(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	if n := h.jira.issueCount(); n != 0 {
		t.Fatal("the webhook called Jira before answering")
	}
	pushed := h.env.Pushed.Take()
	if len(pushed) != 1 || pushed[0].Queue != QueueInbound {
		t.Fatalf("pushed %+v", pushed)
	}
	h.deliver(pushed[0], 1)
	is := h.jira.issue("SUP-1")
	if is == nil {
		t.Fatal("no request created")
	}
	if want := "Chat with Anna Schmidt: Hello 👋 my order #4711 has not arrived. Is <b> & \"quoted\" ok?"; is.Summary != want {
		t.Errorf("summary %q, want %q", is.Summary, want)
	}
	if !strings.Contains(is.Description, "*#4711*") || !strings.Contains(is.Description, "Sent by Anna Schmidt via Telegram.") {
		t.Errorf("description %q", is.Description)
	}
	h.sendFixture("update_followup.json")
	h.drain()
	if h.jira.issueCount() != 1 {
		t.Fatalf("a follow-up opened request %d", h.jira.issueCount())
	}
	if c := is.Comments; len(c) != 1 || c[0].Body != "It was supposed to come on Monday." || !c[0].Public {
		t.Fatalf("comments %+v", c)
	}
	var chat chatRecord
	if _, err := (store{h.env.Storage}).get("chat:SUP:telegram:"+annaChat, &chat); err != nil || chat.Issue != "SUP-1" || chat.IssueID != "10042" {
		t.Errorf("mapping %+v", chat)
	}
	var rev issueRecord
	if _, err := (store{h.env.Storage}).get("issue:SUP-1", &rev); err != nil || rev.Chat != annaChat || rev.Project != "SUP" || rev.Channel != "telegram" {
		t.Errorf("reverse mapping %+v", rev)
	}
}

func TestCustomerMarkupNeverBecomesJiraMarkup(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "{color:red}alarm{color} [click|javascript:alert(1)] h1. big"))
	h.drain()
	d := h.jira.issue("SUP-1").Description
	for _, raw := range []string{"{color:red}", "[click|", "\nh1. "} {
		if strings.Contains(d, raw) {
			t.Errorf("description %q carries live markup %q", d, raw)
		}
	}
}

func TestWebhookWithoutTheRightSecretIsRefusedAndCreatesNothing(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	body := load(t, "telegram/update_text.json")
	tests := []struct {
		name   string
		req    abi.WebTriggerRequest
		status uint16
	}{
		{"wrong secret", abi.WebTriggerRequest{Method: "POST", Headers: []abi.Header{{Name: "X-Telegram-Bot-Api-Secret-Token", Value: "guess"}}}, 401},
		{"no secret", abi.WebTriggerRequest{Method: "POST"}, 401},
		{"unknown project", abi.WebTriggerRequest{Method: "POST", Query: []abi.Header{{Name: "project", Value: "NOPE"}}}, 404},
		{"malformed project", abi.WebTriggerRequest{Method: "POST", Query: []abi.Header{{Name: "project", Value: "../x"}}}, 404},
		{"GET", abi.WebTriggerRequest{Method: "GET"}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Context, req.Trigger, req.Body = h.ctx, "telegram-webhook", body
			if req.Query == nil {
				req.Query = []abi.Header{{Name: "project", Value: "SUP"}}
			}
			resp, err := h.b.WebTrigger(h.env.Env, &req)
			if err != nil || resp.Status != tt.status {
				t.Fatalf("got %v %v, want %d", resp, err, tt.status)
			}
			if p := h.env.Pushed.Take(); len(p) != 0 {
				t.Fatalf("queued %d events", len(p))
			}
		})
	}
	h.drain()
	if h.jira.issueCount() != 0 || len(h.env.JiraAPI.Requests()) != 2 {
		t.Fatalf("Jira saw %d requests", len(h.env.JiraAPI.Requests()))
	}
}

func TestDuplicateUpdateHasOneEffect(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.sendFixture("update_text.json") // Telegram retried: our 200 was lost
	pushed := h.env.Pushed.Take()
	// Before a consumer touched the claim, the retry queues the event again
	// under the claim's own nonce (the first delivery may have died before
	// its push); both jobs are one piece of work.
	if len(pushed) != 2 || jobNonce(t, pushed[0]) != jobNonce(t, pushed[1]) {
		t.Fatalf("the duplicate was queued as other work: %d jobs", len(pushed))
	}
	// The host delivers the queued jobs, one of them twice (at-least-once).
	h.deliver(pushed[0], 1)
	h.deliver(pushed[0], 1)
	h.deliver(pushed[1], 1)
	h.drain()
	// Once the work has begun, a further duplicate queues nothing.
	h.sendFixture("update_text.json")
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("a duplicate of finished work was queued: %d", len(p))
	}
	if h.jira.creates != 1 || len(h.jira.issue("SUP-1").Comments) != 0 {
		t.Fatalf("creates %d, comments %d", h.jira.creates, len(h.jira.issue("SUP-1").Comments))
	}
	// A week later the same update id is new again (Telegram reuses ids).
	h.advance(DedupeTTL + time.Hour)
	h.sendFixture("update_text.json")
	if p := h.env.Pushed.Take(); len(p) != 1 {
		t.Fatalf("after the dedupe window: %d pushes", len(p))
	}
}

func TestRetryAfterAPartialFailureCreatesNoSecondRequest(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.tg.files["AgACAgIAAxkBAAIEu2dLarge"] = []byte("JPEG-label")
	// The request is created, then the upload fails twice.
	h.jira.fail("POST", "/rest/servicedeskapi/servicedesk/2/attachTemporaryFile", 503, 2)
	h.sendFixture("update_photo.json")
	h.drain()
	if h.jira.creates != 1 {
		t.Fatalf("%d requests created", h.jira.creates)
	}
	is := h.jira.issue("SUP-1")
	if len(is.Attached) != 1 || string(is.Attached[0].Data[0]) != "JPEG-label" {
		t.Fatalf("attachments %+v", is.Attached)
	}
	if len(h.retries) != 2 || h.retries[0] == 0 {
		t.Errorf("retries %v", h.retries)
	}
	if len(is.Comments) != 0 || is.Attached[0].Comment != "" || !strings.Contains(is.Description, "The _label_") {
		t.Errorf("caption must be in the description only once: comments %+v attach %q", is.Comments, is.Attached[0].Comment)
	}
}

func TestAttachmentsReachTheRequest(t *testing.T) {
	t.Run("photo with caption on an open request", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.sendFixture("update_text.json")
		h.tg.files["AgACAgIAAxkBAAIEu2dLarge"] = []byte("JPEG")
		h.sendFixture("update_photo.json")
		h.drain()
		is := h.jira.issue("SUP-1")
		if len(is.Attached) != 1 {
			t.Fatalf("attached %+v", is.Attached)
		}
		a := is.Attached[0]
		if !a.Public || a.Names[0] != "photo_1211.jpg" || a.Comment != "The _label_" || len(is.Comments) != 0 {
			t.Errorf("attachment %+v, comments %+v", a, is.Comments)
		}
	})
	t.Run("document", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.sendFixture("update_text.json")
		h.tg.files["BQACAgIAAxkBAAIEvGdInvoice"] = []byte("%PDF-1.7")
		h.sendFixture("update_document.json")
		h.drain()
		a := h.jira.issue("SUP-1").Attached
		if len(a) != 1 || a[0].Names[0] != "invoice-4711.pdf" || string(a[0].Data[0]) != "%PDF-1.7" {
			t.Fatalf("attached %+v", a)
		}
	})
	t.Run("album that opens a request lands on one request", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.tg.files["AgACAgIAAxkBAAIEvmdAlbum1"] = []byte("A1")
		h.tg.files["AgACAgIAAxkBAAIEv2dAlbum2"] = []byte("A2")
		h.sendFixture("update_album_1.json")
		h.sendFixture("update_album_2.json")
		jobs := h.env.Pushed.Take()
		// The second photo is consumed while the first is creating the request.
		h.jira.onCreate = func() { h.deliver(jobs[1], 1) }
		h.deliver(jobs[0], 1)
		h.drain()
		if h.jira.creates != 1 {
			t.Fatalf("the album opened %d requests", h.jira.creates)
		}
		a := h.jira.issue("SUP-1").Attached
		if len(a) != 2 || string(a[0].Data[0]) != "A1" || string(a[1].Data[0]) != "A2" {
			t.Fatalf("attached %+v", a)
		}
	})
	t.Run("file over 20 MB", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.sendFixture("update_text.json")
		h.sendFixture("update_document_oversize.json")
		h.drain()
		if h.tg.count("getFile") != 0 {
			t.Error("downloaded a file known to be over the limit")
		}
		is := h.jira.issue("SUP-1")
		var public, internal []string
		for _, c := range is.Comments {
			if c.Public {
				public = append(public, c.Body)
			} else {
				internal = append(internal, c.Body)
			}
		}
		if len(public) != 1 || public[0] != "Video of the damage" {
			t.Errorf("caption comment %q", public)
		}
		if len(internal) != 1 || !strings.Contains(internal[0], "unboxing.mov") || !strings.Contains(internal[0], "70.0 MB") {
			t.Errorf("internal note %q", internal)
		}
		m := h.tg.messages()
		if len(m) != 1 || m[0].Text != fill(languages["de"].TooLarge, "{name}", "unboxing.mov") { // Anna writes in German
			t.Errorf("customer notice %+v", m)
		}
	})
	t.Run("file Telegram says is too big", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.sendFixture("update_text.json")
		h.tg.fileSizes["AwACAgIAAxkBAAIEwGdVoice"] = 25 << 20
		h.tg.files["AwACAgIAAxkBAAIEwGdVoice"] = nil
		h.sendFixture("update_voice.json")
		h.drain()
		is := h.jira.issue("SUP-1")
		if len(is.Attached) != 0 || len(is.Comments) != 1 || is.Comments[0].Public {
			t.Fatalf("comments %+v attached %+v", is.Comments, is.Attached)
		}
	})
	t.Run("kind the project does not accept", func(t *testing.T) {
		h := newHarness(t)
		h.configure(map[string]any{"attachmentsIn": []string{"photo", "document"}})
		h.sendFixture("update_sticker.json")
		h.drain()
		if h.jira.creates != 0 || h.tg.count("getFile") != 0 {
			t.Fatal("a refused sticker reached Jira")
		}
		if m := h.tg.messages(); len(m) != 1 || m[0].Text != languages["de"].NotAccepted {
			t.Fatalf("notice %+v", m)
		}
	})
}

func TestCommands(t *testing.T) {
	t.Run("/start greets and opens nothing", func(t *testing.T) {
		h := newHarness(t)
		h.configure(map[string]any{"greeting": "Welcome to Acme <support> & co!"})
		h.sendFixture("update_start.json")
		h.drain()
		m := h.tg.messages()
		if len(m) != 1 || m[0].Text != "Welcome to Acme &lt;support&gt; &amp; co!" || m[0].ParseMode != "HTML" || m[0].Chat != annaChat {
			t.Fatalf("greeting %+v", m)
		}
		if h.jira.creates != 0 {
			t.Fatal("/start opened a request")
		}
	})
	t.Run("/help explains", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		u := strings.Replace(string(h.text(5123456789, "/help")), `"text":"/help"`, `"text":"/help","entities":[{"type":"bot_command","offset":0,"length":5}]`, 1)
		h.send([]byte(u))
		h.drain()
		m := h.tg.messages()
		if len(m) != 1 || !strings.Contains(m[0].Text, "/status") || !strings.Contains(m[0].Text, "/new") {
			t.Fatalf("help %+v", m)
		}
		if h.jira.creates != 0 {
			t.Fatal("/help opened a request")
		}
	})
	t.Run("/status without and with a request", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		status := func() string {
			u := strings.Replace(string(h.text(5123456789, "/status")), `"text":"/status"`, `"text":"/status","entities":[{"type":"bot_command","offset":0,"length":7}]`, 1)
			h.send([]byte(u))
			h.drain()
			m := h.tg.messages()
			return m[len(m)-1].Text
		}
		if got := status(); !strings.Contains(got, "no open request") {
			t.Errorf("without a request: %q", got)
		}
		h.sendFixture("update_text.json")
		h.drain()
		h.jira.issue("SUP-1").Status = "Waiting for customer"
		if got := status(); got != "Ihre Anfrage SUP-1: Waiting for customer" { // Anna writes in German
			t.Errorf("with a request: %q", got)
		}
	})
	t.Run("/new makes the next message a new request", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.sendFixture("update_text.json")
		u := strings.Replace(string(h.text(5123456789, "/new")), `"text":"/new"`, `"text":"/new","entities":[{"type":"bot_command","offset":0,"length":4}]`, 1)
		h.send([]byte(u))
		h.send(h.text(5123456789, "Another question"))
		h.drain()
		if h.jira.issueCount() != 2 || h.jira.issue("SUP-2").Summary != "Chat with Anna Schmidt: Another question" {
			t.Fatalf("requests %d", h.jira.issueCount())
		}
		if len(h.jira.issue("SUP-1").Comments) != 0 {
			t.Error("the message after /new went to the old request")
		}
	})
}

func TestEditedMessageIsCommentedAsAnEdit(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.sendFixture("update_followup.json")
	h.sendFixture("update_edit.json")
	h.drain()
	c := h.jira.issue("SUP-1").Comments
	if len(c) != 2 || c[1].Body != "(edited) It was supposed to come on Tuesday." {
		t.Fatalf("comments %+v", c)
	}
}

func TestEditOutsideAnOpenRequestOpensNothing(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_edit.json")
	h.drain()
	if h.jira.creates != 0 {
		t.Fatal("an edit opened a request")
	}
}

func TestReplyQuotesTheEarlierMessage(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.sendFixture("update_reply.json")
	h.drain()
	c := h.jira.issue("SUP-1").Comments
	want := "{quote}Could you send us a photo of the parcel label?{quote}\nSure, one moment."
	if len(c) != 1 || c[0].Body != want {
		t.Fatalf("comments %+v, want %q", c, want)
	}
}

func TestGroupChatCommentsNameTheSender(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	group := func(id int, text string) []byte {
		b, _ := json.Marshal(map[string]any{"update_id": id, "message": map[string]any{
			"message_id": id, "from": map[string]any{"id": 6234567890, "is_bot": false, "first_name": "Bob"},
			"chat": map[string]any{"id": -1001987654321, "type": "supergroup", "title": "Acme ops"}, "date": 1, "text": text}})
		return b
	}
	h.send(group(1, "Printer on fire"))
	h.send(group(2, "Still burning"))
	h.drain()
	c := h.jira.issue("SUP-1").Comments
	if len(c) != 1 || c[0].Body != "*Bob:* Still burning" {
		t.Fatalf("comments %+v", c)
	}
}

func TestMappedRequestDeletedInJiraOpensANewOne(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.drain()
	h.jira.mu.Lock()
	delete(h.jira.issues, "SUP-1")
	h.jira.mu.Unlock()
	h.sendFixture("update_followup.json")
	h.drain()
	is := h.jira.issue("SUP-2")
	if is == nil || !strings.Contains(is.Description, "supposed to come on Monday") {
		t.Fatalf("follow-up after the request vanished: %+v", is)
	}
}

func TestJiraRateLimitIsRetriedAfterItsRetryAfter(t *testing.T) {
	tests := []struct {
		name    string
		status  uint16
		headers []abi.Header
		want    uint32
	}{
		{"429 with Retry-After", 429, []abi.Header{{Name: "Retry-After", Value: "30"}}, 30},
		{"429 without Retry-After", 429, nil, 10},
		{"503", 503, nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.configure(nil)
			h.jira.fail("POST", "/rest/servicedeskapi/request", tt.status, 1, tt.headers...)
			h.sendFixture("update_text.json")
			p := h.env.Pushed.Take()
			if res := h.deliver(p[0], 1); res.RetryAfterSeconds != tt.want {
				t.Fatalf("RetryAfterSeconds %d, want %d", res.RetryAfterSeconds, tt.want)
			}
			if res := h.deliver(p[0], 2); res.RetryAfterSeconds != 0 {
				t.Fatalf("second attempt: %+v", res)
			}
			if h.jira.creates != 1 || len(h.tg.messages()) != 0 {
				t.Fatalf("creates %d, messages %+v", h.jira.creates, h.tg.messages())
			}
		})
	}
}

func TestPermanentJiraFailureTellsTheCustomer(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.fail("POST", "/rest/servicedeskapi/request", 400, 1)
	h.sendFixture("update_text.json")
	h.drain()
	m := h.tg.messages()
	if len(m) != 1 || m[0].Text != languages["de"].Failed {
		t.Fatalf("messages %+v", m)
	}
	if len(h.retries) != 0 {
		t.Errorf("a 400 was retried: %v", h.retries)
	}
	// The failed opening does not hold up the chat's next message.
	h.sendFixture("update_followup.json")
	h.drain()
	if h.jira.creates != 1 {
		t.Fatalf("next message: %d requests", h.jira.creates)
	}
	for _, r := range h.env.Logs.Records() {
		if strings.Contains(r.Message, "waiting") {
			t.Fatal("the next message waited for an opening that had failed")
		}
	}
}

func TestBlockingTheBotIsRecordedAndAgentsAreTold(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.sendFixture("update_my_chat_member_kicked.json")
	h.drain()
	var chat chatRecord
	st := store{h.env.Storage}
	_, _ = st.get("chat:SUP:telegram:"+annaChat, &chat)
	if !chat.Blocked {
		t.Fatal("chat not marked blocked")
	}
	c := h.jira.issue("SUP-1").Comments
	if len(c) != 1 || c[0].Public || !strings.Contains(c[0].Body, "blocked the bot") {
		t.Fatalf("note %+v", c)
	}
	h.sendFixture("update_my_chat_member_member.json")
	h.drain()
	_, _ = st.get("chat:SUP:telegram:"+annaChat, &chat)
	if chat.Blocked {
		t.Fatal("chat still blocked after the customer allowed the bot again")
	}
}

func TestDisabledProjectAcknowledgesButIgnoresUpdates(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	secret := h.tg.secret()
	h.configure(map[string]any{"enabled": false, "botToken": nil})
	if h.tg.deleted != 1 {
		t.Errorf("disabling did not remove the webhook")
	}
	// A delivery Telegram had already sent is acknowledged, not retried forever.
	if resp := h.post(load(t, "telegram/update_text.json"), secret); resp.Status != 200 {
		t.Errorf("late delivery to a disabled project: %d", resp.Status)
	}
	if resp := h.post(load(t, "telegram/update_text.json"), "wrong"); resp.Status != 401 {
		t.Errorf("unauthenticated delivery to a disabled project: %d", resp.Status)
	}
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("queued %d", len(p))
	}
}

func TestWebhookAnswersFastEvenWhenJiraIsDown(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.env.JiraAPI.Handler = func(*abi.Request) (*abi.Response, error) {
		t.Error("the web trigger called Jira")
		return nil, nil
	}
	h.sendFixture("update_text.json")
	if p := h.env.Pushed.Take(); len(p) != 1 || !bytes.Contains(p[0].Payload, []byte(`"chat":"5123456789"`)) {
		t.Fatalf("queued %+v", p)
	}
}

func TestJiraDownForEveryAttemptTellsTheCustomerOnTheLast(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.fail("POST", "/rest/servicedeskapi/request", 503, MaxAttempts)
	h.sendFixture("update_text.json")
	h.drain()
	// Every attempt asks for a retry: after the last one the host keeps the
	// message as a dead letter to replay.
	if len(h.retries) != MaxAttempts {
		t.Errorf("retries %v", h.retries)
	}
	if m := h.tg.messages(); len(m) != 1 || m[0].Text != languages["de"].Failed {
		t.Fatalf("messages %+v", m)
	}
}

func TestADeadLetterReplayedAfterTheOutageCarriesOn(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.fail("POST", "/rest/servicedeskapi/request", 503, MaxAttempts)
	h.sendFixture("update_text.json")
	pushed := h.env.Pushed.Take()
	if len(pushed) != 1 {
		t.Fatalf("pushed %d", len(pushed))
	}
	for attempt := uint32(1); attempt <= MaxAttempts; attempt++ {
		if res := h.deliver(pushed[0], attempt); res.RetryAfterSeconds == 0 {
			t.Fatalf("attempt %d gave up instead of asking for a retry", attempt)
		}
	}
	// The operator replays the dead letter once Jira is back: attempt 1 again.
	if res := h.deliver(pushed[0], 1); res.RetryAfterSeconds != 0 {
		t.Fatalf("replay asked for a retry: %+v", res)
	}
	if h.jira.issue("SUP-1") == nil {
		t.Fatal("the replay opened no request")
	}
	if m := h.tg.messages(); len(m) != 1 {
		t.Fatalf("the customer was told %d times: %+v", len(m), m)
	}
}

func jobNonce(t *testing.T, p sdktest.Pushed) string {
	t.Helper()
	var j struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(p.Payload, &j); err != nil || j.Nonce == "" {
		t.Fatalf("job %s: %v", p.Payload, err)
	}
	return j.Nonce
}

func TestAClaimWhoseDeliveryDiedBeforeQueuingIsQueuedByTheRetry(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	// A delivery claimed the update, then the host died before the push.
	st := store{h.env.Env.Storage}
	key := inboundDedupeKey("tg", testProject, "861432017")
	if won, err := st.claim(key, "deadbeefdeadbeef"); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	h.sendFixture("update_text.json") // Telegram retries: no 200 came
	pushed := h.env.Pushed.Take()
	if len(pushed) != 1 || jobNonce(t, pushed[0]) != "deadbeefdeadbeef" {
		t.Fatalf("the retry queued %d jobs", len(pushed))
	}
	h.deliver(pushed[0], 1)
	h.drain()
	if h.jira.creates != 1 {
		t.Fatalf("creates %d", h.jira.creates)
	}
}
