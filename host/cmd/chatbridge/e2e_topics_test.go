package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Issue 18, item 8 with Telegram's private-chat topics (Bot API 9.3),
// through the HTTPS edge, the wasm module and the Telegram simulator with
// topic mode: each request gets its own topic, an agent's reply lands in
// its request's topic, and a customer's message in a topic reaches that
// topic's request.
func TestE2ETopics_EachRequestInItsTopicAndRepliesLandThere(t *testing.T) {
	t.Parallel()
	s := stacktest.StartWith(t, func(c *stack.Config) { c.Sims.TelegramTopics = true })
	chat := stacktest.NewChat()
	s.Say(t, chat, "The scanner jams e2etopic6601")
	first := s.WaitRequest(t, "e2etopic6601")
	s.Say(t, chat, "/new")
	s.WaitText(t, chat, "Your next message will start a new request")
	s.Say(t, chat, "The invoice is wrong e2etopic6602")
	second := s.WaitRequest(t, "e2etopic6602")

	s.Reply(t, first.Key, "We are on the scanner e2etopic6603")
	one := s.WaitText(t, chat, "e2etopic6603")
	s.Reply(t, second.Key, "We are on the invoice e2etopic6604")
	two := s.WaitText(t, chat, "e2etopic6604")
	if one.Thread == 0 || two.Thread == 0 || one.Thread == two.Thread {
		t.Fatalf("replies in threads %d and %d, want each in its own request's topic", one.Thread, two.Thread)
	}
	if strings.Contains(one.Plain, "["+first.Key+"]") {
		t.Errorf("a reply in its request's topic is headed with the key: %q", one.Plain)
	}

	// The customer writes in the first request's topic, while the chat's
	// current request is the second.
	s.Send(t, stacktest.UserMsg{ChatID: chat, Text: "Still jammed e2etopic6605", FirstName: "Alice", MessageThreadID: one.Thread})
	waitfor.Until(t, stacktest.Wait, "the message in the first topic on the first request", func() string {
		if !s.Request(t, first.Key).Holds("e2etopic6605") {
			return fmt.Sprintf("%s does not hold it yet", first.Key)
		}
		return ""
	})
	s.Settle(t)
	if s.Request(t, second.Key).Holds("e2etopic6605") || len(s.RequestsWith(t, "e2etopic6605")) != 0 {
		t.Errorf("the message in the first request's topic went elsewhere too")
	}
	s.Reply(t, first.Key, "Try the other tray e2etopic6606")
	if m := s.WaitText(t, chat, "e2etopic6606"); m.Thread != one.Thread {
		t.Errorf("the next reply on %s went to thread %d, want %d", first.Key, m.Thread, one.Thread)
	}
	for _, m := range s.Sent(t, chat) {
		if strings.Contains(m.Plain, "e2etopic660") && m.Thread == 0 {
			t.Errorf("an agent's reply outside any topic: %q", m.Plain)
		}
	}
}
