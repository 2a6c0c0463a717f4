package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
// until the channel closes.
func (e *effects) consumer(name string, hold func(queue.Message) <-chan struct{}) queue.Consumer {
	return func(ctx context.Context, m queue.Message) (time.Duration, error) {
		st := e.store(name)
		if _, err := st.Get(ctx, "inst", storage.KVS, "done:"+m.ID); err == nil {
			return 0, nil // applied before, on some node
		} else if !errors.Is(err, storage.ErrNotFound) {
			return 0, err
		}
		if hold != nil {
			if ch := hold(m); ch != nil {
				<-ch
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
// partition scenario of issue #20. Node a consumes a chat's lane and is
// held in the middle of one message; its session's lease is revoked from
// another client, as etcd does when a partition outlasts the TTL. Node b
// is pushed the chat's next messages, claims the lane and consumes them,
// the held one first. Then a's held attempt goes on: its writes, made
// under its lapsed claim's fence, must fail (storage.ErrFenced), so that
// the chat's state is not set back to an older message and no effect
// lands out of order. Every chat's effects are each message's once, in
// push order.
func TestPartition_ANodeWhoseClaimLapsedMidInvocationFailsItsWrites(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	c := newTestCluster(t, 3)
	e := &effects{stores: map[string]storage.Store{}, applied: map[string]int{}}
	const chats, perChat, heldAt = 4, 12, 3
	heldPayload := fmt.Sprintf("chat-00/%03d", heldAt)
	var (
		held     atomic.Bool
		entered  = make(chan struct{})
		resume   = make(chan struct{})
		staleErr = make(chan error, 1)
	)
	hold := func(m queue.Message) <-chan struct{} {
		if string(m.Payload) != heldPayload || held.Swap(true) {
			return nil
		}
		close(entered)
		return resume
	}
	consumeA := e.consumer("a", hold)
	a := c.join(func(ctx context.Context, m queue.Message) (time.Duration, error) {
		d, err := consumeA(ctx, m)
		if string(m.Payload) == heldPayload && m.Attempt == 1 {
			staleErr <- err
		}
		return d, err
	}, queue.Config{Workers: workers})
	b := c.join(e.consumer("b", nil), queue.Config{Workers: workers})
	e.mu.Lock()
	e.stores["a"], e.stores["b"] = a.store, b.store
	e.mu.Unlock()
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
	pick := func() *node { return []*node{a, b}[rnd.IntN(2)] }

	// The chat's first messages go through a, which claims its lane.
	for i := range heldAt + 1 {
		push(a, 0, i)
	}
	for chat := 1; chat < chats; chat++ {
		for i := range perChat / 2 {
			push(pick(), chat, i)
		}
	}
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("node a never began the message it is held in")
	}
	s, _, err := a.claim.current()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Client().Revoke(ctx, s.Lease()); err != nil {
		t.Fatal(err)
	}
	// The rest goes through b, which claims the lane a held (or finds a's
	// new session holding it, and nudges a).
	for i := heldAt + 1; i < perChat; i++ {
		push(b, 0, i)
	}
	for chat := 1; chat < chats; chat++ {
		for i := perChat / 2; i < perChat; i++ {
			push(pick(), chat, i)
		}
	}
	waitfor.Until(t, 30*time.Second, "the lane's new consumer applied every message of the chat", waitfor.True(func() bool { return e.count("chat-00") == perChat }))
	close(resume)
	var stale error
	select {
	case stale = <-staleErr:
	case <-time.After(30 * time.Second):
		t.Fatal("node a's held attempt never returned")
	}
	if !errors.Is(stale, storage.ErrFenced) {
		t.Errorf("node a's attempt after its claim lapsed: %v, want its write fenced (storage.ErrFenced)", stale)
	}
	waitfor.Until(t, 30*time.Second, "every message applied", waitfor.True(func() bool { return e.total() == chats*perChat }))
	waitfor.Until(t, 30*time.Second, "every record deleted", waitfor.True(func() bool { return pendingRecords(t, b.store) == 0 }))
	waitfor.Until(t, 30*time.Second, "both queues count nothing pending", waitfor.True(func() bool { return a.queue.Pending() == 0 && b.queue.Pending() == 0 }))

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
	sa, sb := a.queue.Stats(), b.queue.Stats()
	t.Logf("node a delivered %d, node b %d", sa.Delivered, sb.Delivered)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
