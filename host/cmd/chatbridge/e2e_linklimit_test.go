package main

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

// The limit on /link EMAIL (plugin/bridge/linklimit.go), through the edge,
// the wasm module and the simulators: a second /link for the same address
// within the quarter hour makes JSM email nothing, and the chat is told
// politely why.

func outbox(t *testing.T, s *stacktest.Stack, email string) []jira.Email {
	t.Helper()
	var box []jira.Email
	s.Call(t, "GET", "/_sim/jira/outbox?to="+url.QueryEscape(email), nil, &box, http.StatusOK)
	return box
}

func TestE2EIdentity_ASecondLinkForTheSameAddressSendsNoSecondEmail(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	resolve(t, s, "config.set", map[string]any{"projectKey": stack.Project, "identity": "optional"})
	const email = "limit.e2e@example.com"
	chat := stacktest.NewChat()

	s.Say(t, chat, "/link "+email)
	s.WaitText(t, chat, "emailed it a code")
	_, linkKey := codeMail(t, s, email)
	s.Settle(t)
	mails := len(outbox(t, s, email))
	links := 0
	for _, r := range reportedRequests(t, s) {
		if slices.Contains(r.Labels, "chatbridge-link") {
			links++
		}
	}
	if links != 1 {
		t.Fatalf("%d link requests after the first /link (%s), want 1", links, linkKey)
	}

	s.Say(t, chat, "/link "+email)
	s.WaitText(t, chat, "less than 15 minutes ago")
	s.Settle(t)
	if got := len(outbox(t, s, email)); got != mails {
		t.Errorf("the second /link within the quarter hour sent %d more emails to the address", got-mails)
	}
	for _, r := range reportedRequests(t, s) {
		if slices.Contains(r.Labels, "chatbridge-link") && r.Key != linkKey {
			t.Errorf("the second /link raised another link request %s", r.Key)
		}
	}
	if n := s.CountText(t, chat, "emailed it a code"); n != 1 {
		t.Errorf("the chat was told %d times that a code was emailed, want once", n)
	}
}
