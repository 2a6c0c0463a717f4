package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

func TestE2E_AnEditedPublicReplyArrivesOnceAsACorrectionAndAnInternalEditNever(t *testing.T) {
	t.Parallel()
	s := stacktest.Shared(t)
	chat := stacktest.NewChat()
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
		var a stacktest.JiraAnswer
		s.Call(t, "POST", "/_sim/jira/deliveries/"+id+"/redeliver", nil, &a, http.StatusOK)
		stacktest.CheckWebhooks(t, a.Webhooks)
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
