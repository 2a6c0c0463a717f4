package main

import (
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

// Issue 18's identity on the web channel: a widget session proves it
// controls a customer's email with the code JSM's own notification
// carries (/link EMAIL, then /link EMAIL CODE), and its requests are then
// raised on the customer's behalf; where the project requires a link, an
// unlinked session's message reaches nobody.
func TestE2EWidget_ASessionLinksByTheEmailedCodeAndRaisesRequestsAsTheCustomer(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	p := openWidget(t, s, map[string]any{"identity": "optional"})
	const email = "ada.widget.e2e@example.com"
	p.say("/link " + email)
	p.waitText("emailed it a code")
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

	// Another session that learnt the code cannot use it.
	mallory := openWidget(t, s, nil)
	mallory.say("/link " + email + " " + code)
	mallory.waitText("does not link this chat")

	p.say("/link " + email + " " + code)
	p.waitText("now linked to " + email)
	p.say("The screen flickers widgetlink8101")
	r := s.WaitRequest(t, "widgetlink8101")
	for _, x := range reportedRequests(t, s) {
		if x.Key == r.Key && x.Reporter != customer {
			t.Errorf("the linked session's request is reported by %q, want the customer %q", x.Reporter, customer)
		}
	}
	mallory.say("Mine flickers too widgetlink8102")
	m := s.WaitRequest(t, "widgetlink8102")
	for _, x := range reportedRequests(t, s) {
		if x.Key == m.Key && x.Reporter == customer {
			t.Errorf("an unlinked session's request is reported by the customer")
		}
	}

	// Required: an unlinked session is asked to link, and its message goes
	// nowhere.
	bob := openWidget(t, s, map[string]any{"identity": "required"})
	bob.say("Please help widgetlink8103")
	bob.waitText("link this chat to your support account")
	s.Settle(t)
	if n := len(s.RequestsWith(t, "widgetlink8103")); n != 0 {
		t.Fatalf("an unlinked session's message opened %d requests in required mode", n)
	}
	p.say("/unlink")
	p.waitText("no longer linked")
}
