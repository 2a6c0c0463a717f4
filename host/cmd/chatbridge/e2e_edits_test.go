package main

import (
	"net/http"
	"strings"
	"testing"
)

// EditComment edits an agent's comment in the Jira simulator, which fires
// comment_updated, and returns the identifiers of the comment_updated
// deliveries it made (usually one; other tests share the simulator).
func (s *Stack) EditComment(t *testing.T, key, id, body string) []string {
	t.Helper()
	before := map[string]bool{}
	var ds []struct {
		Event      string `json:"event"`
		Identifier string `json:"identifier"`
	}
	s.Call(t, "GET", "/_sim/jira/deliveries", nil, &ds, http.StatusOK)
	for _, d := range ds {
		before[d.Identifier] = true
	}
	var a JiraAnswer
	s.Call(t, "PUT", "/_sim/jira/requests/"+key+"/comment/"+id, map[string]any{"body": body}, &a, http.StatusOK)
	CheckWebhooks(t, a.Webhooks)
	s.Call(t, "GET", "/_sim/jira/deliveries", nil, &ds, http.StatusOK)
	var ids []string
	for _, d := range ds {
		if d.Event == "comment_updated" && !before[d.Identifier] {
			before[d.Identifier] = true
			ids = append(ids, d.Identifier)
		}
	}
	if len(ids) == 0 {
		t.Fatal("the edit made no comment_updated delivery")
	}
	return ids
}

func TestE2E_AnEditedPublicReplyArrivesOnceAsACorrectionAndAnInternalEditNever(t *testing.T) {
	t.Parallel()
	s := Shared(t)
	chat := NewChat()
	r := s.Opened(t, chat, "My router blinks red heron4411")
	reply := s.Reply(t, r.Key, "Please restart the router ibis5520")
	s.WaitText(t, chat, "Please restart the router ibis5520")
	note := s.AgentComment(t, r.Key, map[string]any{"body": "Internal: customer seems confused stork6631"})

	// The public reply is edited; Jira then redelivers the edit, as it does
	// when it saw no answer in time.
	ids := s.EditComment(t, r.Key, reply.ID, "Please restart the *modem* ibis5520, not the router")
	correction := s.WaitText(t, chat, "restart the modem ibis5520")
	if !strings.HasPrefix(correction.Plain, "Correction to our earlier reply:\n") {
		t.Errorf("the correction is not marked as one: %q", correction.Plain)
	}
	for _, id := range ids {
		var a JiraAnswer
		s.Call(t, "POST", "/_sim/jira/deliveries/"+id+"/redeliver", nil, &a, http.StatusOK)
		CheckWebhooks(t, a.Webhooks)
	}
	// The internal note is edited too; it must stay in Jira.
	s.EditComment(t, r.Key, note.ID, "Internal: customer seems confused, call them stork6631")

	// A later reply shares the chat's lane: once it arrived, anything the
	// redelivery or the internal edit queued before it was delivered too.
	s.Reply(t, r.Key, "Tell us if the modem helps crane7742")
	s.WaitText(t, chat, "crane7742")
	if n := s.CountText(t, chat, "restart the modem ibis5520"); n != 1 {
		t.Errorf("the correction arrived %d times, want once", n)
	}
	if n := s.CountText(t, chat, "restart the router ibis5520"); n != 1 {
		t.Errorf("the original reply arrived %d times, want once", n)
	}
	if n := s.CountText(t, chat, "stork6631"); n != 0 {
		t.Errorf("the internal note or its edit reached the customer %d times", n)
	}
	if n := len(s.Messages(t, chat)); n != 3 {
		t.Errorf("%d messages to the customer, want the reply, the correction and the last reply: %+v", n, s.Messages(t, chat))
	}
}
