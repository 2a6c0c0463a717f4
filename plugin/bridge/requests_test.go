package bridge

import (
	"github.com/chatbridge/chatbridge/plugin/channel"
	"strings"
	"testing"
)

// twoRequests opens SUP-1, starts another request with /new and opens
// SUP-2 from annaChat.
func twoRequests(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	h.send(command(h, annaChat64, "/new"))
	h.drain()
	h.send(h.text(annaChat64, "And my invoice is wrong"))
	h.drain()
	if h.jira.issueCount() != 2 || !strings.Contains(h.jira.issue("SUP-2").Summary, "invoice") {
		t.Fatalf("%d requests, want two", h.jira.issueCount())
	}
	return h
}

func TestAReplyOnAnotherOpenRequestSaysWhichRequestItAnswers(t *testing.T) {
	h := twoRequests(t)
	h.event("comment_created_public.json") // on SUP-1, the older request
	h.drain()
	last := lastText(h)
	if !strings.HasPrefix(last, "<i>[SUP-1]</i>") && !strings.HasPrefix(last, "[SUP-1]") {
		t.Fatalf("reply on SUP-1 while the chat writes to SUP-2 arrived as %q", last)
	}
	// Once SUP-1 is resolved, a reply on SUP-2 needs no key.
	h.event("issue_updated_done.json")
	h.drain()
	h.event("comment_created_public.json", `"SUP-1"`, `"SUP-2"`, `"10042"`, `"10043"`, `"10101"`, `"10102"`)
	h.drain()
	replies := 0
	for _, m := range h.tg.messages() {
		if strings.Contains(m.Text, "[SUP-2]") {
			t.Errorf("a reply on the chat's only open request is tagged: %q", m.Text)
		}
		if strings.Contains(m.Text, "sorry about that") {
			replies++
		}
	}
	if replies != 2 {
		t.Errorf("%d replies arrived, want the one on SUP-1 and the one on SUP-2", replies)
	}
}

func TestRequestsListsTheOpenRequestsAndAPressChoosesWhereTheCustomerWrites(t *testing.T) {
	h := twoRequests(t)
	h.send(h.text(annaChat64, "/requests"))
	h.drain()
	m := h.tg.messages()
	list := m[len(m)-1]
	for _, want := range []string{"req:SUP-2", "req:SUP-1", "req:new", "SUP-2 (current)"} {
		if !strings.Contains(list.Markup, want) {
			t.Fatalf("/requests keyboard %s lacks %q", list.Markup, want)
		}
	}
	if strings.Index(list.Markup, "req:SUP-2") > strings.Index(list.Markup, "req:SUP-1") {
		t.Errorf("the current request is not first: %s", list.Markup)
	}
	h.send(h.press(annaChat64, "req:SUP-1"))
	h.drain()
	if !strings.Contains(lastText(h), "now writing to SUP-1") {
		t.Fatalf("press answered %q", lastText(h))
	}
	before := len(h.jira.issue("SUP-1").Comments)
	h.send(h.text(annaChat64, "Any news on the parcel?"))
	h.drain()
	if got := h.jira.issue("SUP-1").Comments; len(got) != before+1 || !strings.Contains(got[len(got)-1].Body, "Any news") {
		t.Fatalf("the message did not reach the chosen request SUP-1: %+v", got)
	}
	if h.jira.issueCount() != 2 {
		t.Errorf("%d requests after choosing", h.jira.issueCount())
	}
	// A button for a request not this chat's, or typed by hand, changes nothing.
	h.send(h.press(annaChat64, "req:SUP-9"))
	h.drain()
	if !strings.Contains(lastText(h), "no longer open") {
		t.Errorf("a foreign request's button answered %q", lastText(h))
	}
	// "New request" starts a third.
	h.send(h.press(annaChat64, "req:new"))
	h.send(h.text(annaChat64, "A third thing"))
	h.drain()
	if h.jira.issueCount() != 3 {
		t.Errorf("%d requests after New request, want 3", h.jira.issueCount())
	}
}

func TestNewAndRequestsAreUnderstoodAsText(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"/new", "new"}, {" /NEW ", "new"}, {"/requests", "requests"}, {"/requests@SupportBot", "requests"},
		{"/new request please", ""}, {"new", ""},
	} {
		if got := textCommand(&channel.Inbound{Kind: channel.Message, Plain: tc.text}); got != tc.want {
			t.Errorf("textCommand(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
