package queue

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Claims is how the host nodes of a cluster share the lanes of one store:
// a lane is consumed only by the node that claims it. host/cluster
// implements it on etcd.
type Claims interface {
	// Claim makes this node the lane's consumer until Release, or until this
	// node's claims lapse; false when another node is its consumer.
	// Claiming a lane this node already claims succeeds.
	Claim(ctx context.Context, lane string) (bool, error)
	// Release gives up a lane this node claims.
	Release(ctx context.Context, lane string) error
	// Nudge tells the node that claims lane that the lane has a new message.
	Nudge(ctx context.Context, lane string) error
	// Events reports what the cluster did; it is closed when the claims are.
	Events() <-chan ClaimEvent
}

// Fencing is Claims whose claims carry a fence (storage.Fence): while this
// node consumes a lane, every write of the consumer and of the queue for it
// (the record's delete, retry or burial) is made under the lane's fence, so
// that once the claim is lost, as when this node's session lapses in a
// partition, those writes fail with storage.ErrFenced instead of landing
// beside, or after, those of the lane's new consumer. host/cluster
// implements it.
type Fencing interface {
	// ClaimFenced is Claim, and the fence of the claim it made or found.
	ClaimFenced(ctx context.Context, lane string) (storage.Fence, bool, error)
}

// ClaimEvent is one thing that happened in the cluster.
type ClaimEvent struct {
	// Lane, when set, is a lane another node nudged: this node may claim it.
	Lane string
	// Lapsed reports that this node's claims ended without Release (its
	// session with the cluster expired): other nodes may consume the lanes
	// it held. It may not have joined again yet; an event that asks for a
	// sweep follows when it has.
	Lapsed bool
	// An event with neither says that a node left the cluster: the lanes it
	// claimed need a consumer.
}

// Cluster makes a Queue one of several host nodes that consume from one
// store (see Config.Cluster).
type Cluster struct {
	// Claims shares the lanes among the nodes. Required.
	Claims Claims
	// Installations lists the installations whose records the node sweeps
	// for lanes that no node consumes. Required.
	Installations func() []string
	// SweepInterval is how often a node looks for lanes no node consumes,
	// besides when one leaves. Default 30 s.
	SweepInterval time.Duration
	// Linger is how long a node keeps an emptied lane's claim, so that a
	// conversation's next message does not pay for a new claim. Default 1 s.
	Linger time.Duration
}

// goneMemory is how long a node remembers a message it consumed or
// buried, longer than any read of a lane's records takes.
const goneMemory = time.Minute

// goneSet remembers the messages this node consumed or buried lately, so
// that a read of a lane that raced with their deletion does not bring them
// back. Guarded by Queue.mu.
type goneSet struct {
	at     map[string]time.Time
	pruned time.Time
}

func (g *goneSet) has(id string) bool {
	_, ok := g.at[id]
	return ok
}

func (g *goneSet) add(id string) {
	now := time.Now()
	if g.at == nil {
		g.at = map[string]time.Time{}
	}
	if now.Sub(g.pruned) > goneMemory/4 {
		for id, t := range g.at {
			if now.Sub(t) > goneMemory {
				delete(g.at, id)
			}
		}
		g.pruned = now
	}
	g.at[id] = now
}

// clustered is the part of a Queue that shares its lanes with other nodes.
//
// A lane's messages are consumed by the node that claims it. A push stores
// its record first, then either finds the lane claimed here, claims it
// (reading the lane's records), or nudges the node that claims it, which
// reads the lane again. A node gives up an emptied lane after Linger, then
// reads the lane once more: a push that found the lane still claimed and
// nudged too late is then found and claimed again. Lanes whose node died
// are found by a sweep when it leaves, and every SweepInterval.
type clustered struct {
	q    *Queue
	cfg  Cluster
	fp   storage.Fingerprinter
	seed maphash.Seed
	// stripes serialise claiming and releasing one lane within this node.
	stripes [64]sync.Mutex
	// byName finds a claimed lane by its claim name; guarded by q.mu, as is gone.
	byName map[string]*lane
	gone   goneSet

	ctx    context.Context
	cancel context.CancelFunc
	sweeps chan struct{} // sweep requests, coalesced
}

var errCluster = errors.New("queue: Config.Cluster needs Claims, Installations, and a store that implements storage.Fingerprinter")

func newClustered(q *Queue, cfg Cluster) (*clustered, error) {
	fp, ok := q.store.(storage.Fingerprinter)
	if cfg.Claims == nil || cfg.Installations == nil || !ok {
		return nil, errCluster
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	if cfg.Linger <= 0 {
		cfg.Linger = time.Second
	}
	c := &clustered{q: q, cfg: cfg, fp: fp, seed: maphash.MakeSeed(), byName: map[string]*lane{}, sweeps: make(chan struct{}, 1)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// name is the lane's claim: its key's fingerprint, which says nothing of
// the installation or the order key (a chat) to whoever reads the claims.
func (c *clustered) name(ctx context.Context, installation, id string) (string, error) {
	return c.fp.Fingerprint(ctx, installation, storage.Queue, pendingPrefix+id)
}

func (c *clustered) stripe(name string) *sync.Mutex {
	return &c.stripes[maphash.String(c.seed, name)%uint64(len(c.stripes))]
}

// offer hands a stored message's lane to its consumer: this node if it can
// claim the lane, otherwise the node that claims it. Errors leave the
// message to a sweep; it is stored either way.
func (c *clustered) offer(ctx context.Context, installation, id string) {
	name, err := c.name(ctx, installation, id)
	if err != nil {
		c.q.log.Warn("queue: lane not named; a sweep will find its message", "installation", installation, "err", err)
		return
	}
	ok, err := c.claim(ctx, installation, id, name, false)
	if err != nil {
		c.q.log.Warn("queue: lane not claimed; a sweep will find its message", "installation", installation, "err", err)
		return
	}
	if !ok {
		c.q.log.Debug("queue: lane nudged", "lane", name)
		if err := c.cfg.Claims.Nudge(ctx, name); err != nil {
			c.q.log.Warn("queue: lane's consumer not nudged; it finds the message when it empties the lane", "installation", installation, "err", err)
		}
	}
}

func (c *clustered) claim(ctx context.Context, installation, id, name string, orphan bool) (bool, error) {
	mu := c.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	return c.claimLocked(ctx, installation, id, name, orphan)
}

// claimLocked claims a lane and reads its records. An orphan's due head
// counts an attempt, as after a restart: the node that held it may have
// died during that attempt. The lane's stripe must be held.
func (c *clustered) claimLocked(ctx context.Context, installation, id, name string, orphan bool) (bool, error) {
	q := c.q
	q.mu.Lock()
	_, mine := q.lanes[laneKey(installation, id)]
	q.mu.Unlock()
	if mine {
		return true, nil
	}
	var (
		f   storage.Fence
		ok  bool
		err error
	)
	if fc, fencing := c.cfg.Claims.(Fencing); fencing {
		f, ok, err = fc.ClaimFenced(ctx, name)
	} else {
		ok, err = c.cfg.Claims.Claim(ctx, name)
	}
	if err != nil || !ok {
		return false, err
	}
	// This node's writes for the lane depend on the claim from here on.
	ctx = storage.WithFence(ctx, f)
	recs, err := q.laneRecords(ctx, installation, id)
	if err == nil && orphan && len(recs) > 0 {
		l := &lane{installation: installation, items: recs[:1]}
		err = q.resumeHead(ctx, l)
	}
	if err != nil {
		if rerr := c.cfg.Claims.Release(ctx, name); rerr != nil {
			q.log.Warn("queue: lane not released", "installation", installation, "err", rerr)
		}
		return false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, nil
	}
	q.log.Debug("queue: lane claimed", "lane", name, "records", len(recs), "orphan", orphan)
	l := q.laneLocked(installation, id, name)
	l.fence = f
	c.byName[name] = l
	for _, r := range recs {
		if _, buried := q.dead[r.ID]; !buried {
			q.insertLocked(l, r)
		}
	}
	q.wakeLocked(l) // an empty lane starts to linger
	return true, nil
}

// release gives up an emptied lane after Linger, then reads it once more
// for a message whose push found it claimed and nudged too late.
func (c *clustered) release(l *lane) {
	mu := c.stripe(l.name)
	mu.Lock()
	defer mu.Unlock()
	q := c.q
	q.mu.Lock()
	if q.closed || q.lanes[l.key] != l || len(l.items) > 0 || l.queued {
		q.mu.Unlock()
		return
	}
	delete(q.lanes, l.key)
	delete(c.byName, l.name)
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := c.cfg.Claims.Release(ctx, l.name); err != nil {
		q.log.Warn("queue: lane not released; it is free when this node's claims lapse", "installation", l.installation, "err", err)
	}
	q.log.Debug("queue: lane released", "lane", l.name)
	recs, err := q.laneRecords(ctx, l.installation, l.id)
	if err != nil {
		q.log.Warn("queue: released lane not read again; a sweep will", "installation", l.installation, "err", err)
		return
	}
	if len(recs) > 0 {
		if _, err := c.claimLocked(ctx, l.installation, l.id, l.name, false); err != nil {
			q.log.Warn("queue: lane not claimed again; a sweep will find its message", "installation", l.installation, "err", err)
		}
	}
}

// releaseAll gives up lanes this node no longer consumes.
func (c *clustered) releaseAll(lanes []*lane) {
	if len(lanes) == 0 {
		return
	}
	c.q.mu.Lock()
	for _, l := range lanes {
		delete(c.byName, l.name)
	}
	c.q.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		for _, l := range lanes {
			if err := c.cfg.Claims.Release(ctx, l.name); err != nil {
				return // lapses with this node's claims
			}
		}
	}()
}

// nudged reads a lane this node claims again, for a message another node
// pushed.
func (c *clustered) nudged(name string) {
	q := c.q
	q.mu.Lock()
	l := c.byName[name]
	q.mu.Unlock()
	if l == nil {
		return // released meanwhile: release reads the lane once more
	}
	recs, err := q.laneRecords(c.ctx, l.installation, l.id)
	if err != nil {
		q.log.Warn("queue: nudged lane not read; it is read when it empties", "installation", l.installation, "err", err)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lanes[l.key] != l {
		return
	}
	for _, r := range recs {
		if _, buried := q.dead[r.ID]; !buried {
			q.insertLocked(l, r)
		}
	}
}

// lapsed forgets every lane: other nodes may consume them now. The
// attempts in flight are cancelled, so that they stop reaching the outside
// world; their writes fail anyway, fenced (Fencing).
func (c *clustered) lapsed() {
	c.q.mu.Lock()
	for _, l := range c.q.lanes {
		if l.stop != nil {
			l.stop()
		}
	}
	c.q.dropLanesLocked(func(*lane) bool { return true })
	clear(c.byName)
	c.q.mu.Unlock()
	c.q.log.Warn("queue: this node's lane claims lapsed; sweeping for lanes to consume")
}

func (c *clustered) requestSweep() {
	select {
	case c.sweeps <- struct{}{}:
	default:
	}
}

// run follows the cluster's events, and sweeps when asked and every
// SweepInterval.
func (c *clustered) run() {
	defer c.q.wg.Done()
	c.q.wg.Add(1)
	go c.sweeper()
	events := c.cfg.Claims.Events()
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev, ok := <-events:
			switch {
			case !ok:
				events = nil
			case ev.Lane != "":
				c.nudged(ev.Lane)
			case ev.Lapsed:
				c.lapsed()
				c.requestSweep()
			default:
				c.requestSweep()
			}
		}
	}
}

func (c *clustered) sweeper() {
	defer c.q.wg.Done()
	tick := time.NewTicker(c.cfg.SweepInterval)
	defer tick.Stop()
	c.sweep()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		case <-c.sweeps:
		}
		c.sweep()
	}
}

// sweep claims the lanes with stored messages that no node consumes, and
// reads the dead letters again (other nodes bury and replay them too).
func (c *clustered) sweep() {
	q := c.q
	claimed := 0
	for _, inst := range c.cfg.Installations() {
		if c.ctx.Err() != nil {
			return
		}
		recs, err := q.records(c.ctx, inst, pendingPrefix)
		if err != nil {
			q.log.Warn("queue: sweep skipped an installation", "installation", inst, "err", err)
			continue
		}
		seen := map[string]bool{}
		for _, r := range recs {
			id := laneOf(r)
			if seen[id] {
				continue
			}
			seen[id] = true
			q.mu.Lock()
			_, mine := q.lanes[laneKey(inst, id)]
			q.mu.Unlock()
			if mine {
				continue
			}
			name, err := c.name(c.ctx, inst, id)
			if err == nil {
				var ok bool
				if ok, err = c.claim(c.ctx, inst, id, name, true); ok {
					claimed++
				}
			}
			if err != nil {
				q.log.Warn("queue: sweep did not claim a lane", "installation", inst, "err", err)
			}
		}
		if err := c.reloadDead(inst); err != nil {
			q.log.Warn("queue: sweep did not read dead letters", "installation", inst, "err", err)
		}
	}
	if claimed > 0 {
		q.log.Info("queue: sweep claimed lanes no node consumed", "lanes", claimed)
	}
}

// reloadDead replaces what this node knows of an installation's dead letters.
func (c *clustered) reloadDead(installation string) error {
	recs, err := c.q.records(c.ctx, installation, deadPrefix)
	if err != nil {
		return err
	}
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, d := range q.dead {
		if d.Installation == installation {
			delete(q.dead, id)
		}
	}
	for _, r := range recs {
		q.dead[r.ID] = r.deadLetter()
	}
	return nil
}

func (c *clustered) stop() { c.cancel() }
