package etcd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// CacheConfig turns on the DB's read cache (see the package doc, "Read
// cache"). Zero fields take their defaults.
type CacheConfig struct {
	// MaxStale bounds how old a cached answer may be: the cache serves a
	// read only while it is known to reflect every write acknowledged
	// MaxStale ago, else the read goes to the cluster. Keep it below the
	// cluster's lane lease TTL (host/cluster, 5 s). Default 2 s.
	MaxStale time.Duration
	// SyncEvery is how often the cache, while reads use it, learns the
	// cluster's revision (one linearizable read) and waits for its watch to
	// reach it, renewing its freshness. Default 500 ms.
	SyncEvery time.Duration
	// Wait bounds how long a read waits for the watch to deliver this DB's
	// own latest write (read-your-writes) before going to the cluster.
	// Default 50 ms: a watch further behind than that is a loaded cluster,
	// where a linearizable read costs less than waiting for it.
	Wait time.Duration
	// MaxEntries and MaxBytes bound the records held and the bytes of
	// their keys and values; beyond either, arbitrary records are dropped.
	// Defaults 65,536 and 64 MiB.
	MaxEntries int
	MaxBytes   int
}

func (c CacheConfig) withDefaults() CacheConfig {
	if c.MaxStale <= 0 {
		c.MaxStale = 2 * time.Second
	}
	if c.SyncEvery <= 0 {
		c.SyncEvery = 500 * time.Millisecond
	}
	if c.Wait <= 0 {
		c.Wait = 50 * time.Millisecond
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 1 << 16
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	return c
}

// CacheStats counts what the read cache did since Open.
type CacheStats struct {
	// Hits are reads answered from memory; Misses reads the cache passed to
	// the cluster (not held, absent, expired, stale, or waiting too long).
	Hits, Misses int64
	// Waits are reads that waited for the watch to deliver a state this DB
	// had seen; WaitTimeouts those of them that gave up (and are misses).
	Waits, WaitTimeouts int64
	// Drops counts the times the cache threw everything away because its
	// watch ended (canceled, compacted, member lost its leader).
	Drops int64
	// Revision is the revision up to which the watch has delivered every
	// change under the prefix (0 while it restarts).
	Revision int64
	// Entries is the number of records held.
	Entries int
}

// entry is one cached record: the stored value (header and payload) as of
// revision rev, the revision at which that state is known to hold.
type entry struct {
	value []byte
	rev   int64
}

// cache serves Gets from memory, kept coherent by a watch on the prefix.
//
// Invariants (under mu): every watch event up to eventRev has been applied
// to entries; an entry changes only to a state of a later revision; a
// record is filled from a linearizable read at revision H only if no event
// of its key after H has been applied: the entry is known at a revision
// <= H, or the key is not held and recent (complete above recentFloor <=
// H) says its last event was at or before H.
type cache struct {
	d   *DB
	cfg CacheConfig
	w   clientv3.Watcher

	mu      sync.Mutex
	entries map[string]*entry
	bytes   int // of the entries' keys and values
	// recent holds, for keys not held, the revision of the last event
	// applied to them after recentFloor: what a fill must not go behind.
	recent      map[string]int64
	recentFloor int64
	eventRev    int64     // every event up to it applied
	healthy     bool      // a watch is running and entries follow it
	freshAt     time.Time // every write acknowledged before it is reflected
	syncRev     int64     // a pending sync: once the watch reaches it...
	syncAt      time.Time // ...the cache is fresh as of this time
	// lastProgress is the revision of the last progress notification.
	lastProgress int64
	changed      chan struct{}

	need         atomic.Int64 // newest revision under the prefix this DB wrote or read
	used         atomic.Bool  // a read asked the cache since the last sync
	hits         atomic.Int64
	misses       atomic.Int64
	waits        atomic.Int64
	waitTimeouts atomic.Int64
	drops        atomic.Int64

	cancel      context.CancelFunc
	done        sync.WaitGroup                     // run and syncLoop
	watchCancel atomic.Pointer[context.CancelFunc] // the current watch's
	// testStartRev, when set, makes the next watch start at that revision
	// (to provoke a compacted watch in tests).
	testStartRev atomic.Int64
	// testHookEvents, when set, runs before an event batch is applied (to
	// hold the watch back in tests).
	testHookEvents atomic.Pointer[func()]
}

func newCache(d *DB, cfg CacheConfig) *cache {
	ctx, cancel := context.WithCancel(context.Background())
	c := &cache{d: d, cfg: cfg.withDefaults(), w: clientv3.NewWatcher(d.client),
		entries: map[string]*entry{}, recent: map[string]int64{}, changed: make(chan struct{}), cancel: cancel}
	c.done.Add(2)
	go c.run(ctx)
	go c.syncLoop(ctx)
	return c
}

// stop ends the watch and waits for it.
func (c *cache) stop() {
	c.cancel()
	_ = c.w.Close()
	c.done.Wait()
}

// signal wakes the readers waiting for the watch. Call with mu held.
func (c *cache) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// observe notes that this DB wrote or read a state of revision rev under
// the prefix: later cached reads wait until the watch has delivered it.
func (c *cache) observe(rev int64) {
	for {
		cur := c.need.Load()
		if rev <= cur || c.need.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// run keeps a watch on the prefix, starting over (with an empty cache)
// whenever one ends.
func (c *cache) run(ctx context.Context) {
	defer c.done.Done()
	for ctx.Err() == nil {
		rev, err := c.reset(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.SyncEvery):
			}
			continue
		}
		if r := c.testStartRev.Swap(0); r != 0 {
			rev = r - 1
		}
		wctx, wcancel := context.WithCancel(ctx)
		c.watchCancel.Store(&wcancel)
		// WithRequireLeader: a member cut off from the leader ends the
		// watch instead of going quiet while the others move on.
		ch := c.w.Watch(clientv3.WithRequireLeader(wctx), c.d.cfg.Prefix,
			clientv3.WithRange(c.d.rangeEnd("")), clientv3.WithRev(rev+1), clientv3.WithCreatedNotify())
		c.consume(ch)
		wcancel()
		c.drop()
	}
}

// reset empties the cache and returns the cluster's current revision,
// from which the next watch starts.
func (c *cache) reset(ctx context.Context) (int64, error) {
	c.mu.Lock()
	c.entries, c.bytes = map[string]*entry{}, 0
	c.recent, c.recentFloor = map[string]int64{}, 0
	c.healthy = false
	c.eventRev = 0
	c.mu.Unlock()
	at := time.Now()
	rctx, cancel := context.WithTimeout(ctx, c.d.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.d.client.Get(rctx, c.d.cfg.Prefix)
	if err != nil {
		return 0, err
	}
	rev := resp.Header.Revision
	c.mu.Lock()
	// Nothing is held, so the empty cache reflects the cluster at rev: a
	// record filled later comes from a read at rev or after.
	c.eventRev, c.freshAt, c.syncRev = rev, at, 0
	c.recent, c.recentFloor = map[string]int64{}, rev
	c.signal()
	c.mu.Unlock()
	return rev, nil
}

// maxRecent bounds recent; beyond it, recent starts over above eventRev.
const maxRecent = 8192

// noteChange notes an event (or a dropped entry) of a key not held. Call with
// mu held.
func (c *cache) noteChange(key string, rev int64) {
	if len(c.recent) >= maxRecent {
		c.recent, c.recentFloor = map[string]int64{}, c.eventRev
	}
	if rev > c.recent[key] && rev > c.recentFloor {
		c.recent[key] = rev
	}
}

// remove drops key's entry. Call with mu held.
func (c *cache) remove(key string) {
	if e := c.entries[key]; e != nil {
		c.bytes -= len(key) + len(e.value)
		delete(c.entries, key)
		c.noteChange(key, e.rev)
	}
}

// put stores key's entry, making room. Call with mu held.
func (c *cache) put(key string, value []byte, rev int64) {
	c.remove(key)
	n := len(key) + len(value)
	if n > c.cfg.MaxBytes/16 {
		return // a record this large is read from the cluster
	}
	for k := range c.entries {
		if len(c.entries) < c.cfg.MaxEntries && c.bytes+n <= c.cfg.MaxBytes {
			break
		}
		c.remove(k)
	}
	c.entries[key] = &entry{value: value, rev: rev}
	c.bytes += n
}

// drop throws the cache away after its watch ended.
func (c *cache) drop() {
	c.mu.Lock()
	c.entries, c.bytes = map[string]*entry{}, 0
	c.recent, c.recentFloor = map[string]int64{}, 0
	c.healthy = false
	c.signal()
	c.mu.Unlock()
	c.drops.Add(1)
}

// consume applies the watch's responses until it ends.
func (c *cache) consume(ch clientv3.WatchChan) {
	for resp := range ch {
		switch {
		case resp.Canceled || resp.CompactRevision != 0 || resp.Err() != nil:
			return
		case resp.Created:
			c.mu.Lock()
			c.healthy = true
			c.signal()
			c.mu.Unlock()
		case resp.IsProgressNotify():
			c.progress(resp.Header.Revision)
		default:
			if h := c.testHookEvents.Load(); h != nil {
				(*h)()
			}
			c.apply(resp.Events)
		}
	}
}

// apply updates the held records an event batch changes.
func (c *cache) apply(evs []*clientv3.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		rev := ev.Kv.ModRevision
		key := string(ev.Kv.Key)
		switch e := c.entries[key]; {
		case e == nil:
			c.noteChange(key, rev)
		case rev <= e.rev:
		case ev.Type == mvccpb.DELETE:
			c.remove(key)
			c.noteChange(key, rev)
		default:
			c.put(key, ev.Kv.Value, rev)
		}
		if rev > c.eventRev {
			c.eventRev = rev
		}
	}
	if c.syncRev != 0 && c.eventRev >= c.syncRev {
		c.fresh()
	}
	c.signal()
}

// progress takes a progress notification: the watch has sent every event
// up to rev. It only renews freshness; read-your-writes waits for events.
//
// Before etcd 3.4.25 and 3.5.8 a requested notification could overtake
// the event of its own revision (etcd-io/etcd#15220). As Kubernetes'
// consistent reads from cache do (KEP-2340), a notification is trusted
// only up to rev-1, unless the one before it carried the same revision.
func (c *cache) progress(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	trusted := rev - 1
	if rev == c.lastProgress {
		trusted = rev
	}
	c.lastProgress = rev
	if c.syncRev != 0 && trusted >= c.syncRev {
		c.fresh()
	}
}

// fresh completes the pending sync. Call with mu held.
func (c *cache) fresh() {
	if c.syncAt.After(c.freshAt) {
		c.freshAt = c.syncAt
	}
	c.syncRev = 0
}

// syncLoop renews the cache's freshness while reads use it: a linearizable
// read gives the revision that holds every write acknowledged before it
// began; once the watch has delivered that revision (events, or a
// progress notification asked for), the cache reflects those writes.
func (c *cache) syncLoop(ctx context.Context) {
	defer c.done.Done()
	t := time.NewTicker(c.cfg.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.used.Swap(false) {
			continue
		}
		at := time.Now()
		rctx, cancel := context.WithTimeout(ctx, c.cfg.SyncEvery)
		resp, err := c.d.client.Get(rctx, c.d.cfg.Prefix)
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.syncRev, c.syncAt = resp.Header.Revision, at
		if c.eventRev >= c.syncRev {
			c.fresh()
		}
		pending := c.syncRev != 0
		c.mu.Unlock()
		if pending {
			// The revision may be a key's outside the prefix, which no event
			// carries: ask the member to say how far the watch has got.
			// The request must name the watch's stream, which the
			// require-leader metadata keys.
			_ = c.w.RequestProgress(clientv3.WithRequireLeader(ctx))
		}
	}
}

// get answers a read of the stored key (prefix included) from memory; ok
// is false when the caller must ask the cluster.
func (c *cache) get(ctx context.Context, key string, now time.Time) (storage.Record, bool) {
	c.used.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.healthy || now.Sub(c.freshAt) > c.cfg.MaxStale {
		c.misses.Add(1)
		return storage.Record{}, false
	}
	var timer *time.Timer
	for c.eventRev < c.need.Load() {
		if timer == nil {
			c.waits.Add(1)
			timer = time.NewTimer(c.cfg.Wait)
			defer timer.Stop()
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-timer.C:
			c.mu.Lock()
			c.waitTimeouts.Add(1)
			c.misses.Add(1)
			return storage.Record{}, false
		case <-ctx.Done():
			c.mu.Lock()
			c.misses.Add(1)
			return storage.Record{}, false
		}
		if !c.healthy {
			c.misses.Add(1)
			return storage.Record{}, false
		}
	}
	e := c.entries[key]
	if e == nil {
		c.misses.Add(1)
		return storage.Record{}, false
	}
	rec, ok := c.d.record([]byte(key), e.value, now)
	if !ok || rec.Damaged {
		// Expired (maybe overwritten elsewhere since) or not ours: the
		// cluster answers, as for an absent record.
		c.misses.Add(1)
		return storage.Record{}, false
	}
	rec.Value = append([]byte(nil), rec.Value...)
	c.hits.Add(1)
	return rec, true
}

// fill records what a linearizable read at revision rev found at key
// (kv nil: nothing).
func (c *cache) fill(key string, kv *mvccpb.KeyValue, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.healthy {
		return
	}
	e := c.entries[key]
	switch {
	case e == nil && (kv == nil || rev < c.recentFloor || c.recent[key] > rev):
		// Absent is never served; and an event after rev may have changed
		// the key (or recent no longer knows).
		return
	case e != nil && e.rev > rev:
		// The watch already knows a later state.
	case kv == nil:
		c.remove(key)
	default:
		c.put(key, kv.Value, rev)
	}
}

// forget drops keys whose write failed with its outcome unknown: the
// cluster answers the next reads of them.
func (c *cache) forget(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.remove(k)
	}
}

func (c *cache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Waits: c.waits.Load(), WaitTimeouts: c.waitTimeouts.Load(),
		Drops: c.drops.Load(), Entries: len(c.entries)}
	if c.healthy {
		s.Revision = c.eventRev
	}
	return s
}

// CacheStats reports what the read cache did; all zero without one.
func (d *DB) CacheStats() CacheStats {
	if d.cache == nil {
		return CacheStats{}
	}
	return d.cache.stats()
}
