package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// effects is what the partition test's consumers do to the shared store,
// as the bridge does: per message, a write of the chat's state that each
// message overwrites (as the bridge's conversation records are), then, in
// one transaction, the message's progress record and an entry in the
// chat's log of effects. A message whose progress record exists is not
// applied again.
type effects struct {
	mu      sync.Mutex
	stores  map[string]storage.Store // by node name
	applied map[string]int           // per chat, effects logged
	seq     atomic.Int64             // orders the log across nodes
}

func (e *effects) store(name string) storage.Store {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stores[name]
}

func (e *effects) count(chat string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applied[chat]
}

func (e *effects) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.applied {
		n += c
	}
	return n
}

// consumer returns node name's consumer; hold, when it returns a channel,
// blocks the attempt mid-invocation (after its read, before its writes)
// until the channel closes. The held attempt's writes then ignore its
// cancellation, as writes already on their way would: the fence, not the
// cancellation, must stop them.
func (e *effects) consumer(name string, hold func(context.Context, queue.Message) <-chan struct{}) queue.Consumer {
	return func(ctx context.Context, m queue.Message) (time.Duration, error) {
		st := e.store(name)
		if _, err := st.Get(ctx, "inst", storage.KVS, "done:"+m.ID); err == nil {
			return 0, nil // applied before, on some node
		} else if !errors.Is(err, storage.ErrNotFound) {
			return 0, err
		}
		if hold != nil {
			if ch := hold(ctx, m); ch != nil {
				<-ch
				ctx = context.WithoutCancel(ctx)
			}
		}
		if err := st.Set(ctx, "inst", storage.KVS, "state:"+m.OrderKey, m.Payload, 0); err != nil {
			return 0, err
		}
		n := e.seq.Add(1)
		err := st.(storage.Transactor).Transact(ctx, "inst", []storage.TxnOp{
			{Kind: storage.TxnSet, Space: storage.KVS, Key: "done:" + m.ID, Value: []byte(name), Cond: storage.IfAbsent},
			{Kind: storage.TxnSet, Space: storage.KVS, Key: fmt.Sprintf("log:%s:%020d", m.OrderKey, n), Value: m.Payload},
		})
		switch {
		case errors.Is(err, storage.ErrConflict):
			return 0, nil // applied meanwhile, on another node
		case err != nil:
			return 0, err
		}
		e.mu.Lock()
		e.applied[m.OrderKey]++
		e.mu.Unlock()
		return 0, nil
	}
}

// TestPartition_ANodeWhoseClaimLapsedMidInvocationFailsItsWrites is the
// partition scenario of issue #20 (see partitionScenario), node a's
// session ended from another client: its lease revoked, as etcd does when
// a partition outlasts the TTL.
func TestPartition_ANodeWhoseClaimLapsedMidInvocationFailsItsWrites(t *testing.T) {
	c := newTestCluster(t, 3)
	partitionScenario(t, c, [2][]string{c.etcd.Endpoints, c.etcd.Endpoints}, func(held, other *node, _ int) (heal func()) {
		s, _, err := held.claim.current()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.db.Client().Revoke(t.Context(), s.Lease()); err != nil {
			t.Fatal(err)
		}
		return func() {}
	})
}

// TestPartition_ANodeCutOffMidInvocationFailsItsWritesWhenItReturns is the
// partition scenario of issue #20 (see partitionScenario) over a real
// partition: each node reaches the etcd members through loopback relays
// of its own; the held node's drop its connections and refuse new ones
// until healed, so its lease runs out on the members while it is held. Its
// held attempt goes on once it reaches the members again.
func TestPartition_ANodeCutOffMidInvocationFailsItsWritesWhenItReturns(t *testing.T) {
	c := newTestCluster(t, 3)
	var (
		relays    [2][]*relay
		endpoints [2][]string
	)
	for i := range relays {
		for _, ep := range c.etcd.Endpoints {
			r := newRelay(t, ep)
			relays[i] = append(relays[i], r)
			endpoints[i] = append(endpoints[i], r.url)
		}
	}
	partitionScenario(t, c, endpoints, func(held, _ *node, i int) (heal func()) {
		before := held.claim.ID()
		for _, r := range relays[i] {
			r.cut(true)
		}
		return func() {
			for _, r := range relays[i] {
				r.cut(false)
			}
			// Held until the node reaches the members again (it has joined
			// with a new session), so that its writes are judged by them,
			// not failed for want of a connection.
			waitfor.Until(t, 30*time.Second, "the held node joined again", waitfor.True(func() bool { return held.claim.ID() != before }))
		}
	})
}

// partitionScenario: two nodes reach the cluster through endpoints[0] and
// [1]. The node that consumes a chat's fourth message (the first pushed
// through node 0, which claims the lane; node 1 may take it over while node
// 0 lingers) is held in the middle of it, after its read and before its
// writes; lose ends its claims (a partition). The other node is pushed the
// chat's next messages, claims the lane (at once, or once the held node's
// lease runs out) and consumes them, the held one first. Then heal lets
// the held node reach the members, and its held attempt goes on: its
// writes, made under its lost claim's fence, must fail
// (storage.ErrFenced), so that the chat's state is not set back to an
// older message and no effect lands out of order; before that, the held
// node learns of the lapse and cancels the attempt, which the attempt's
// writes ignore here (the fence alone must stop them). Every chat's
// effects are each message's once, in push order. Without fencing the held attempt's
// write lands, and the chat's state ends at the held message. Retries are
// at most a second apart: attempts that fail around the handover would
// otherwise back off past the waits below (the default doubles to 5
// minutes), and the scenario is about order, not about backing off.
func partitionScenario(t *testing.T, c *testCluster, endpoints [2][]string, lose func(held, other *node, i int) (heal func())) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	e := &effects{stores: map[string]storage.Store{}, applied: map[string]int{}}
	const chats, perChat, heldAt = 4, 12, 3
	heldPayload := fmt.Sprintf("chat-00/%03d", heldAt)
	var (
		held     atomic.Bool
		holder   = make(chan int, 1) // which node is held
		heldCtx  context.Context     // the held attempt's; set before holder is sent
		resume   = make(chan struct{})
		staleErr = make(chan error, 1)
	)
	nodes := make([]*node, 2)
	for i := range nodes {
		name := fmt.Sprintf("node%d", i)
		consume := e.consumer(name, func(ctx context.Context, m queue.Message) <-chan struct{} {
			if string(m.Payload) != heldPayload || held.Swap(true) {
				return nil
			}
			*ctx.Value(heldKey{}).(*bool) = true
			heldCtx = ctx
			holder <- i
			return resume
		})
		nodes[i] = c.joinVia(endpoints[i], func(ctx context.Context, m queue.Message) (time.Duration, error) {
			mine := new(bool) // set if this attempt is the one held
			d, err := consume(context.WithValue(ctx, heldKey{}, mine), m)
			if *mine {
				staleErr <- err
			}
			return d, err
		}, queue.Config{Workers: workers, BaseBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
		e.mu.Lock()
		e.stores[name] = nodes[i].store
		e.mu.Unlock()
	}
	t.Cleanup(func() { // before the nodes close: a held attempt returns
		if !isClosed(resume) {
			close(resume)
		}
	})
	ctx := t.Context()
	push := func(n *node, chat, i int) {
		t.Helper()
		key := fmt.Sprintf("chat-%02d", chat)
		if err := n.queue.Push(ctx, "inst", "inbound", key, fmt.Appendf(nil, "%s/%03d", key, i), 0); err != nil {
			t.Fatal(err)
		}
	}
	pick := func() *node { return nodes[rnd.IntN(2)] }

	// The chat's first messages go through node 0, which claims its lane.
	for i := range heldAt + 1 {
		push(nodes[0], 0, i)
	}
	for chat := 1; chat < chats; chat++ {
		for i := range perChat / 2 {
			push(pick(), chat, i)
		}
	}
	var h int
	select {
	case h = <-holder:
	case <-time.After(30 * time.Second):
		t.Fatal("no node began the message to hold")
	}
	a, b := nodes[h], nodes[1-h]
	t.Logf("node%d is held, node%d goes on", h, 1-h)
	heal := lose(a, b, h)
	// The rest goes through b, which claims the lanes a held, or finds
	// them claimed and nudges their holder.
	for i := heldAt + 1; i < perChat; i++ {
		push(b, 0, i)
	}
	for chat := 1; chat < chats; chat++ {
		for i := perChat / 2; i < perChat; i++ {
			push(b, chat, i)
		}
	}
	waitfor.Until(t, 30*time.Second, "the lane's new consumer applied every message of the chat", waitfor.True(func() bool { return e.count("chat-00") == perChat }))
	// The held node learns on its own that its claims lapsed, partitioned
	// still, and cancels its attempts in flight.
	waitfor.Until(t, 30*time.Second, "the held attempt cancelled", waitfor.True(func() bool { return heldCtx.Err() != nil }))
	heal()
	close(resume)
	var stale error
	select {
	case stale = <-staleErr:
	case <-time.After(30 * time.Second):
		t.Fatal("the held attempt never returned")
	}
	if !errors.Is(stale, storage.ErrFenced) {
		t.Errorf("the held node's attempt after its claim lapsed: %v, want its write fenced (storage.ErrFenced)", stale)
	}
	waitfor.Until(t, 30*time.Second, "every message applied", func() string {
		if n := e.total(); n != chats*perChat {
			return fmt.Sprintf("%d of %d applied; pending: the held node %d, the other %d", n, chats*perChat, a.queue.Pending(), b.queue.Pending())
		}
		return ""
	})
	waitfor.Until(t, 30*time.Second, "every record deleted", waitfor.True(func() bool { return pendingRecords(t, b.store) == 0 }))
	waitfor.Until(t, 30*time.Second, "both queues count nothing pending", func() string {
		if pa, pb := a.queue.Pending(), b.queue.Pending(); pa != 0 || pb != 0 {
			return fmt.Sprintf("the held node counts %d, the other %d", pa, pb)
		}
		return ""
	})

	for chat := range chats {
		key := fmt.Sprintf("chat-%02d", chat)
		last := fmt.Sprintf("%s/%03d", key, perChat-1)
		state, err := b.store.Get(ctx, "inst", storage.KVS, "state:"+key)
		if err != nil || string(state) != last {
			t.Errorf("%s's state is %q (%v), want its last message's %q", key, state, err, last)
		}
		page, err := b.store.Query(ctx, "inst", storage.KVS, "log:"+key+":", "", storage.MaxQueryLimit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, en := range page.Entries {
			got = append(got, string(en.Value))
		}
		for i := range perChat {
			if want := fmt.Sprintf("%s/%03d", key, i); i >= len(got) || got[i] != want {
				t.Errorf("%s's effects, in the order applied: %v; want each message's once, in push order", key, got)
				break
			}
		}
		if len(got) != perChat {
			t.Errorf("%s: %d effects, want %d", key, len(got), perChat)
		}
	}
	t.Logf("the held node delivered %d, the other %d", a.queue.Stats().Delivered, b.queue.Stats().Delivered)
}

// relay is a loopback TCP relay in front of one etcd member that a test
// can cut, as a partition would: every connection through it is dropped
// and new ones are refused until it is healed.
type relay struct {
	url    string
	target string
	// mu guards cutOff and conns.
	mu     sync.Mutex
	cutOff bool
	conns  map[net.Conn]bool
}

func newRelay(t *testing.T, endpoint string) *relay {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{url: u.Scheme + "://" + ln.Addr().String(), target: u.Host, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		_ = ln.Close()
		r.cut(true)
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go r.pipe(in)
		}
	}()
	return r
}

func (r *relay) pipe(in net.Conn) {
	out, err := net.Dial("tcp", r.target)
	if err != nil {
		_ = in.Close()
		return
	}
	r.mu.Lock()
	if r.cutOff {
		r.mu.Unlock()
		_, _ = in.Close(), out.Close()
		return
	}
	r.conns[in], r.conns[out] = true, true
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
	_, _ = in.Close(), out.Close()
	r.mu.Lock()
	delete(r.conns, in)
	delete(r.conns, out)
	r.mu.Unlock()
}

// cut drops every connection and refuses new ones (true), or lets them
// through again (false).
func (r *relay) cut(off bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cutOff = off
	if off {
		for c := range r.conns {
			_ = c.Close()
		}
	}
}

// heldKey marks the context of the attempt the scenario holds.
type heldKey struct{}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
