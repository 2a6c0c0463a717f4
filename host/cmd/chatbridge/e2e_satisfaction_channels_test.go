package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The satisfaction survey in Viber and WhatsApp, through the HTTPS edge,
// the wasm module and the simulators; each on a stack of its own, since
// the job that closes the comment window stays queued (see the Telegram
// test, e2e_satisfaction_test.go).

// waitFeedback waits for key's feedback in JSM.
func waitFeedback(t *testing.T, s *stacktest.Stack, key string, rating int, comment string) {
	t.Helper()
	waitfor.Until(t, stacktest.Wait, "the feedback in Jira", func() string {
		if r, c := feedback(t, s, key); r != rating || c != comment {
			return fmt.Sprintf("feedback %d %q", r, c)
		}
		return ""
	})
}

func TestE2EViberSatisfaction_AKeyboardPressRatesAndTheNextMessageComments(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "viber", viber.DefaultToken)
	const user = "E2eCsat+/0123456789B="
	say := func(text string) {
		t.Helper()
		var res viber.SendResult
		s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vera", "text": text}, &res, http.StatusOK)
		if res.Status != http.StatusOK {
			t.Fatalf("message: %+v", res)
		}
	}
	sent := func() []viber.Sent {
		var out []viber.Sent
		s.Call(t, "GET", "/_sim/viber/sent?receiver="+url.QueryEscape(user), nil, &out, http.StatusOK)
		return out
	}
	say("The printer smokes kiwi30517")
	r := s.WaitRequest(t, "kiwi30517")
	s.Transition(t, r.Key, "Done")

	var keys []viber.KeyButton
	waitfor.Until(t, stacktest.Wait, "the survey's keyboard", func() string {
		for _, m := range sent() {
			if len(m.Keyboard) > 0 {
				keys = m.Keyboard
				return ""
			}
		}
		return "no message with a keyboard yet"
	})
	if len(keys) != 5 || keys[3].ActionType != "reply" || keys[3].ActionBody != "cb:csat:4:"+r.Key || keys[3].Text != "★★★★" || !keys[3].Silent {
		t.Fatalf("keyboard %+v", keys)
	}
	var res viber.SendResult
	s.Call(t, "POST", "/_sim/viber/press", map[string]any{"user_id": user, "text": "★★★★"}, &res, http.StatusOK)
	if res.Status != http.StatusOK {
		t.Fatalf("press delivery %+v", res)
	}
	waitfor.Until(t, stacktest.Wait, "the thanks", func() string {
		for _, m := range sent() {
			if strings.Contains(m.Text, "Thank you for your rating") {
				return ""
			}
		}
		return "no thanks yet"
	})
	if rating, _ := feedback(t, s, r.Key); rating != 0 {
		t.Fatalf("feedback %d posted before the comment window closed", rating)
	}
	say("Quick and kind date81734")
	waitFeedback(t, s, r.Key, 4, "Quick and kind date81734")
	if n := len(s.RequestsWith(t, "date81734")) + len(s.RequestsWith(t, "csat:")); n != 0 {
		t.Fatalf("the comment or the press opened %d requests", n)
	}
}

func TestE2EWhatsAppSatisfaction_AReplyButtonRatesAndTheNextMessageComments(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	const customer = "4915112340517"
	say := func(text string) {
		t.Helper()
		var res whatsapp.SendResult
		s.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": customer, "name": "Wanda", "text": text}, &res, http.StatusOK)
		if res.Status != http.StatusOK {
			t.Fatalf("message: %+v", res)
		}
	}
	sent := func() []whatsapp.Sent {
		var out []whatsapp.Sent
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &out, http.StatusOK)
		return out
	}
	say("The scale weighs wrong lime62094")
	r := s.WaitRequest(t, "lime62094")
	s.Transition(t, r.Key, "Done")

	var survey whatsapp.Sent
	waitfor.Until(t, stacktest.Wait, "the survey's reply buttons", func() string {
		for _, m := range sent() {
			if m.Type == "interactive" {
				survey = m
				return ""
			}
		}
		return "no interactive message yet"
	})
	want := []whatsapp.Button{{ID: "csat:1:" + r.Key, Title: "Poor"}, {ID: "csat:3:" + r.Key, Title: "OK"}, {ID: "csat:5:" + r.Key, Title: "Excellent"}}
	if fmt.Sprint(survey.Buttons) != fmt.Sprint(want) || !strings.Contains(survey.Text, "How satisfied") {
		t.Fatalf("survey %+v", survey)
	}
	var res whatsapp.SendResult
	s.Call(t, "POST", "/_sim/whatsapp/press", map[string]any{"from": customer, "name": "Wanda", "title": "Excellent"}, &res, http.StatusOK)
	if res.Status != http.StatusOK {
		t.Fatalf("press delivery %+v", res)
	}
	waitfor.Until(t, stacktest.Wait, "the thanks", func() string {
		for _, m := range sent() {
			if strings.Contains(m.Text, "Thank you for your rating") {
				return ""
			}
		}
		return "no thanks yet"
	})
	if rating, _ := feedback(t, s, r.Key); rating != 0 {
		t.Fatalf("feedback %d posted before the comment window closed", rating)
	}
	say("Sorted in minutes pear19375")
	waitFeedback(t, s, r.Key, 5, "Sorted in minutes pear19375")
	if n := len(s.RequestsWith(t, "pear19375")) + len(s.RequestsWith(t, "Excellent")); n != 0 {
		t.Fatalf("the comment or the press opened %d requests", n)
	}
}
