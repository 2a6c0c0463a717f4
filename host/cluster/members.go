package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Members counts the live nodes of a cluster: the member keys under the
// prefix, which each Node keeps on its session's lease. The count is read
// once and then kept by a watch, so reading it costs no etcd request; a
// node that dies leaves the count when its lease expires (Config.TTL), one
// that closes at once.
//
// Nodes that share a limit take Count as the number of shares
// (ratelimit.Config.Nodes): when a node leaves, the others' shares grow.
type Members struct {
	client *clientv3.Client
	prefix string
	count  atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// mu guards keys, the member keys the watch has seen.
	mu   sync.Mutex
	keys map[string]struct{}
}

// WatchMembers starts counting the members of the cluster of cfg.Prefix
// (the same Config the nodes Join with) that client reaches. Until the
// first read answers, and whenever the count would be zero, Count is 1:
// the caller is a node of the cluster itself.
func WatchMembers(client *clientv3.Client, cfg Config) *Members {
	if cfg.Prefix == "" {
		cfg.Prefix = "chatbridge/cluster/"
	}
	m := &Members{client: client, prefix: cfg.Prefix + "members/", done: make(chan struct{}), keys: map[string]struct{}{}}
	m.count.Store(1)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	go m.run()
	return m
}

// Count is the number of live members, at least 1. It is safe for
// concurrent use and does no I/O.
func (m *Members) Count() int {
	if m == nil {
		return 1
	}
	return int(m.count.Load())
}

// Close stops the watch; Count keeps its last value.
func (m *Members) Close() {
	m.cancel()
	<-m.done
}

// run reads the members, then follows them from the revision read, reading
// again whenever the watch breaks (no leader, a compacted revision).
func (m *Members) run() {
	defer close(m.done)
	for wait := 100 * time.Millisecond; m.ctx.Err() == nil; {
		if m.follow() {
			wait = 100 * time.Millisecond
		}
		select {
		case <-time.After(wait):
		case <-m.ctx.Done():
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// follow reads the member keys and watches them until the watch breaks. It
// reports whether the read succeeded.
func (m *Members) follow() bool {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(m.ctx))
	defer cancel()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	resp, err := m.client.Get(rctx, m.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	rcancel()
	if err != nil {
		return false
	}
	m.mu.Lock()
	clear(m.keys)
	for _, kv := range resp.Kvs {
		m.keys[string(kv.Key)] = struct{}{}
	}
	m.storeLocked()
	m.mu.Unlock()
	for wr := range m.client.Watch(ctx, m.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
		if wr.Err() != nil {
			return true
		}
		m.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				delete(m.keys, string(ev.Kv.Key))
			} else {
				m.keys[string(ev.Kv.Key)] = struct{}{}
			}
		}
		m.storeLocked()
		m.mu.Unlock()
	}
	return true
}

func (m *Members) storeLocked() { m.count.Store(int64(max(len(m.keys), 1))) }
