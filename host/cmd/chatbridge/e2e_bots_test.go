package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// A project served by two Telegram bots, through the HTTPS edge, the wasm
// module and the simulator's two bots: each update is routed by the bot it
// came through, and the agent's reply leaves through the bot the chat
// wrote to (plugin/bridge, bots.go).
func TestE2E_TwoTelegramBotsServeOneProject(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	a := s.AdminResolve(t, "bots.add", map[string]any{"projectKey": stack.Project, "channel": "telegram", "botToken": stack.SecondTelegramToken})
	if a["ok"] != true {
		t.Fatalf("bots.add: %v", a)
	}
	const secondBot = "7000000002"
	chat := stacktest.NewChat()
	var res stacktest.SendResult
	s.Call(t, "POST", "/_sim/telegram/send", map[string]any{"bot_id": 7000000002, "chat_id": chat, "first_name": "Bea", "text": "Through the second bot pear3391"}, &res, http.StatusOK)
	if res.Status != http.StatusOK {
		t.Fatalf("delivery through the second bot: %+v", res)
	}
	r := s.WaitRequest(t, "pear3391")
	s.Reply(t, r.Key, "Answered through the second bot fig7712")
	waitfor.Until(t, stacktest.Wait, "the reply through the second bot", func() string {
		var sent []struct {
			Text string `json:"text"`
		}
		s.Call(t, "GET", "/_sim/telegram/sent?bot_id="+secondBot+"&chat_id="+strconv.FormatInt(chat, 10), nil, &sent, http.StatusOK)
		for _, m := range sent {
			if strings.Contains(m.Text, "fig7712") {
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})
	s.Settle(t)
	for _, m := range s.Sent(t, chat) { // the first bot's messages to the same user
		if strings.Contains(m.Text, "fig7712") {
			t.Errorf("the reply left through the first bot: %+v", m)
		}
	}
}
