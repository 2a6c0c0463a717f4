package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Viber customers reach the same bridge: the project is switched to the
// Viber simulator's bot and a customer talks to an agent.
func TestE2E_ViberCustomerAndAgent(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "viber", viber.DefaultToken)
	var wh viber.Webhook
	s.Call(t, "GET", "/_sim/viber/webhook", nil, &wh, http.StatusOK)
	if !strings.Contains(wh.URL, "project="+stack.Project) {
		t.Fatalf("webhook %+v", wh)
	}

	const user = "E2eVera+/0123456789A="
	var res viber.SendResult
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vera", "event": "conversation_started"}, &res, http.StatusOK)
	if res.Status != 200 || !strings.Contains(res.Body, "Hello!") {
		t.Fatalf("conversation_started: %+v", res)
	}
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vera", "text": "viber-e2e-parcel {color:red}late{color}"}, &res, http.StatusOK)
	if res.Status != 200 {
		t.Fatalf("message: %+v", res)
	}
	// Viber's retry of the same callback is not a second message.
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vera", "text": "viber-e2e-parcel {color:red}late{color}", "message_token": res.MessageToken}, &res, http.StatusOK)
	req := s.WaitRequest(t, "viber-e2e-parcel")
	if !strings.Contains(req.Description, "via Viber") || strings.Contains(req.Description, "{color:red}") {
		t.Errorf("description %q", req.Description)
	}
	s.Stable(t, "one request and no comment", func() string {
		if n := len(s.RequestsWith(t, "viber-e2e-parcel")); n != 1 {
			return fmt.Sprintf("%d requests", n)
		}
		if c := s.Request(t, req.Key).AppComments(true); len(c) != 0 {
			return fmt.Sprintf("comments %+v", c)
		}
		return ""
	})

	// A photo travels from Viber's media host to the request.
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "picture": true, "text": "the label"}, &res, http.StatusOK)
	waitfor.Until(t, stacktest.Wait, "the photo attached to the request", func() string {
		if n := len(s.Request(t, req.Key).Attachments); n != 1 {
			return fmt.Sprintf("%d attachments", n)
		}
		return ""
	})

	s.Reply(t, req.Key, "Your parcel is *on its way*.")
	var sent []viber.Sent
	waitfor.Until(t, stacktest.Wait, "the agent's reply in Viber", func() string {
		s.Call(t, "GET", "/_sim/viber/sent?receiver="+url.QueryEscape(user), nil, &sent, http.StatusOK)
		if len(sent) == 0 {
			return "nothing sent"
		}
		return ""
	})

	if sent[0].Text != "Your parcel is on its way." || sent[0].SenderName == "" {
		t.Errorf("sent %+v", sent)
	}

	// A forged callback is refused at the edge.
	body := []byte(`{"event":"message","timestamp":1,"message_token":99,"sender":{"id":"x="},"message":{"type":"text","text":"forged-viber"}}`)
	if st := s.PostPublic(t, wh.URL, body, map[string]string{"X-Viber-Content-Signature": viber.Sign("another-token", body)}); st != http.StatusUnauthorized {
		t.Errorf("forged callback answered %d", st)
	}
}
