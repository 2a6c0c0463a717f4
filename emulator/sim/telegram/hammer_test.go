package telegram

import (
	"fmt"
	"sync"
	"testing"
)

func TestHammer_ConcurrentUsersAndBotKeepEveryChatConsistent(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	const chats, perChat = 6, 6
	go func() { // drain deliveries
		for range e.hook.got {
		}
	}()
	var wg sync.WaitGroup
	for c := int64(1); c <= chats; c++ {
		e.userSays(t, map[string]any{"chat_id": c, "text": "start"})
		wg.Add(2)
		go func() { // the user
			defer wg.Done()
			for i := range perChat {
				e.userSays(t, map[string]any{"chat_id": c, "text": fmt.Sprintf("u%d", i)})
			}
		}()
		go func() { // the bot
			defer wg.Done()
			for i := range perChat {
				if r := e.call(t, "sendMessage", map[string]any{"chat_id": c, "text": fmt.Sprintf("b%d", i)}); !r.OK {
					t.Errorf("chat %d: %s", c, r.Raw)
				}
				e.call(t, "getWebhookInfo", nil)
			}
		}()
	}
	wg.Wait()
	for c := int64(1); c <= chats; c++ {
		sent := e.sent(t, c)
		if len(sent) != perChat {
			t.Fatalf("chat %d: %d sent", c, len(sent))
		}
		seen := map[int64]bool{}
		for i, s := range sent {
			if s.Text != fmt.Sprintf("b%d", i) || seen[s.MessageID] || (i > 0 && s.MessageID <= sent[i-1].MessageID) {
				t.Errorf("chat %d record %d: %+v", c, i, s)
			}
			seen[s.MessageID] = true
		}
		e.sim.mu.Lock()
		n := len(e.sim.bots[0].chats[c].messages)
		e.sim.mu.Unlock()
		if n != 1+2*perChat {
			t.Errorf("chat %d holds %d messages, want %d", c, n, 1+2*perChat)
		}
	}
}
