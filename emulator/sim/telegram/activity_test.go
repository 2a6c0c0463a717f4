package telegram

import (
	"testing"
	"time"
)

// An update waiting for a webhook that fails is pending; one for a bot
// without a webhook waits for getUpdates, not for the simulator, and is not.
func TestActivityCountsUpdatesWaitingForTheirWebhook(t *testing.T) {
	e := newEnv(t, Config{RetryDelay: time.Hour})
	first := e.userSays(t, map[string]any{"chat_id": 1, "text": "no webhook yet"})
	if a := e.sim.Activity(); a.Pending != 0 || a.Started != 1 {
		t.Fatalf("without a webhook: %+v, want nothing pending and 1 started", a)
	}
	e.call(t, "getUpdates", map[string]any{"offset": first.UpdateID + 1}) // confirms the first
	e.setHook(t, "s")
	e.hook.answer(500)
	e.userSays(t, map[string]any{"chat_id": 1, "text": "hello"})
	e.hook.next(t)
	if a := e.sim.Activity(); a.Pending != 1 || a.Started != 2 {
		t.Fatalf("after a failed delivery: %+v, want 1 pending and 2 started", a)
	}
}
