package queue

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// soleClaims are the Claims of a node alone in its cluster, whose session
// a test can end (every claim fails until it joins again) and renew.
type soleClaims struct {
	mu     sync.Mutex
	down   bool
	events chan ClaimEvent
}

var errPartitioned = errors.New("partitioned")

func (c *soleClaims) Claim(context.Context, string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return false, errPartitioned
	}
	return true, nil
}

func (c *soleClaims) Release(context.Context, string) error { return nil }
func (c *soleClaims) Nudge(context.Context, string) error   { return nil }
func (c *soleClaims) Events() <-chan ClaimEvent             { return c.events }

// lapse ends the session, as a partition longer than its TTL does.
func (c *soleClaims) lapse() {
	c.mu.Lock()
	c.down = true
	c.mu.Unlock()
	c.events <- ClaimEvent{Lapsed: true}
}

// rejoin starts a new session, which asks for a sweep.
func (c *soleClaims) rejoin() {
	c.mu.Lock()
	c.down = false
	c.mu.Unlock()
	c.events <- ClaimEvent{}
}

// A message whose attempt the node's lapse cut short is still pending, and
// is consumed when the node claims its lane again, however soon; it used to
// be remembered as gone for a minute, and skipped.
func TestALapseMidAttemptLeavesTheMessageForTheNextClaim(t *testing.T) {
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bunt.Open(filepath.Join(t.TempDir(), "data.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := seal.Open(t.Context(), db, []*seal.MasterKey{key}, seal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	claims := &soleClaims{events: make(chan ClaimEvent, 16)}
	var (
		entered   = make(chan struct{})
		cut       atomic.Int32 // attempts that ended cancelled
		delivered atomic.Int32
	)
	consume := func(ctx context.Context, m Message) (time.Duration, error) {
		if m.Attempt == 1 {
			close(entered)
			<-ctx.Done() // the lapse cancels it
			cut.Add(1)
			return 0, ctx.Err()
		}
		delivered.Add(1)
		return 0, nil
	}
	cfg := Config{Cluster: &Cluster{Claims: claims, Installations: func() []string { return []string{"inst"} }, SweepInterval: time.Hour}}
	q := open(t, st, nil, cfg, consume)
	q.Start()
	if err := q.Push(t.Context(), "inst", "inbound", "chat", []byte("m1"), 0); err != nil {
		t.Fatal(err)
	}
	<-entered
	claims.lapse()
	waitfor.Until(t, 10*time.Second, "the attempt cancelled by the lapse returned", waitfor.True(func() bool { return cut.Load() == 1 }))
	claims.rejoin()
	waitfor.Until(t, 10*time.Second, "the message consumed after the node claimed its lane again", waitfor.True(func() bool { return delivered.Load() == 1 }))
	waitfor.Until(t, 10*time.Second, "nothing pending", waitfor.True(func() bool { return q.Pending() == 0 && stored(t, st, "inst", pendingPrefix) == 0 }))
}
