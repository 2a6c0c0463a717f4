package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Issue 18, item 8 (without Telegram's private-chat topics), through the
// HTTPS edge, the wasm module and the Telegram and Jira simulators: /new
// leaves the first request open, an agent's reply on it says which request
// it answers, and /requests lets the customer choose where they write.
func TestE2ERequests_SeveralOpenRequestsAndTheCustomerChoosesWhereToWrite(t *testing.T) {
	s := stacktest.Shared(t)
	chat := stacktest.NewChat()
	s.Say(t, chat, "The scanner jams e2ereq5501")
	first := s.WaitRequest(t, "e2ereq5501")
	s.Say(t, chat, "/new")
	s.WaitText(t, chat, "Your next message will start a new request")
	s.Say(t, chat, "The invoice is wrong e2ereq5502")
	second := s.WaitRequest(t, "e2ereq5502")

	s.Reply(t, first.Key, "We are on it e2ereq5503")
	if m := s.WaitText(t, chat, "e2ereq5503"); !strings.Contains(m.Plain, "["+first.Key+"]") {
		t.Fatalf("the reply on the older request does not name it: %q", m.Plain)
	}

	s.Say(t, chat, "/requests")
	var list surveyMsg
	waitfor.Until(t, stacktest.Wait, "the list of requests with buttons", func() string {
		for _, m := range surveySent(t, s, chat) {
			if m.ReplyMarkup != nil && strings.Contains(m.Plain, "You are writing to "+second.Key) {
				list = m
				return ""
			}
		}
		return "no /requests keyboard yet"
	})
	var press string
	for _, row := range list.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == "req:"+first.Key {
				press = b.CallbackData
			}
		}
	}
	if press == "" {
		t.Fatalf("no button for %s: %+v", first.Key, list.ReplyMarkup)
	}
	var sent stacktest.SendResult
	s.Call(t, "POST", "/_sim/telegram/press", map[string]any{"chat_id": chat, "message_id": list.MessageID, "data": press}, &sent, http.StatusOK)
	s.WaitText(t, chat, "You are now writing to "+first.Key)
	s.Say(t, chat, "Any news? e2ereq5504")
	waitfor.Until(t, stacktest.Wait, "the message on the chosen request", func() string {
		if !s.Request(t, first.Key).Holds("e2ereq5504") {
			return fmt.Sprintf("%s does not hold the message yet", first.Key)
		}
		return ""
	})
	s.Settle(t)
	if s.Request(t, second.Key).Holds("e2ereq5504") || len(s.RequestsWith(t, "e2ereq5504")) != 0 {
		t.Errorf("the message went elsewhere than the chosen request")
	}
}
