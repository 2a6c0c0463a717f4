package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// laneFence is the fence fencingClaims gives every claim.
var laneFence = storage.Fence{Key: "cluster/lanes/x", Revision: 42}

// fencingClaims are the claims of a node alone in its cluster: every lane
// is its own, under laneFence.
type fencingClaims struct{ events chan queue.ClaimEvent }

func (fencingClaims) Claim(context.Context, string) (bool, error) { return true, nil }
func (fencingClaims) ClaimFenced(context.Context, string) (storage.Fence, bool, error) {
	return laneFence, true, nil
}
func (fencingClaims) Release(context.Context, string) error { return nil }
func (fencingClaims) Nudge(context.Context, string) error   { return nil }
func (c fencingClaims) Events() <-chan queue.ClaimEvent     { return c.events }

// fenceRecorder is a store that records the fence each write was made under.
type fenceRecorder struct {
	*memstore.Store
	mu     sync.Mutex
	writes []fencedWrite
}

type fencedWrite struct {
	op     string
	space  storage.Keyspace
	key    string
	fence  storage.Fence
	fenced bool
}

func (s *fenceRecorder) record(ctx context.Context, op string, space storage.Keyspace, key string) {
	f, ok := storage.FenceOf(ctx)
	s.mu.Lock()
	s.writes = append(s.writes, fencedWrite{op, space, key, f, ok})
	s.mu.Unlock()
}

func (s *fenceRecorder) Set(ctx context.Context, inst string, sp storage.Keyspace, key string, v []byte, ttl time.Duration) error {
	s.record(ctx, "set", sp, key)
	return s.Store.Set(ctx, inst, sp, key, v, ttl)
}

func (s *fenceRecorder) Delete(ctx context.Context, inst string, sp storage.Keyspace, key string) error {
	s.record(ctx, "delete", sp, key)
	return s.Store.Delete(ctx, inst, sp, key)
}

func (s *fenceRecorder) Transact(ctx context.Context, inst string, ops []storage.TxnOp) error {
	for _, op := range ops {
		s.record(ctx, "transact", op.Space, op.Key)
	}
	return s.Store.Transact(ctx, inst, ops)
}

func (s *fenceRecorder) Fingerprint(_ context.Context, inst string, sp storage.Keyspace, key string) (string, error) {
	sum := sha256.Sum256([]byte(inst + "\x00" + sp.String() + "\x00" + key))
	return hex.EncodeToString(sum[:16]), nil
}

func (s *fenceRecorder) snapshot() []fencedWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fencedWrite(nil), s.writes...)
}

// On a cluster, the writes a consumer's module makes through the storage
// capability, and the queue's delete of the consumed record, carry the
// lane's fence (the etcd backend makes them conditional on it; see
// host/cluster's partition tests); the webhook side's push does not.
func TestAConsumersWritesOnAClusterCarryItsLanesFence(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	ctx := context.Background()
	in := f.install(t, "https://example.atlassian.net")
	st := &fenceRecorder{Store: f.store}
	node, err := host.New(ctx, host.Config{Store: st, Trust: bundletest.Trust(t), Engine: engine.Config{CacheDir: cacheDir},
		Logger: slog.New(slog.DiscardHandler), Claims: fencingClaims{events: make(chan queue.ClaimEvent)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close(ctx) })
	if err := node.Load(ctx, bundletest.Probe(t, nil)); err != nil {
		t.Fatal(err)
	}
	if err := node.Queue().Push(ctx, in.ID, "deliveries", "chat", []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the message consumed", waitfor.True(func() bool { return node.Queue().Stats().Delivered == 1 }))
	var effect, pushed, deleted bool
	for _, w := range st.snapshot() {
		switch {
		case w.space == storage.KVS && w.key == "queue:got:deliveries:hello":
			effect = true
			if !w.fenced || w.fence != laneFence {
				t.Errorf("the module's write was made under fence %+v (%v), want the lane's", w.fence, w.fenced)
			}
		case w.space == storage.Queue && w.op == "set" && !pushed:
			pushed = true
			if w.fenced {
				t.Errorf("the push was made under a fence: %+v", w.fence)
			}
		case w.space == storage.Queue && w.op == "delete":
			deleted = true
			if !w.fenced || w.fence != laneFence {
				t.Errorf("the consumed record's delete was made under fence %+v (%v), want the lane's", w.fence, w.fenced)
			}
		}
	}
	if !effect || !pushed || !deleted {
		t.Fatalf("writes seen: module's %v, push %v, delete %v; want all three", effect, pushed, deleted)
	}
}
