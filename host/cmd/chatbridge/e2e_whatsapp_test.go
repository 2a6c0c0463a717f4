package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/sim/whatsapp"
)

// WhatsApp customers reach the same bridge; a reply after the 24-hour
// window becomes an internal note instead.
func TestE2E_WhatsAppCustomerAgentAndTheWindow(t *testing.T) {
	s := startE2E(t)
	s.reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	var wh whatsapp.Webhook
	s.call(t, "GET", "/_sim/whatsapp/webhook", nil, &wh, http.StatusOK)
	if !strings.Contains(wh.URL, "project="+devProject) {
		t.Fatalf("webhook %+v", wh)
	}
	// Meta re-verifies a subscribed webhook later, with the same token.
	var verified struct {
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	}
	s.call(t, "POST", "/_sim/whatsapp/verify", nil, &verified, http.StatusOK)
	if !verified.Verified {
		t.Errorf("Meta's re-verification of the webhook failed: %s", verified.Error)
	}

	const customer = "4915112349876"
	var res whatsapp.SendResult
	s.call(t, "POST", "/_sim/whatsapp/send", map[string]any{"messages": []any{
		map[string]any{"from": customer, "name": "Wanda", "text": "whatsappE2Efirst"},
		map[string]any{"from": customer, "name": "Wanda", "image": true, "caption": "whatsappE2Elabel"},
	}}, &res, http.StatusOK)
	if res.Status != 200 || len(res.IDs) != 2 {
		t.Fatalf("send: %+v", res)
	}
	// The two messages of one delivery are handled in parallel: either opens
	// the request, the other joins it.
	req := s.waitRequest(t, "via WhatsApp")
	eventually(t, "both messages and the photo in one request", func() string {
		r := s.request(t, req.Key)
		all := r.Description
		for _, c := range r.Comments {
			all += "\n" + c.Body
		}
		if len(r.Attachments) != 1 || !strings.Contains(all, "whatsappE2Efirst") || !strings.Contains(all, "whatsappE2Elabel") {
			return fmt.Sprintf("%d attachments; text %q", len(r.Attachments), all)
		}
		return ""
	})

	s.reply(t, req.Key, "We are on it.")
	var sent []whatsapp.Sent
	eventually(t, "the agent's reply in WhatsApp", func() string {
		s.call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		if len(sent) == 0 {
			return "nothing sent"
		}
		return ""
	})
	if sent[0].Text != "We are on it." {
		t.Errorf("sent %+v", sent)
	}

	// An agent's file goes out as a document.
	var att jiraAnswer
	s.call(t, "POST", "/_sim/jira/requests/"+req.Key+"/attachment", map[string]any{"filename": "guide.pdf", "size": 2048, "public": true, "mime_type": "application/pdf"}, &att, http.StatusOK)
	checkWebhooks(t, att.Webhooks)
	eventually(t, "the agent's file in WhatsApp", func() string {
		s.call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		for _, m := range sent {
			if m.Type == "document" && m.Filename == "guide.pdf" && m.Size == 2048 {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})

	s.call(t, "POST", "/_sim/whatsapp/age", map[string]any{"wa_id": customer, "hours": 25}, nil, http.StatusOK)
	s.reply(t, req.Key, "Are you still there?")
	notes := s.waitAppComments(t, req.Key, false, 1)
	if !strings.Contains(notes[0].Body, "WhatsApp") {
		t.Errorf("note %q", notes[0].Body)
	}
	before := len(sent)
	s.call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
	if len(sent) != before {
		t.Errorf("a reply went out after the window closed: %+v", sent)
	}

	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if st := s.postPublic(t, wh.URL, body, map[string]string{"X-Hub-Signature-256": whatsapp.Sign("wrong", body)}); st != http.StatusUnauthorized {
		t.Errorf("forged delivery answered %d", st)
	}
}
