package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

// Issue #6, "nothing lost, nothing doubled": the host is killed after a
// Jira call went through and before the step was recorded; the queue then
// delivers the message again with Attempt 2.

// opened runs the chat's first message through, so that SUP-1 is open.
func opened(t *testing.T) *harness {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.drain()
	if h.jira.issueCount() != 1 {
		t.Fatalf("%d requests", h.jira.issueCount())
	}
	return h
}

// crashOnce delivers the one queued message until the crash point, then
// again as attempt 2 (and more, as the consumer asks), as the host does.
func (h *harness) crashOnce() {
	h.t.Helper()
	p := h.env.Pushed.Take()
	if len(p) != 1 {
		h.t.Fatalf("%d messages queued", len(p))
	}
	h.deliverCrashing(p[0], 1)
	h.redeliver(p[0], 2)
}

// redeliver delivers p from attempt on, honouring the retries it asks for.
func (h *harness) redeliver(p sdktest.Pushed, attempt uint32) {
	h.t.Helper()
	for ; attempt <= MaxAttempts; attempt++ {
		res := h.deliver(p, attempt)
		if res.RetryAfterSeconds == 0 {
			break
		}
		h.retries = append(h.retries, res.RetryAfterSeconds)
		h.advance(time.Duration(res.RetryAfterSeconds) * time.Second)
	}
	h.drain()
}

// calls counts the Jira calls whose "METHOD URL" contains all of parts.
func (h *harness) calls(parts ...string) int {
	n := 0
	for _, r := range h.env.JiraAPI.Requests() {
		call := r.Method + " " + r.URL
		all := true
		for _, p := range parts {
			all = all && strings.Contains(call, p)
		}
		if all {
			n++
		}
	}
	return n
}

func TestACrashAfterCreatingTheRequestOpensItOnce(t *testing.T) {
	tests := []struct {
		name    string
		atWrite bool
	}{
		{"after the request was marked", true},
		{"between creating and marking", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.configure(nil)
			h.sendFixture("update_text.json")
			h.crashAfter("POST", "/rest/servicedeskapi/request", tt.atWrite)
			h.crashOnce()
			if h.jira.creates != 1 {
				t.Fatalf("%d requests created", h.jira.creates)
			}
			is := h.jira.issue("SUP-1")
			if !strings.HasSuffix(is.Op, ".open") {
				t.Errorf("the request is not marked: %q", is.Op)
			}
			var chat chatRecord
			if _, err := (store{h.env.Storage}).get("chat:SUP:telegram:"+annaChat, &chat); err != nil || chat.Issue != "SUP-1" || chat.Opening != "" {
				t.Fatalf("mapping %+v", chat)
			}
			// The conversation goes on in the one request.
			h.sendFixture("update_followup.json")
			h.drain()
			if h.jira.issueCount() != 1 || len(is.Comments) != 1 {
				t.Fatalf("%d requests, comments %+v", h.jira.issueCount(), is.Comments)
			}
		})
	}
}

func TestARedeliveryRightAfterTheCrashWaitsForJirasSearch(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.searchLag = 5 * time.Second
	h.sendFixture("update_text.json")
	h.crashAfter("POST", "/rest/servicedeskapi/request", true)
	p := h.env.Pushed.Take()
	h.deliverCrashing(p[0], 1)
	if res := h.deliver(p[0], 2); res.RetryAfterSeconds != uint32(indexLag/time.Second) {
		t.Fatalf("the search right after the crash was taken as conclusive: %+v", res)
	}
	h.advance(indexLag)
	h.redeliver(p[0], 3)
	if h.jira.creates != 1 {
		t.Fatalf("%d requests created", h.jira.creates)
	}
}

func TestARefusedCreationIsRetriedWithoutASearch(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.fail("POST", "/rest/servicedeskapi/request", 429, 1)
	h.sendFixture("update_text.json")
	h.drain()
	if h.jira.creates != 1 || h.calls("search/jql") != 0 {
		t.Fatalf("%d created, %d searches", h.jira.creates, h.calls("search/jql"))
	}
}

func TestAnAmbiguousCreationFailureIsLookedFor(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.jira.fail("POST", "/rest/servicedeskapi/request", 504, 1)
	h.sendFixture("update_text.json")
	h.drain()
	if h.jira.creates != 1 || h.calls("search/jql") == 0 {
		t.Fatalf("%d created, %d searches", h.jira.creates, h.calls("search/jql"))
	}
}

func TestTheSameTextInAnotherChatsRequestIsNotTakenForOurs(t *testing.T) {
	// The crash leaves SUP-1 unmarked; before the redelivery it turns out
	// to be mapped to another chat (as a request with the very summary and
	// description this event makes could be): it is not ours.
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.crashAfter("POST", "/rest/servicedeskapi/request", false)
	p := h.env.Pushed.Take()
	h.deliverCrashing(p[0], 1)
	if err := (store{h.env.Storage}).put(issueKey("SUP-1"), &issueRecord{Project: testProject, Channel: "telegram", Chat: "42"}, 0); err != nil {
		t.Fatal(err)
	}
	h.redeliver(p[0], 2)
	if h.jira.creates != 2 || h.jira.issue("SUP-1").Op != "" {
		t.Fatalf("%d requests created; SUP-1 marked %q", h.jira.creates, h.jira.issue("SUP-1").Op)
	}
	var chat chatRecord
	if _, err := (store{h.env.Storage}).get("chat:SUP:telegram:"+annaChat, &chat); err != nil || chat.Issue != "SUP-2" {
		t.Fatalf("mapping %+v", chat)
	}
}

func TestACrashAfterAFollowUpCommentAddsItOnce(t *testing.T) {
	tests := []struct {
		name    string
		atWrite bool
	}{
		{"after the comment was marked", true},
		{"between commenting and marking", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := opened(t)
			h.sendFixture("update_followup.json")
			h.crashAfter("POST", "/rest/servicedeskapi/request/SUP-1/comment", tt.atWrite)
			h.crashOnce()
			c := h.jira.issue("SUP-1").Comments
			if len(c) != 1 || !c[0].Public || !strings.HasSuffix(c[0].Op, ".text") {
				t.Fatalf("comments %+v", c)
			}
		})
	}
}

func TestAnEarlierIdenticalCommentIsNotTakenForOurs(t *testing.T) {
	// The second "ok" fails with an answer that leaves it in doubt (504,
	// made before Jira took it); its redelivery must find no "ok" of its
	// own and add it.
	t.Run("marked by another delivery", func(t *testing.T) {
		h := opened(t)
		h.send(h.text(5123456789, "ok"))
		h.drain()
		h.send(h.text(5123456789, "ok"))
		h.jira.fail("POST", "/rest/servicedeskapi/request/SUP-1/comment", 504, 1)
		h.drain()
		c := h.jira.issue("SUP-1").Comments
		if len(c) != 2 || c[0].Op == c[1].Op || c[1].Op == "" {
			t.Fatalf("the second \"ok\" was lost or doubled: %+v", c)
		}
	})
	t.Run("unmarked but older than the delivery", func(t *testing.T) {
		h := opened(t)
		is := h.jira.issue("SUP-1")
		is.Comments = append(is.Comments, fakeComment{ID: "19999", Body: "ok", Public: true, Author: appAccount, Created: h.clock().Add(-time.Hour)})
		h.send(h.text(5123456789, "ok"))
		h.jira.fail("POST", "/rest/servicedeskapi/request/SUP-1/comment", 504, 1)
		h.drain()
		c := is.Comments
		if len(c) != 2 || c[0].Op != "" || c[1].Op == "" {
			t.Fatalf("the new \"ok\" was lost or doubled: %+v", c)
		}
	})
}

func TestACrashAfterAnAttachmentAttachesItOnce(t *testing.T) {
	tests := []struct {
		name    string
		atWrite bool
	}{
		{"after its comment was marked", true},
		{"between attaching and marking", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := opened(t)
			h.tg.files["AgACAgIAAxkBAAIEu2dLarge"] = []byte("JPEG")
			h.sendFixture("update_photo.json")
			h.crashAfter("POST", "/rest/servicedeskapi/request/SUP-1/attachment", tt.atWrite)
			h.crashOnce()
			is := h.jira.issue("SUP-1")
			if len(is.Attached) != 1 || is.Attached[0].Comment != "The _label_" || is.Attached[0].Op == "" || len(is.Comments) != 0 {
				t.Fatalf("attached %+v, comments %+v", is.Attached, is.Comments)
			}
		})
	}
}

func TestACrashAfterAnInternalNoteAddsItOnce(t *testing.T) {
	t.Run("the customer blocked the bot", func(t *testing.T) {
		h := opened(t)
		h.sendFixture("update_my_chat_member_kicked.json")
		h.crashAfter("POST", "/rest/api/2/issue/SUP-1/comment", true)
		h.crashOnce()
		c := h.jira.issue("SUP-1").Comments
		if len(c) != 1 || c[0].Public || !strings.HasSuffix(c[0].Op, ".note") {
			t.Fatalf("comments %+v", c)
		}
	})
	t.Run("a reply could not be delivered", func(t *testing.T) {
		h := opened(t)
		h.tg.fail("sendMessage", string(load(t, "telegram/error_403_blocked.json")))
		h.event("comment_created_public.json")
		h.crashAfter("POST", "/rest/api/2/issue/SUP-1/comment", true)
		h.crashOnce()
		c := h.jira.issue("SUP-1").Comments
		if len(c) != 1 || c[0].Public || !strings.Contains(c[0].Body, "not delivered") {
			t.Fatalf("comments %+v", c)
		}
	})
}

func TestTheFirstAttemptLooksForNothing(t *testing.T) {
	h := opened(t)
	h.tg.files["AgACAgIAAxkBAAIEu2dLarge"] = []byte("JPEG")
	h.sendFixture("update_followup.json")
	h.sendFixture("update_photo.json")
	h.sendFixture("update_my_chat_member_kicked.json")
	h.drain()
	if n := len(h.jira.issue("SUP-1").Comments); n != 2 {
		t.Fatalf("%d comments", n)
	}
	if n := h.calls("GET", "/comment?"); n != 0 {
		t.Errorf("%d comment listings on first attempts", n)
	}
	if n := h.calls("search/jql"); n != 0 {
		t.Errorf("%d searches on first attempts", n)
	}
}

func TestOpIDsCarryNoContent(t *testing.T) {
	h := opened(t)
	h.sendFixture("update_followup.json")
	h.drain()
	is := h.jira.issue("SUP-1")
	for _, op := range []string{is.Op, is.Comments[0].Op} {
		if len(op) > 32 || strings.Contains(op, annaChat) || strings.Contains(strings.ToLower(op), "monday") {
			t.Errorf("op id %q", op)
		}
	}
}

func TestAReplayedDeadLetterStillLooksFirst(t *testing.T) {
	// A replay starts at attempt 1 again; the progress record tells it an
	// earlier run was there.
	h := opened(t)
	h.sendFixture("update_followup.json")
	h.crashAfter("POST", "/rest/servicedeskapi/request/SUP-1/comment", true)
	p := h.env.Pushed.Take()
	h.deliverCrashing(p[0], 1)
	h.redeliver(p[0], 1)
	if c := h.jira.issue("SUP-1").Comments; len(c) != 1 {
		t.Fatalf("comments %+v", c)
	}
}
