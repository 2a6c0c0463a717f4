package queue

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
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

// sealedQueueStore opens a sealed BuntDB store in a temporary directory.
func sealedQueueStore(t *testing.T) *seal.Store {
	t.Helper()
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
	return st
}

// gatedStore holds the queue's writes of retry records (a record's second
// attempt) until the test opens the gate, as a write stalls while its node
// is partitioned.
type gatedStore struct {
	*seal.Store
	entered chan struct{} // closed when a retry's write waits
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedStore) Set(ctx context.Context, installation string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error {
	if space == storage.Queue {
		var r record
		if r.decode(value) == nil && r.Attempt == 2 {
			g.once.Do(func() { close(g.entered) })
			<-g.gate
		}
	}
	return g.Store.Set(ctx, installation, space, key, value, ttl)
}

// A lapse that comes while a failed attempt's retry is being recorded
// leaves no message counted as pending on the node that lost the lane:
// the lane is uncounted whole when it is dropped, and the retry's record
// is the next claim's to count. The count used to keep that message for
// good, and the partition scenario of host/cluster waited in vain for
// both queues to count nothing.
func TestALapseWhileARetryIsRecordedLeavesNothingCounted(t *testing.T) {
	st := &gatedStore{Store: sealedQueueStore(t), entered: make(chan struct{}), gate: make(chan struct{})}
	claims := &soleClaims{events: make(chan ClaimEvent, 16)}
	var delivered atomic.Int32
	consume := func(ctx context.Context, m Message) (time.Duration, error) {
		if m.Attempt == 1 {
			return 0, errors.New("the first attempt fails")
		}
		delivered.Add(1)
		return 0, nil
	}
	cfg := Config{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Cluster: &Cluster{Claims: claims, Installations: func() []string { return []string{"inst"} }, SweepInterval: time.Hour}}
	q := open(t, st, nil, cfg, consume)
	q.Start()
	if err := q.Push(t.Context(), "inst", "inbound", "chat", []byte("m1"), 0); err != nil {
		t.Fatal(err)
	}
	<-st.entered
	claims.lapse()
	waitfor.Until(t, 10*time.Second, "the lapse dropped the lane", waitfor.True(func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.lanes) == 0
	}))
	close(st.gate)
	claims.rejoin()
	waitfor.Until(t, 10*time.Second, "the retry consumed after the node claimed its lane again", waitfor.True(func() bool { return delivered.Load() == 1 }))
	waitfor.Until(t, 10*time.Second, "nothing pending", waitfor.True(func() bool { return q.Pending() == 0 && stored(t, st, "inst", pendingPrefix) == 0 }))
}

// A message whose attempt the node's lapse cut short is still pending, and
// is consumed when the node claims its lane again, however soon; it used to
// be remembered as gone for a minute, and skipped.
func TestALapseMidAttemptLeavesTheMessageForTheNextClaim(t *testing.T) {
	st := sealedQueueStore(t)
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
