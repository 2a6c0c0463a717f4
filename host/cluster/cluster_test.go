package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// node is one host of a test cluster: its own connection to etcd, its own
// sealed store on it, its session and its queue.
type node struct {
	db    *etcd.DB
	store *seal.Store
	claim *Node
	queue *queue.Queue
}

// testCluster is the shared state of the nodes of one test.
type testCluster struct {
	t      *testing.T
	etcd   *etcdtest.Cluster
	key    *seal.MasterKey
	prefix string
}

func newTestCluster(t *testing.T, members int) *testCluster {
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{t: t, etcd: etcdtest.Start(t, members), key: key, prefix: "t/"}
}

// join starts a node on the cluster. A nil consume makes a node without a queue.
func (c *testCluster) join(consume queue.Consumer, cfg queue.Config) *node {
	c.t.Helper()
	return c.joinVia(c.etcd.Endpoints, consume, cfg)
}

// joinVia starts a node that reaches the cluster through endpoints.
func (c *testCluster) joinVia(endpoints []string, consume queue.Consumer, cfg queue.Config) *node {
	t := c.t
	t.Helper()
	ctx := t.Context()
	db, err := etcd.Open(ctx, etcd.Config{Endpoints: endpoints, Prefix: c.prefix + "data/"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := seal.Open(ctx, db, []*seal.MasterKey{c.key}, seal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cn, err := Join(ctx, db.Client(), Config{Prefix: c.prefix + "cluster/", TTL: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{db: db, store: st, claim: cn}
	if consume != nil {
		cfg.Cluster = &queue.Cluster{Claims: cn, Installations: func() []string { return []string{"inst"} },
			SweepInterval: 2 * time.Second, Linger: 200 * time.Millisecond}
		n.queue, err = queue.Open(ctx, st, nil, cfg, consume, quiet)
		if err != nil {
			t.Fatal(err)
		}
		n.queue.Start()
	}
	t.Cleanup(func() {
		if n.queue != nil {
			n.queue.Close()
		}
		_ = cn.Close()
		_ = st.Close() // closes db
	})
	return n
}

// die makes a node stop as a killed process would: no more renewals, no
// release, no further writes; its consumer never returns again.
func (n *node) die() { _ = n.db.Client().Close() }

func TestClaim_OneNodeAtATimeUntilReleasedOrItsSessionEnds(t *testing.T) {
	c := newTestCluster(t, 3)
	a, b := c.join(nil, queue.Config{}), c.join(nil, queue.Config{})
	ctx := t.Context()
	mustClaim := func(n *node, lane string, want bool) {
		t.Helper()
		got, err := n.claim.Claim(ctx, lane)
		if err != nil || got != want {
			t.Fatalf("Claim(%s) = %v, %v; want %v", lane, got, err, want)
		}
	}
	mustClaim(a, "lane1", true)
	mustClaim(a, "lane1", true) // again: still a's
	mustClaim(b, "lane1", false)
	if err := b.claim.Release(ctx, "lane1"); err != nil {
		t.Fatal(err)
	}
	mustClaim(b, "lane1", false) // b's release did not free a's claim
	if err := a.claim.Release(ctx, "lane1"); err != nil {
		t.Fatal(err)
	}
	mustClaim(b, "lane1", true)

	// b dies: within its TTL, its claims are free and a hears a member left.
	mustClaim(b, "lane2", true)
	b.die()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := a.claim.Claim(ctx, "lane2")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead node's claim outlived its TTL by 13 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case ev := <-a.claim.Events():
		if ev != (queue.ClaimEvent{}) {
			t.Fatalf("event %+v, want a member leaving", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event for the member that left")
	}
}

func TestNudge_ReachesTheOtherNodesOnly(t *testing.T) {
	c := newTestCluster(t, 1)
	a, b := c.join(nil, queue.Config{}), c.join(nil, queue.Config{})
	if err := a.claim.Nudge(t.Context(), "lane9"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-b.claim.Events():
		if ev.Lane != "lane9" {
			t.Fatalf("b got %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b was not nudged")
	}
	select {
	case ev := <-a.claim.Events():
		t.Fatalf("a heard its own nudge: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// ledger records the deliveries of every node of a test.
type ledger struct {
	mu       sync.Mutex
	done     map[string][]string // order key -> payloads consumed, in order
	count    map[string]int      // payload -> successful deliveries
	inFlight map[string]int      // order key -> attempts running now, across nodes
	overlap  bool
	end      chan struct{} // closed when the test ends
	// uncertain holds the payloads whose push failed at least once.
	uncertain map[string]bool
	// first names the node that consumed a payload first; died, the nodes
	// that died. A node killed between consuming a message and deleting its
	// record leaves it to be delivered again: at most once per worker.
	first map[string]string
	died  map[string]bool
	// firstAttempt is the attempt a payload was first consumed at; retaken
	// holds those delivered again at a later attempt. A node that takes
	// over a lane whose claim lapsed (its owner's lease ran out while an
	// etcd member died) counts an attempt for a head that may have been in
	// flight: the queue says it may be delivering again, which at-least-once
	// allows.
	firstAttempt map[string]int
	retaken      map[string]bool
}

func newLedger() *ledger {
	return &ledger{done: map[string][]string{}, count: map[string]int{}, inFlight: map[string]int{}, end: make(chan struct{}), uncertain: map[string]bool{},
		first: map[string]string{}, died: map[string]bool{}, firstAttempt: map[string]int{}, retaken: map[string]bool{}}
}

// consumer returns the consumer of the node called name. hold, when set
// and true, blocks an attempt until the test ends (the node died).
func (l *ledger) consumer(name string, hold func(queue.Message) bool) queue.Consumer {
	return func(ctx context.Context, m queue.Message) (time.Duration, error) {
		if hold != nil && hold(m) {
			<-l.end
			return 0, errors.New("the node died")
		}
		l.mu.Lock()
		l.inFlight[m.OrderKey]++
		if l.inFlight[m.OrderKey] > 1 {
			l.overlap = true
		}
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.inFlight[m.OrderKey]--
			l.mu.Unlock()
		}()
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		l.mu.Lock()
		defer l.mu.Unlock()
		p := string(m.Payload)
		l.done[m.OrderKey] = append(l.done[m.OrderKey], p)
		l.count[p]++
		if l.first[p] == "" {
			l.first[p], l.firstAttempt[p] = name, m.Attempt
		} else if m.Attempt > l.firstAttempt[p] {
			l.retaken[p] = true
		}
		return 0, nil
	}
}

// redeliverable reports whether p may be consumed twice: its push failed
// once, the node that consumed it first died, or the queue delivered it
// again at a later attempt.
func (l *ledger) redeliverable(p string) bool {
	return l.uncertain[p] || l.died[l.first[p]] || l.retaken[p]
}

// workers is every test node's Config.Workers.
const workers = 4

func (l *ledger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.count)
}

// check asserts that every chat's messages were consumed, each once, in
// push order.
func (l *ledger) check(t *testing.T, chats, perChat int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range chats {
		key := fmt.Sprintf("chat-%02d", c)
		var want []string
		for i := range perChat {
			want = append(want, fmt.Sprintf("%s/%03d", key, i))
		}
		got := l.done[key]
		got = slices.CompactFunc(got, func(a, b string) bool { return a == b && l.redeliverable(a) })
		if !slices.Equal(got, want) {
			t.Errorf("%s consumed as %v", key, got)
		}
	}
	afterDeath := 0
	for p, n := range l.count {
		if n != 1 && !(n == 2 && l.redeliverable(p)) {
			t.Errorf("%s consumed %d times", p, n)
		}
		if n == 2 && !l.uncertain[p] && !l.retaken[p] {
			afterDeath++
		}
	}
	if afterDeath > workers {
		t.Errorf("%d messages consumed by a node that died were consumed again, more than its %d workers", afterDeath, workers)
	}
	if l.overlap {
		t.Error("two nodes consumed one lane at once")
	}
}

// pushAll pushes perChat messages to each chat, one chat's in order, each
// through a node pick chooses, several chats at once. A push that fails is
// made again, as a webhook's sender would, maybe through another node; its
// first try may have been stored all the same, so the ledger lets such a
// message be consumed twice, right after itself.
func pushAll(t *testing.T, l *ledger, pick func() *node, chats, perChat int, during func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, chats)
	for c := range chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("chat-%02d", c)
			for i := range perChat {
				if c == 0 && during != nil {
					during(i)
				}
				p := fmt.Sprintf("%s/%03d", key, i)
				deadline := time.Now().Add(20 * time.Second)
				for {
					err := pick().queue.Push(context.Background(), "inst", "inbound", key, []byte(p), 0)
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						errs <- err
						return
					}
					l.mu.Lock()
					l.uncertain[p] = true
					l.mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// pendingRecords counts the queue records left in the store.
func pendingRecords(t *testing.T, st storage.Store) int {
	t.Helper()
	page, err := st.Query(context.Background(), "inst", storage.Queue, "m:", "", storage.MaxQueryLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Entries)
}

func TestQueue_TwoNodesConsumeEachMessageOnceInPushOrder(t *testing.T) {
	c := newTestCluster(t, 3)
	l := newLedger()
	a := c.join(l.consumer("a", nil), queue.Config{Workers: workers})
	b := c.join(l.consumer("b", nil), queue.Config{Workers: workers})
	const chats, perChat = 16, 25
	pick := func() *node { return []*node{a, b}[rand.IntN(2)] }
	pushAll(t, l, pick, chats, perChat, func(i int) {
		if i == perChat/2 {
			c.etcd.Kill(2) // a member dies mid-run; the other two are a quorum
		}
	})
	waitfor.Until(t, 60*time.Second, "every message consumed", waitfor.True(func() bool { return l.total() == chats*perChat }))
	waitfor.Until(t, 30*time.Second, "every record deleted", waitfor.True(func() bool { return pendingRecords(t, a.store) == 0 }))
	l.check(t, chats, perChat)
	sa, sb := a.queue.Stats(), b.queue.Stats()
	t.Logf("node a delivered %d, node b %d", sa.Delivered, sb.Delivered)
	if sa.Delivered == 0 || sb.Delivered == 0 {
		t.Errorf("one node did all the work: a %d, b %d", sa.Delivered, sb.Delivered)
	}
}

func TestQueue_ANodeThatDiesLeavesItsLanesToAnother(t *testing.T) {
	c := newTestCluster(t, 3)
	l := newLedger()
	var dead atomic.Bool // set once a dies: its workers hang from then on
	a := c.join(l.consumer("a", func(queue.Message) bool { return dead.Load() }), queue.Config{Workers: workers})
	b := c.join(l.consumer("b", nil), queue.Config{Workers: workers})
	// Registered after the nodes', so it runs first: held attempts return
	// before the queues wait for them.
	t.Cleanup(func() { close(l.end) })
	const chats, perChat = 12, 20
	pick := func() *node {
		if dead.Load() || rand.IntN(2) == 0 {
			return b
		}
		return a
	}
	pushAll(t, l, pick, chats, perChat, func(i int) {
		if i == perChat/2 && !dead.Swap(true) {
			l.mu.Lock()
			l.died["a"] = true
			l.mu.Unlock()
			a.die()
		}
	})
	// Pushes after a's death go through b only.
	waitfor.Until(t, 60*time.Second, "every message consumed by the survivor", waitfor.True(func() bool { return l.total() == chats*perChat }))
	l.check(t, chats, perChat)
	if pendingRecords(t, b.store) != 0 {
		waitfor.Until(t, 30*time.Second, "every record deleted", waitfor.True(func() bool { return pendingRecords(t, b.store) == 0 }))
	}
}

func TestJoin_RefusesATTLBelowTwoSeconds(t *testing.T) {
	_, err := Join(t.Context(), nil, Config{TTL: time.Second})
	if err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("Join with a 1 s TTL: %v", err)
	}
}
