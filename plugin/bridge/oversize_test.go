package bridge

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// A correctly signed delivery whose event is over the queue's payload cap
// can never be queued: it is answered 200 (every messenger retries
// anything else, Viber for an hour and WhatsApp for days) and dropped, on
// every channel alike; the next event goes through (issue 21, item 2).
func TestAnEventTooLargeToQueueIsAnswered200AndDroppedOnEveryChannel(t *testing.T) {
	huge := strings.Repeat("x", 900<<10) // over abi.MaxQueuePayloadLen, under the edge's 1 MiB

	channels := []struct {
		name string
		open func(t *testing.T) *harness
		post func(h *harness, text string) *abi.Response
	}{
		{"telegram", func(t *testing.T) *harness {
			h := newHarness(t)
			h.configure(nil)
			return h
		}, func(h *harness, text string) *abi.Response {
			return h.post(h.text(5123456789, text), h.tg.secret())
		}},
		{"viber", func(t *testing.T) *harness {
			h, _ := viberConversation(t)
			return h
		}, func(h *harness, text string) *abi.Response {
			h.seq++
			body := viberText(4912661846655238145+int64(h.seq), text)
			return h.viberPost(body, hmacHex([]byte(viberToken), body))
		}},
		{"whatsapp", func(t *testing.T) *harness {
			h, _ := whatsappConversation(t)
			return h
		}, func(h *harness, text string) *abi.Response {
			h.seq++
			body := waText("wamid.Z"+strings.Repeat("z", h.seq), text)
			return h.waPost(body, "sha256="+hmacHex([]byte(waApp), body))
		}},
	}
	for _, ch := range channels {
		t.Run(ch.name, func(t *testing.T) {
			h := ch.open(t)
			h.drain()
			issues := h.jira.issueCount()
			h.env.Pushed.Take()

			if r := ch.post(h, huge); r.Status != 200 {
				t.Fatalf("an oversize event answered %d, want 200", r.Status)
			}
			if p := h.env.Pushed.Take(); len(p) != 0 {
				t.Fatalf("%d pushes for an oversize event", len(p))
			}
			var dropped bool
			for _, r := range h.env.Logs.Records() {
				dropped = dropped || strings.Contains(r.Message, "too large to queue; dropped")
				for _, a := range r.Attrs {
					if strings.Contains(a.Value, "xxxxxxxx") {
						t.Fatal("the log quotes the message")
					}
				}
			}
			if !dropped {
				t.Error("the drop is not logged")
			}

			// The messenger's next event is queued and handled as usual.
			if r := ch.post(h, "Still there?"); r.Status != 200 {
				t.Fatalf("the next event answered %d", r.Status)
			}
			h.drain()
			if h.jira.issueCount() == issues {
				var found bool
				for _, c := range h.jira.issue("SUP-1").allComments() {
					found = found || strings.Contains(c.Body, "Still there?")
				}
				if !found {
					t.Fatal("the event after the oversize one was lost")
				}
			}
		})
	}
}

// A Jira comment too large to queue for the customer is dropped the same
// way: the event succeeds (Jira gets its 2xx and does not retry).
func TestAJiraCommentTooLargeToQueueIsDropped(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "My parcel is late"))
	h.drain()
	h.env.Pushed.Take()
	huge := strings.Repeat("y", 300<<10)
	payload := strings.Replace(string(load(t, "jira/comment_created_public.json")),
		"Hi Anna, sorry about that!", huge, 1)
	if err := h.b.Event(h.env.Env, &abi.Event{Context: h.ctx, Trigger: "jira-events", Type: "avi:jira:commented:issue", Payload: []byte(payload)}); err != nil {
		t.Fatalf("the event failed (Jira would retry it): %v", err)
	}
	if p := h.env.Pushed.Take(); len(p) != 0 {
		t.Fatalf("%d pushes for an oversize comment", len(p))
	}
	// A normal comment still reaches the customer.
	h.event("comment_created_public.json")
	h.drain()
	if n := len(h.tg.messages()); n == 0 {
		t.Fatal("the next comment did not reach the customer")
	}
}
