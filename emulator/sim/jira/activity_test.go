package jira

import (
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// A delivery that failed stays pending while its retries are under way,
// and only until they end: here the next retry is an hour away, and the
// simulator closing ends it.
func TestActivityCountsAFailedDeliveryUntilItsRetriesEnd(t *testing.T) {
	e := newEnv(t, Config{RetryDelay: time.Hour})
	key := e.newRequest(t, "busy")
	idle := func() string {
		if a := e.sim.Activity(); a.Pending != 0 {
			return "still pending"
		}
		return ""
	}
	waitfor.Until(t, 0, "the creation's delivery to end", idle)
	before := e.sim.Activity()
	e.hook.answer(503)
	e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Done"})
	e.hook.next(t)
	if a := e.sim.Activity(); a.Pending != 1 || a.Started != before.Started+1 {
		t.Fatalf("after a failed delivery: %+v, want 1 pending and 1 more started than %+v", a, before)
	}
	e.sim.Close()
	waitfor.Until(t, 0, "the retry to end", idle)
}
