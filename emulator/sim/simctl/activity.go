package simctl

import "sync/atomic"

// Activity is what a simulator has under way: work it started on its own
// (webhook deliveries, their retries, status callbacks) and has not
// finished, and how much such work it ever started. A test knows the
// simulated world is quiet when nothing is pending twice in a row with
// nothing started in between (GET /_sim/activity).
type Activity struct {
	Pending int64 `json:"pending"`
	Started int64 `json:"started"`
}

// Add is the sum of a and b.
func (a Activity) Add(b Activity) Activity {
	return Activity{Pending: a.Pending + b.Pending, Started: a.Started + b.Started}
}

// Tracker counts a simulator's background work; the zero value is ready.
type Tracker struct {
	pending, started atomic.Int64
}

// Begin counts one piece of work as started and pending; call the
// returned func when it is done.
func (t *Tracker) Begin() (done func()) {
	t.started.Add(1)
	t.pending.Add(1)
	return func() { t.pending.Add(-1) }
}

// Activity is the tracker's count now.
func (t *Tracker) Activity() Activity {
	// Started first: work that begins between the two loads is then
	// pending in the second, never missing from both.
	started := t.started.Load()
	return Activity{Pending: t.pending.Load(), Started: started}
}
