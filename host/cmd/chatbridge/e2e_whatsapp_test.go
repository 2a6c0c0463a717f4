package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// WhatsApp customers reach the same bridge; a reply after the 24-hour
// window becomes an internal note instead.
func TestE2E_WhatsAppCustomerAgentAndTheWindow(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	var wh whatsapp.Webhook
	s.Call(t, "GET", "/_sim/whatsapp/webhook", nil, &wh, http.StatusOK)
	if !strings.Contains(wh.URL, "project="+stack.Project) {
		t.Fatalf("webhook %+v", wh)
	}
	// Meta re-verifies a subscribed webhook later, with the same token.
	var verified struct {
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	}
	s.Call(t, "POST", "/_sim/whatsapp/verify", nil, &verified, http.StatusOK)
	if !verified.Verified {
		t.Errorf("Meta's re-verification of the webhook failed: %s", verified.Error)
	}

	const customer = "4915112349876"
	var res whatsapp.SendResult
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"messages": []any{
		map[string]any{"from": customer, "name": "Wanda", "text": "whatsappE2Efirst"},
		map[string]any{"from": customer, "name": "Wanda", "image": true, "caption": "whatsappE2Elabel"},
	}}, &res, http.StatusOK)
	if res.Status != 200 || len(res.IDs) != 2 {
		t.Fatalf("send: %+v", res)
	}
	// The two messages of one delivery are handled in parallel: either opens
	// the request, the other joins it.
	req := s.WaitRequest(t, "via WhatsApp")
	waitfor.Until(t, stacktest.Wait, "both messages and the photo in one request", func() string {
		r := s.Request(t, req.Key)
		all := r.Description
		for _, c := range r.Comments {
			all += "\n" + c.Body
		}
		if len(r.Attachments) != 1 || !strings.Contains(all, "whatsappE2Efirst") || !strings.Contains(all, "whatsappE2Elabel") {
			return fmt.Sprintf("%d attachments; text %q", len(r.Attachments), all)
		}
		return ""
	})

	s.Reply(t, req.Key, "We are on it.")
	var sent []whatsapp.Sent
	waitfor.Until(t, stacktest.Wait, "the agent's reply in WhatsApp", func() string {
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		if len(sent) == 0 {
			return "nothing sent"
		}
		return ""
	})

	if sent[0].Text != "We are on it." {
		t.Errorf("sent %+v", sent)
	}

	// An agent's file goes out as a document.
	var att stacktest.JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+req.Key+"/attachment", map[string]any{"filename": "guide.pdf", "size": 2048, "public": true, "mime_type": "application/pdf"}, &att, http.StatusOK)
	stacktest.CheckWebhooks(t, att.Webhooks)
	waitfor.Until(t, stacktest.Wait, "the agent's file in WhatsApp", func() string {
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		for _, m := range sent {
			if m.Type == "document" && m.Filename == "guide.pdf" && m.Size == 2048 {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})

	s.Call(t, "POST", "/_sim/whatsapp/age", map[string]any{"wa_id": customer, "hours": 25}, nil, http.StatusOK)
	s.Reply(t, req.Key, "Are you still there?")
	notes := s.WaitAppComments(t, req.Key, false, 1)
	if !strings.Contains(notes[0].Body, "WhatsApp") {
		t.Errorf("note %q", notes[0].Body)
	}
	before := len(sent)
	s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
	if len(sent) != before {
		t.Errorf("a reply went out after the window closed: %+v", sent)
	}

	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if st := s.PostPublic(t, wh.URL, body, map[string]string{"X-Hub-Signature-256": whatsapp.Sign("wrong", body)}); st != http.StatusUnauthorized {
		t.Errorf("forged delivery answered %d", st)
	}
}

// A reply WhatsApp accepts and reports failed later (issue 16, finding 3)
// becomes one internal note with the code, also when Meta delivers the
// status again; a customer who hides their number (finding 4) is served by
// their user id; an edit goes to Jira marked as one, and a message WhatsApp
// delivers without content gets a clear answer (finding 5).
func TestE2E_WhatsAppFailuresReportedLaterUsernamesEditsAndUnsupported(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	var wh whatsapp.Webhook
	s.Call(t, "GET", "/_sim/whatsapp/webhook", nil, &wh, http.StatusOK)

	const customer = "4915112340001"
	var res whatsapp.SendResult
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": customer, "name": "Fay", "text": "whatsappE2Eundelivered"}, &res, http.StatusOK)
	req := s.WaitRequest(t, "whatsappE2Eundelivered")
	s.Idle(t) // the request is mapped to the chat before the agent replies

	s.Call(t, "POST", "/_sim/whatsapp/fail-delivery", map[string]any{"to": customer, "code": whatsapp.CodeUndeliverable}, nil, http.StatusOK)
	s.Reply(t, req.Key, "whatsappE2Ethis reply fails later")
	notes := s.WaitAppComments(t, req.Key, false, 1)
	if !strings.Contains(notes[0].Body, "131026") || strings.Contains(notes[0].Body, "fails later") {
		t.Errorf("note %q", notes[0].Body)
	}
	var failed []whatsapp.Failed
	s.Call(t, "GET", "/_sim/whatsapp/failed?to="+customer, nil, &failed, http.StatusOK)
	if len(failed) != 1 {
		t.Fatalf("failed %+v", failed)
	}
	// Meta delivers the status again: the webhook answers (the duplicate is
	// dropped there, before any queue), and no second note appears.
	status := fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100001","phone_number_id":%q},"statuses":[{"id":%q,"status":"failed","timestamp":"1","recipient_id":%q,"errors":[{"code":131026,"title":"Message undeliverable"}]}]}}]}]}`,
		whatsapp.DefaultAccountID, whatsapp.DefaultPhoneID, failed[0].ID, customer)
	for range 2 {
		if st := s.PostPublic(t, wh.URL, status, map[string]string{"X-Hub-Signature-256": whatsapp.Sign(whatsapp.DefaultAppSecret, status)}); st != http.StatusOK {
			t.Fatalf("redelivered status answered %d", st)
		}
	}
	if n := len(s.Request(t, req.Key).AppComments(false)); n != 1 {
		t.Errorf("%d notes after the redelivered status", n)
	}
	var sent []whatsapp.Sent
	s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
	if len(sent) != 0 {
		t.Errorf("the failed reply reached the customer: %+v", sent)
	}

	// A customer known only by a user id.
	const userID = "DE.49151123400020"
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112340002", "user_id": userID, "hide_phone": true, "name": "Gil", "text": "whatsappE2Eusername"}, &res, http.StatusOK)
	first := res.IDs[0]
	hidden := s.WaitRequest(t, "whatsappE2Eusername")
	s.Idle(t) // mapped to the chat before the agent replies
	s.Reply(t, hidden.Key, "whatsappE2E reply by user id")
	waitfor.Until(t, stacktest.Wait, "the reply reaches the customer by user id", func() string {
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+userID, nil, &sent, http.StatusOK)
		if len(sent) != 1 || sent[0].Text != "whatsappE2E reply by user id" {
			return fmt.Sprintf("sent %+v", sent)
		}
		return ""
	})

	// An edit, then a message WhatsApp cannot deliver the content of.
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112340002", "user_id": userID, "hide_phone": true, "edit_of": first, "text": "whatsappE2Eusername corrected"}, &res, http.StatusOK)
	waitfor.Until(t, stacktest.Wait, "the edit as a comment", func() string {
		for _, c := range s.Request(t, hidden.Key).Comments {
			if strings.Contains(c.Body, "(edited)") && strings.Contains(c.Body, "corrected") {
				return ""
			}
		}
		return "no edit yet"
	})

	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112340002", "user_id": userID, "hide_phone": true, "unsupported": "poll_creation"}, &res, http.StatusOK)
	waitfor.Until(t, stacktest.Wait, "the answer to an unsupported message", func() string {
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+userID, nil, &sent, http.StatusOK)
		for _, m := range sent {
			if strings.Contains(m.Text, "cannot be passed on") {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})

}
