package main

import (
	"fmt"
	"testing"
)

// JSM's default workflow statuses between which its "Transition on comment"
// rule moves a request (the Jira simulator models the rule).
const (
	waitingForSupport  = "Waiting for support"
	waitingForCustomer = "Waiting for customer"
)

// TestE2E_ACustomersMessageLeavesTheRequestWaitingForSupport is audit
// finding 10 of issue 16: the bridge writes a customer's message as the
// app's account, which JSM counts as the team's, so its rule would leave
// the request waiting for the customer (and its SLA paused) after the
// customer answered. The request must end where the customer's own comment
// would have left it: waiting for support.
func TestE2E_ACustomersMessageLeavesTheRequestWaitingForSupport(t *testing.T) {
	t.Parallel()
	s := sharedE2E(t)
	chat := newChat()
	r := s.opened(t, chat, "The scanner jams on every page gnu7")
	status := func(want string) func() string {
		return func() string {
			if got := s.request(t, r.Key).Status; got != want {
				return fmt.Sprintf("%s is %q", r.Key, got)
			}
			return ""
		}
	}
	if why := status(waitingForSupport)(); why != "" {
		t.Fatalf("a new request: %s", why)
	}

	// The agent asks; JSM's rule makes the request wait for the customer.
	s.reply(t, r.Key, "Which model is it?")
	s.waitText(t, chat, "Which model")
	if why := status(waitingForCustomer)(); why != "" {
		t.Fatalf("after the agent's question: %s", why)
	}

	// The customer answers in the chat: support has the ball again.
	s.say(t, chat, "It is the model X200")
	s.waitAppComments(t, r.Key, true, 1)
	eventually(t, "the answered request waiting for support", status(waitingForSupport))

	// Another message while support has it: it stays with support, though
	// the rule takes the app's comment for the team's reply.
	s.say(t, chat, "It jams with a single page too")
	s.waitAppComments(t, r.Key, true, 2)
	moves := "POST /rest/api/3/issue/" + r.Key + "/transitions"
	eventually(t, "the bridge's second move back to support", func() string {
		if n := s.jiraStats(t).Requests[moves]; n != 2 {
			return fmt.Sprintf("%d transitions by the bridge", n)
		}
		return status(waitingForSupport)()
	})
	for i, want := range []string{"It is the model X200", "It jams with a single page too"} {
		if c := s.request(t, r.Key).appComments(true); len(c) != 2 || c[i].Body != want {
			t.Fatalf("the customer's comments: %+v", c)
		}
	}
}
