package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Issue 18, item 1, through the HTTPS edge, the wasm module and the
// Telegram and Jira simulators: a chat proves it controls a customer's
// email with the code JSM's own notification carries, and its requests are
// then raised on the customer's behalf; where the project requires a link,
// an unlinked chat's message reaches nobody.

var e2eCode = regexp.MustCompile(`/link (\S+) ([0-9A-Z]{4}-[0-9A-Z]{4})`)

// reported is a /_sim/jira/requests entry with its reporter and labels.
type reported struct {
	Key         string   `json:"key"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	Reporter    string   `json:"reporter_account_id"`
	Labels      []string `json:"labels"`
}

func reportedRequests(t *testing.T, s *stacktest.Stack) []reported {
	t.Helper()
	var list []reported
	s.Call(t, "GET", "/_sim/jira/requests", nil, &list, http.StatusOK)
	return list
}

// codeMail waits for the customer notification carrying a link code to
// email, and returns the code and the request it came with.
func codeMail(t *testing.T, s *stacktest.Stack, email string) (code, key string) {
	t.Helper()
	waitfor.Until(t, stacktest.Wait, "the email with the code", func() string {
		var box []jira.Email
		s.Call(t, "GET", "/_sim/jira/outbox?to="+url.QueryEscape(email), nil, &box, http.StatusOK)
		for _, m := range box {
			if c := e2eCode.FindStringSubmatch(m.Body); m.Kind == "public-comment" && c != nil && c[1] == email {
				code, key = c[2], m.Key
				return ""
			}
		}
		return fmt.Sprintf("%d emails to the address, none with a code", len(box))
	})
	return code, key
}

func TestE2EIdentity_AChatLinksByTheEmailedCodeAndRaisesRequestsAsTheCustomer(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	resolve(t, s, "config.set", map[string]any{"projectKey": stack.Project, "identity": "optional"})
	const email = "anna.e2e@example.com"
	anna, mallory := stacktest.NewChat(), stacktest.NewChat()

	s.Say(t, anna, "/link "+email)
	s.WaitText(t, anna, "emailed it a code")
	code, linkKey := codeMail(t, s, email)
	var customer string
	for _, r := range reportedRequests(t, s) {
		if r.Key == linkKey {
			customer = r.Reporter
			if !slices.Contains(r.Labels, "chatbridge-link") {
				t.Errorf("link request labels %v", r.Labels)
			}
		}
	}
	if customer == "" || customer == "chatbridge-dev-app" {
		t.Fatalf("the link request %s was not raised on the customer's behalf (reporter %q)", linkKey, customer)
	}

	// Someone else who learnt the code cannot use it: it is Anna's chat's.
	s.Say(t, mallory, "/link "+email+" "+code)
	s.WaitText(t, mallory, "does not link this chat")

	s.Say(t, anna, "/link "+email+" "+code)
	s.WaitText(t, anna, "now linked to "+email)
	s.Say(t, anna, "The printer is on fire e2elink4471")
	r := s.WaitRequest(t, "e2elink4471")
	for _, x := range reportedRequests(t, s) {
		if x.Key == r.Key && x.Reporter != customer {
			t.Errorf("the linked chat's request is reported by %q, want the customer %q", x.Reporter, customer)
		}
	}
	s.Say(t, mallory, "Mine is on fire too e2elink4472")
	m := s.WaitRequest(t, "e2elink4472")
	for _, x := range reportedRequests(t, s) {
		if x.Key == m.Key && x.Reporter == customer {
			t.Errorf("an unlinked chat's request is reported by the customer")
		}
	}

	// Required: an unlinked chat is asked to link, and its message goes nowhere.
	resolve(t, s, "config.set", map[string]any{"projectKey": stack.Project, "identity": "required"})
	bob := stacktest.NewChat()
	s.Say(t, bob, "Please help e2elink4473")
	s.WaitText(t, bob, "link this chat to your support account")
	s.Settle(t)
	if n := len(s.RequestsWith(t, "e2elink4473")); n != 0 {
		t.Fatalf("an unlinked chat's message opened %d requests in required mode", n)
	}
	s.Say(t, anna, "/unlink")
	s.WaitText(t, anna, "no longer linked")
}
