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

// Routing and replies outside WhatsApp's window through the HTTPS edge, the
// wasm module and the simulators (plugin/bridge, routing.go and
// template.go). Each on a stack of its own: a held first message stays
// queued, delayed, until the customer chooses.

// requestType is the request type a request was raised with.
func requestType(t *testing.T, s *stacktest.Stack, key string) string {
	t.Helper()
	var list []struct {
		Key  string `json:"key"`
		Type string `json:"request_type_id"`
	}
	s.Call(t, "GET", "/_sim/jira/requests", nil, &list, http.StatusOK)
	for _, r := range list {
		if r.Key == key {
			return r.Type
		}
	}
	return ""
}

func setConfig(t *testing.T, s *stacktest.Stack, fields map[string]any) {
	t.Helper()
	fields["projectKey"] = stack.Project
	if a := s.AdminResolve(t, "config.set", fields); a["ok"] != true {
		t.Fatalf("config.set: %v", a)
	}
}

func TestE2E_TelegramFirstMessageMenuPicksTheRequestType(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	setConfig(t, s, map[string]any{"requestTypeMenu": []string{"Get IT help", "Report a problem"}})
	chat := stacktest.NewChat()
	s.Say(t, chat, "The VPN drops every hour quince7781")

	var menu surveyMsg
	waitfor.Until(t, stacktest.Wait, "the menu's buttons", func() string {
		for _, m := range surveySent(t, s, chat) {
			if m.ReplyMarkup != nil && len(m.ReplyMarkup.InlineKeyboard) == 1 {
				menu = m
				return ""
			}
		}
		return "no message with an inline keyboard yet"
	})
	buttons := menu.ReplyMarkup.InlineKeyboard[0]
	if len(buttons) != 2 || buttons[1].CallbackData != "rt:11" || buttons[1].Text != "Report a problem" {
		t.Fatalf("buttons %+v", buttons)
	}
	// Held for the choice: no request yet, and the message is in no record.
	if n := len(s.RequestsWith(t, "quince7781")); n != 0 {
		t.Fatalf("%d requests before the choice", n)
	}
	for _, rec := range s.StoredRecords(t) {
		if strings.Contains(rec, "quince7781") {
			t.Fatalf("the held message is stored: %.80s", rec)
		}
	}
	var press stacktest.SendResult
	s.Call(t, "POST", "/_sim/telegram/press", map[string]any{"chat_id": chat, "message_id": menu.MessageID, "data": "rt:11"}, &press, http.StatusOK)
	if press.Status != http.StatusOK {
		t.Fatalf("press delivery %+v", press)
	}
	r := s.WaitRequest(t, "quince7781")
	if got := requestType(t, s, r.Key); got != "11" {
		t.Errorf("request type %q, want the chosen 11", got)
	}
	s.WaitText(t, chat, `about "Report a problem"`)
	// The next message is a comment on it, without a second menu.
	s.Say(t, chat, "Since Monday quince7782")
	waitfor.Until(t, stacktest.Wait, "the second message as a comment", func() string {
		if !s.Request(t, r.Key).Holds("quince7782") {
			return "not yet"
		}
		return ""
	})
	n := 0
	for _, req := range s.Requests(t) {
		if req.Holds("quince7781") || req.Holds("quince7782") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the chat's messages are in %d requests", n)
	}
}

func TestE2E_WhatsAppListMenuAndATemplateOutsideTheWindow(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	setConfig(t, s, map[string]any{
		"requestTypeMenu": []string{"Get IT help", "Report a problem", "Request new hardware", "Ask about billing"},
		"templates":       []map[string]any{{"name": "support_reply_waiting", "language": "en", "params": []string{"{key}"}}},
	})
	const customer = "4915112347711"
	sent := func() []whatsapp.Sent {
		var out []whatsapp.Sent
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &out, http.StatusOK)
		return out
	}
	var res whatsapp.SendResult
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": customer, "name": "Lena", "text": "The badge reader is broken lemon5512"}, &res, http.StatusOK)
	waitfor.Until(t, stacktest.Wait, "the menu as a list", func() string {
		for _, m := range sent() {
			if len(m.Rows) == 4 && m.List != "" {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent())
	})
	s.Call(t, "POST", "/_sim/whatsapp/press", map[string]any{"from": customer, "title": "Request new hardware"}, &res, http.StatusOK)
	if res.Status != http.StatusOK {
		t.Fatalf("choice delivery %+v", res)
	}
	r := s.WaitRequest(t, "lemon5512")
	if got := requestType(t, s, r.Key); got != "12" {
		t.Errorf("request type %q, want the chosen 12", got)
	}
	s.Idle(t)

	// A day later the agent answers. The bridge saw the customer write less
	// than 24 hours ago by its own clock, so it tries; WhatsApp refuses with
	// 131047, and the reply is held and the template sent instead.
	s.Call(t, "POST", "/_sim/whatsapp/age", map[string]any{"wa_id": customer, "hours": 25}, nil, http.StatusOK)
	s.Reply(t, r.Key, "A new reader is on its way mango8841")
	notes := s.WaitAppComments(t, r.Key, false, 1)
	if !strings.Contains(notes[0].Body, "support_reply_waiting") {
		t.Errorf("note %q", notes[0].Body)
	}
	waitfor.Until(t, stacktest.Wait, "the template", func() string {
		for _, m := range sent() {
			if m.Template != nil && m.Template.Name == "support_reply_waiting" && strings.Contains(m.Text, r.Key) {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent())
	})
	for _, m := range sent() {
		if strings.Contains(m.Text, "mango8841") {
			t.Fatalf("the reply went out outside the window: %+v", m)
		}
	}
	var failed []whatsapp.Failed
	s.Call(t, "GET", "/_sim/whatsapp/failed?to="+customer, nil, &failed, http.StatusOK)
	if len(failed) != 1 || failed[0].Code != whatsapp.CodeWindowClosed {
		t.Errorf("refused messages %+v, want the free-form reply's 131047 only", failed)
	}

	// The customer answers: the held reply is delivered.
	s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": customer, "name": "Lena", "text": "Great, thanks"}, &res, http.StatusOK)
	waitfor.Until(t, stacktest.Wait, "the held reply", func() string {
		for _, m := range sent() {
			if m.Type == "text" && strings.Contains(m.Text, "mango8841") {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent())
	})
}
