package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Config tunes a node. The zero value is usable.
type Config struct {
	// Prefix comes before every coordination key; nodes of one cluster
	// share it. Default "chatbridge/cluster/".
	Prefix string
	// TTL is how long a node's claims outlive it: after it stops renewing
	// its session, etcd deletes them within TTL. Default 5 s; at least 2 s.
	TTL time.Duration
	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("cluster: node closed")

// Node is one host's membership of the cluster. It is safe for concurrent use.
type Node struct {
	client *clientv3.Client
	cfg    Config
	log    *slog.Logger
	base   string // random; with the session's lease, the node's id

	ctx    context.Context
	cancel context.CancelFunc
	events chan queue.ClaimEvent
	done   chan struct{}

	// mu guards the session, the id and the nudge lease.
	mu         sync.Mutex
	session    *concurrency.Session
	id         string
	nudgeLease clientv3.LeaseID
	nudgeUntil time.Time
}

var (
	_ queue.Claims  = (*Node)(nil)
	_ queue.Fencing = (*Node)(nil)
)

// Join starts a session on the cluster that client reaches.
func Join(ctx context.Context, client *clientv3.Client, cfg Config) (*Node, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "chatbridge/cluster/"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Second
	}
	if cfg.TTL < 2*time.Second {
		return nil, fmt.Errorf("cluster: TTL %v, want at least 2 s", cfg.TTL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var b [8]byte
	_, _ = crand.Read(b[:])
	n := &Node{client: client, cfg: cfg, log: cfg.Logger, base: hex.EncodeToString(b[:]),
		events: make(chan queue.ClaimEvent, 4096), done: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.startSession(ctx); err != nil {
		n.cancel()
		return nil, err
	}
	go n.run()
	return n, nil
}

// ID names this node in logs and in the values of its keys.
func (n *Node) ID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

func (n *Node) key(kind, name string) string { return n.cfg.Prefix + kind + "/" + name }

// startSession makes a new session and announces the node as a member.
func (n *Node) startSession(ctx context.Context) error {
	s, err := concurrency.NewSession(n.client, concurrency.WithTTL(int((n.cfg.TTL+time.Second-1)/time.Second)), concurrency.WithContext(n.ctx))
	if err != nil {
		return fmt.Errorf("cluster: join: %w", err)
	}
	id := n.base + "." + strconv.FormatInt(int64(s.Lease()), 16)
	if _, err := n.client.Put(ctx, n.key("members", id), "", clientv3.WithLease(s.Lease())); err != nil {
		_ = s.Close()
		return fmt.Errorf("cluster: join: %w", err)
	}
	n.mu.Lock()
	n.session, n.id = s, id
	n.mu.Unlock()
	return nil
}

func (n *Node) current() (*concurrency.Session, string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return nil, "", ErrClosed
	}
	return n.session, n.id, nil
}

// Claim implements queue.Claims: the lane's key is created on this node's
// session unless it exists; it is this node's if it holds the node's id.
func (n *Node) Claim(ctx context.Context, lane string) (bool, error) {
	_, ok, err := n.ClaimFenced(ctx, lane)
	return ok, err
}

// ClaimFenced implements queue.Fencing: Claim, and the claim's fence, the
// lane key's creation revision. The key lives on this node's session, so
// it is deleted when the session lapses; writes fenced by it fail from then
// on, even if this node has not noticed yet.
func (n *Node) ClaimFenced(ctx context.Context, lane string) (storage.Fence, bool, error) {
	s, id, err := n.current()
	if err != nil {
		return storage.Fence{}, false, err
	}
	k := n.key("lanes", lane)
	resp, err := n.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, id, clientv3.WithLease(s.Lease()))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return storage.Fence{}, false, fmt.Errorf("cluster: claim: %w", err)
	}
	if resp.Succeeded {
		// The transaction's one write created the key at its revision.
		return storage.Fence{Key: k, Revision: resp.Header.Revision}, true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 1 && string(kvs[0].Value) == id {
		return storage.Fence{Key: k, Revision: kvs[0].CreateRevision}, true, nil
	}
	return storage.Fence{}, false, nil
}

// Release implements queue.Claims: the lane's key is deleted if it is still
// this node's.
func (n *Node) Release(ctx context.Context, lane string) error {
	_, id, err := n.current()
	if err != nil {
		return err
	}
	k := n.key("lanes", lane)
	_, err = n.client.Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", id)).Then(clientv3.OpDelete(k)).Commit()
	if err != nil {
		return fmt.Errorf("cluster: release: %w", err)
	}
	return nil
}

// Nudge implements queue.Claims: it writes the lane's nudge key, which every
// node watches. Nudge keys live on a lease of about a minute, not the
// session's, so they do not pile up for as long as a node runs.
func (n *Node) Nudge(ctx context.Context, lane string) error {
	_, id, err := n.current()
	if err != nil {
		return err
	}
	lease, err := n.shortLease(ctx)
	if err != nil {
		return err
	}
	if _, err := n.client.Put(ctx, n.key("nudges", lane), id, clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("cluster: nudge: %w", err)
	}
	return nil
}

// shortLease returns a lease with at least 30 s to live, granting a new
// one each half minute.
func (n *Node) shortLease(ctx context.Context) (clientv3.LeaseID, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Now().Before(n.nudgeUntil) {
		return n.nudgeLease, nil
	}
	g, err := n.client.Grant(ctx, 60)
	if err != nil {
		return 0, fmt.Errorf("cluster: nudge: %w", err)
	}
	n.nudgeLease, n.nudgeUntil = g.ID, time.Now().Add(30*time.Second)
	return g.ID, nil
}

// Events implements queue.Claims.
func (n *Node) Events() <-chan queue.ClaimEvent { return n.events }

// emit reports an event without ever blocking the watch: a nudge that does
// not fit is dropped (the lane is read again when it empties), a sweep
// request is one of many.
func (n *Node) emit(ev queue.ClaimEvent) {
	select {
	case n.events <- ev:
	default:
		n.log.Warn("cluster: event dropped; the queue is behind")
	}
}

// run follows the members and nudges until Close, and joins again when the
// session lapses.
func (n *Node) run() {
	defer close(n.done)
	defer close(n.events)
	for n.ctx.Err() == nil {
		s, id, err := n.current()
		if err != nil {
			return
		}
		began := time.Now()
		n.watch(s, id)
		if n.ctx.Err() != nil {
			return
		}
		select {
		case <-s.Done():
		default:
			n.emit(queue.ClaimEvent{}) // a broken watch may have missed a leaving member
			if time.Since(began) < time.Second {
				// Broken at once (no leader, say): do not spin on it.
				select {
				case <-time.After(500 * time.Millisecond):
				case <-n.ctx.Done():
				}
			}
			continue
		}
		n.log.Warn("cluster: session lapsed; joining again", "node", id)
		// Reported at once, not once joined again: during a partition the
		// queue stops its attempts now, rather than when the partition ends.
		n.emit(queue.ClaimEvent{Lapsed: true})
		for wait := 100 * time.Millisecond; n.ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
			ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
			err := n.startSession(ctx)
			cancel()
			if err == nil {
				n.emit(queue.ClaimEvent{}) // joined: sweep for lanes to consume
				break
			}
			n.log.Warn("cluster: join failed; retrying", "err", err)
			select {
			case <-time.After(wait):
			case <-n.ctx.Done():
			}
		}
	}
}

// watch reports nudges from other nodes and members that leave, until the
// session ends, the watch breaks, or Close.
func (n *Node) watch(s *concurrency.Session, id string) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(n.ctx))
	defer cancel()
	nudges := n.client.Watch(ctx, n.cfg.Prefix+"nudges/", clientv3.WithPrefix(), clientv3.WithFilterDelete())
	members := n.client.Watch(ctx, n.cfg.Prefix+"members/", clientv3.WithPrefix(), clientv3.WithFilterPut())
	for {
		select {
		case <-s.Done():
			return
		case resp, ok := <-nudges:
			if !ok || resp.Err() != nil {
				return
			}
			for _, ev := range resp.Events {
				if string(ev.Kv.Value) != id {
					n.emit(queue.ClaimEvent{Lane: string(ev.Kv.Key[len(n.cfg.Prefix+"nudges/"):])})
				}
			}
		case resp, ok := <-members:
			if !ok || resp.Err() != nil {
				return
			}
			if len(resp.Events) > 0 {
				n.emit(queue.ClaimEvent{})
			}
		}
	}
}

// Close leaves the cluster: the session's lease is revoked, so this node's
// claims are free at once and the other nodes sweep for its lanes.
func (n *Node) Close() error {
	n.mu.Lock()
	s := n.session
	n.mu.Unlock()
	n.cancel()
	<-n.done
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.client.Revoke(ctx, s.Lease()); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}
