package ratelimit_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/ratelimit"
)

// admitted counts the turns a node flooding d from the fake clock's now
// is given that go out within window: each turn it asks for at once, and
// it goes out when its wait is over.
func admitted(l *ratelimit.Limiter, c *clock, d ratelimit.Destination, window time.Duration) int {
	n := 0
	for {
		wait, ok := l.Reserve(c.now(), d)
		if !ok || wait > window {
			return n
		}
		n++
	}
}

func TestShare_NodesTogetherKeepTheKeysRateAndALeaverGivesItsShareBack(t *testing.T) {
	pace := ratelimit.Pace{Every: 50 * time.Millisecond, Burst: 5} // 20/s, bursts of 5: a Telegram bot
	window := time.Second
	most := pace.Burst + int(window/pace.Every) // what the key allows in a window: 5 + 20
	for _, nodes := range []int{1, 2, 3} {
		var members atomic.Int64
		members.Store(int64(nodes))
		total := 0
		for range nodes {
			l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Minute, Nodes: func() int { return int(members.Load()) }})
			total += admitted(l, c, ratelimit.DestinationOf(ratelimit.NewKey(pace, "inst", "bot")), window)
		}
		if total > most {
			t.Errorf("%d nodes sent %d in %v together; the key allows %d", nodes, total, window, most)
		}
		if least := most * 2 / 3; total < least {
			t.Errorf("%d nodes sent only %d in %v together; their shares allow about %d", nodes, total, window, most)
		}
	}

	// Of two nodes, one leaves: the other's share is the whole key, from
	// its next turn on.
	var members atomic.Int64
	members.Store(2)
	l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Minute, Nodes: func() int { return int(members.Load()) }})
	d := ratelimit.DestinationOf(ratelimit.NewKey(pace, "inst", "bot"))
	half := admitted(l, c, d, window)
	if half > most/2+1 {
		t.Fatalf("one of two nodes sent %d in %v; its share is %d", half, window, most/2)
	}
	members.Store(1)
	c.add(2 * time.Minute) // quiet: every turn taken has gone, the key's burst is back
	whole := admitted(l, c, d, window)
	if whole != most {
		t.Fatalf("the one node left sent %d in %v; the whole key allows %d", whole, window, most)
	}
}

func TestShare_ABurstSmallerThanTheNodesIsOneEach(t *testing.T) {
	// Burst 1 over 3 nodes cannot be split: each node keeps a burst of 1
	// and a third of the rate (RATIONALE.md says what that costs).
	var members atomic.Int64
	members.Store(3)
	l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Minute, Nodes: func() int { return int(members.Load()) }})
	d := ratelimit.DestinationOf(ratelimit.NewKey(ratelimit.Pace{Every: time.Second}, "inst", "chat"))
	if wait, ok := l.Reserve(c.now(), d); !ok || wait != 0 {
		t.Fatalf("first turn waits %v, %v; want at once", wait, ok)
	}
	if wait, ok := l.Reserve(c.now(), d); !ok || wait != 3*time.Second {
		t.Fatalf("second turn waits %v, %v; want 3 s, one node's share of 1/s among 3", wait, ok)
	}
}
