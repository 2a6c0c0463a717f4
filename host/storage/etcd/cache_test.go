package etcd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/storage/storagetest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// cachedGets is a DB whose every Get allows the read cache, so that the
// backend contract runs through it.
type cachedGets struct{ *DB }

func (c cachedGets) Get(ctx context.Context, key string) (storage.Record, error) {
	return c.DB.Get(storage.WithReadCache(ctx, true), key)
}

// cached is ctx allowing a cached read.
func cached(t *testing.T) context.Context { return storage.WithReadCache(t.Context(), true) }

// openNode opens a DB on the given members of c under prefix, as one host
// of several sharing the cluster would. Tests of something other than
// freshness set a long MaxStale, so that a loaded machine's slow syncs do
// not turn their cached reads into misses.
func openNode(t *testing.T, endpoints []string, prefix string, rc *CacheConfig) *DB {
	t.Helper()
	d, err := Open(t.Context(), Config{Endpoints: endpoints, Prefix: prefix, ReadCache: rc})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if rc != nil {
		waitfor.Until(t, 10*time.Second, "the cache's watch to start", waitfor.True(func() bool { return d.CacheStats().Revision > 0 }))
	}
	return d
}

// modRev is the revision of key's last change as the cluster says.
func modRev(t *testing.T, d *DB, key string) int64 {
	t.Helper()
	resp, err := d.client.Get(t.Context(), d.cfg.Prefix+key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get %s: %v (%d kvs)", key, err, len(resp.Kvs))
	}
	return resp.Kvs[0].ModRevision
}

func wantCached(t *testing.T, d *DB, key, want string) {
	t.Helper()
	before := d.CacheStats().Hits
	rec, err := d.Get(cached(t), key)
	if err != nil || string(rec.Value) != want {
		t.Fatalf("Get %s = %q, %v; want %q", key, rec.Value, err, want)
	}
	if d.CacheStats().Hits != before+1 {
		t.Fatalf("Get %s was not served from the cache (stats %+v)", key, d.CacheStats())
	}
}

func TestBackendContract_WithReadCache(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return cachedGets{openOn(t, c, Config{ReadCache: &CacheConfig{}})}
	})
}

func TestTransactContract_WithReadCache(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storagetest.RunTransact(t, func(t *testing.T) storage.Backend {
		return cachedGets{openOn(t, c, Config{ReadCache: &CacheConfig{}})}
	})
}

// TestCache_AWriteOnOneNodeReachesAnothersCache: node A writes through one
// member, node B reads through another with its cache. B's cached copy is
// replaced (not merely dropped) once the watch delivers A's write, and a
// delete on A removes it: B then reads the record as absent.
func TestCache_AWriteOnOneNodeReachesAnothersCache(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a := openNode(t, c.Endpoints[:1], "two/", nil)
	b := openNode(t, c.Endpoints[2:], "two/", &CacheConfig{MaxStale: time.Minute})
	ctx := t.Context()
	if err := a.Set(ctx, "config", []byte("v1"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if rec, err := b.Get(cached(t), "config"); err != nil || string(rec.Value) != "v1" {
		t.Fatalf("b's first read = %q, %v", rec.Value, err)
	}
	wantCached(t, b, "config", "v1")

	if err := a.Set(ctx, "config", []byte("v2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	rev := modRev(t, a, "config")
	waitfor.Until(t, 10*time.Second, "b's watch to deliver a's write", waitfor.True(func() bool { return b.CacheStats().Revision >= rev }))
	wantCached(t, b, "config", "v2")

	if err := a.Delete(ctx, "config"); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "marker", []byte("after the delete"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	rev = modRev(t, a, "marker")
	waitfor.Until(t, 10*time.Second, "b's watch to deliver a's delete", waitfor.True(func() bool { return b.CacheStats().Revision >= rev }))
	if n := b.CacheStats().Entries; n != 0 {
		t.Fatalf("b still holds %d records after the delete", n)
	}
	if _, err := b.Get(cached(t), "config"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b reads a deleted record: %v", err)
	}
}

// TestCache_ReadsItsOwnWritesWhileTheWatchLags holds the watch back: a read
// right after this DB's own write must not return the cached older value;
// it waits for the watch, then asks the cluster.
func TestCache_ReadsItsOwnWritesWhileTheWatchLags(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openNode(t, c.Endpoints, "ryw/", &CacheConfig{Wait: 200 * time.Millisecond, MaxStale: time.Minute})
	ctx := t.Context()
	if err := d.Set(ctx, "chat", []byte("old"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the watch to start", waitfor.True(func() bool { return d.CacheStats().Revision >= modRev(t, d, "chat") }))
	if _, err := d.Get(cached(t), "chat"); err != nil {
		t.Fatal(err)
	}
	wantCached(t, d, "chat", "old")

	release := make(chan struct{})
	hold := func() { <-release }
	d.cache.testHookEvents.Store(&hold)
	if err := d.Set(ctx, "chat", []byte("new"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	misses := d.CacheStats().Misses
	rec, err := d.Get(cached(t), "chat")
	if err != nil || string(rec.Value) != "new" {
		t.Fatalf("read after own write = %q, %v; want new", rec.Value, err)
	}
	if d.CacheStats().Misses != misses+1 {
		t.Fatalf("the read was not passed to the cluster (stats %+v)", d.CacheStats())
	}
	d.cache.testHookEvents.Store(nil)
	close(release)
	wantCached(t, d, "chat", "new")

	// Many writes each read back at once, the watch running freely.
	for i := range 50 {
		v := fmt.Sprintf("v%d", i)
		if err := d.Set(ctx, "chat", []byte(v), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if rec, err := d.Get(cached(t), "chat"); err != nil || string(rec.Value) != v {
			t.Fatalf("write %d read back as %q, %v", i, rec.Value, err)
		}
	}
}

// TestCache_AWatchThatEndsDropsTheCache ends the watch (as a lost stream
// or a member's lost leader does) and then starts one from a compacted
// revision: each time the cache is thrown away and built again, and reads
// stay right throughout.
func TestCache_AWatchThatEndsDropsTheCache(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openNode(t, c.Endpoints, "drop/", &CacheConfig{MaxStale: time.Minute})
	other := openNode(t, c.Endpoints, "drop/", nil)
	ctx := t.Context()
	if err := d.Set(ctx, "k", []byte("v1"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the watch to start", waitfor.True(func() bool { return d.CacheStats().Revision >= modRev(t, d, "k") }))
	if _, err := d.Get(cached(t), "k"); err != nil {
		t.Fatal(err)
	}
	wantCached(t, d, "k", "v1")

	drops := d.CacheStats().Drops
	(*d.cache.watchCancel.Load())()
	waitfor.Until(t, 10*time.Second, "the cache to be dropped", waitfor.True(func() bool { return d.CacheStats().Drops == drops+1 }))
	if err := other.Set(ctx, "k", []byte("v2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "a new watch", waitfor.True(func() bool { return d.CacheStats().Revision >= modRev(t, other, "k") }))
	if rec, err := d.Get(cached(t), "k"); err != nil || string(rec.Value) != "v2" {
		t.Fatalf("after the watch ended: %q, %v", rec.Value, err)
	}
	wantCached(t, d, "k", "v2")

	// A watch resuming from a revision compaction discarded is refused by
	// etcd: the cache drops everything and starts from the present.
	old := modRev(t, d, "k")
	for i := range 3 {
		if err := other.Set(ctx, "k", fmt.Appendf(nil, "v%d", 3+i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	now := modRev(t, other, "k")
	if _, err := d.client.Compact(ctx, now); err != nil {
		t.Fatal(err)
	}
	drops = d.CacheStats().Drops
	d.cache.testStartRev.Store(old)
	(*d.cache.watchCancel.Load())()
	waitfor.Until(t, 10*time.Second, "the compacted watch to be dropped too", waitfor.True(func() bool { return d.CacheStats().Drops >= drops+2 }))
	waitfor.Until(t, 10*time.Second, "a watch from the present", waitfor.True(func() bool { return d.CacheStats().Revision >= now }))
	if rec, err := d.Get(cached(t), "k"); err != nil || string(rec.Value) != "v5" {
		t.Fatalf("after compaction: %q, %v", rec.Value, err)
	}
	wantCached(t, d, "k", "v5")
}

// TestCache_ServesNothingStale holds the watch back while another node
// writes: once the cache can no longer show it reflects writes older than
// MaxStale, reads go to the cluster and see the other node's write.
func TestCache_ServesNothingStale(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openNode(t, c.Endpoints, "stale/", &CacheConfig{MaxStale: 300 * time.Millisecond, SyncEvery: 50 * time.Millisecond})
	other := openNode(t, c.Endpoints, "stale/", nil)
	ctx := t.Context()
	if err := other.Set(ctx, "k", []byte("v1"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the watch to start", waitfor.True(func() bool { return d.CacheStats().Revision >= modRev(t, d, "k") }))
	if _, err := d.Get(cached(t), "k"); err != nil {
		t.Fatal(err)
	}
	wantCached(t, d, "k", "v1")

	release := make(chan struct{})
	defer close(release)
	hold := func() { <-release }
	d.cache.testHookEvents.Store(&hold)
	if err := other.Set(ctx, "k", []byte("v2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Reads may serve v1 for at most MaxStale; then the cluster answers.
	waitfor.Until(t, 10*time.Second, "the other node's write", waitfor.True(func() bool {
		rec, err := d.Get(cached(t), "k")
		if err != nil {
			t.Fatal(err)
		}
		return string(rec.Value) == "v2"
	}))
	if s := d.CacheStats(); s.Revision >= modRev(t, d, "k") {
		t.Fatalf("the watch was not held back: %+v", s)
	}
}

// TestCache_SealedStoreCachesOnlyWhatMayBeStale: through the sealed store,
// installation records and secrets are read from the cache, module records
// when the caller allows it, dedupe claims and queued deliveries never.
func TestCache_SealedStoreCachesOnlyWhatMayBeStale(t *testing.T) {
	c := etcdtest.Start(t, 1)
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	d := openNode(t, c.Endpoints, "sealed/", &CacheConfig{MaxStale: time.Minute})
	s := openSealed(t, d, key)
	ctx := t.Context()
	for _, tt := range []struct {
		space  storage.Keyspace
		ctx    context.Context
		cached bool
	}{
		{storage.Registry, ctx, true},
		{storage.Secret, ctx, true},
		{storage.KVS, ctx, false},
		{storage.KVS, cached(t), true},
		{storage.Dedupe, cached(t), false},
		{storage.Queue, cached(t), false},
	} {
		if err := s.Set(ctx, "inst", tt.space, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		before := d.CacheStats().Hits
		for range 3 {
			if v, err := s.Get(tt.ctx, "inst", tt.space, "k"); err != nil || string(v) != "v" {
				t.Fatalf("%s: %q, %v", tt.space, v, err)
			}
		}
		if got := d.CacheStats().Hits > before; got != tt.cached {
			t.Errorf("%s (allowed %v): served from the cache %v, want %v", tt.space, storage.ReadCacheAllowed(tt.ctx), got, tt.cached)
		}
	}
}

// TestCache_KeepsWithinItsBounds: beyond MaxEntries or MaxBytes records are
// dropped, and a record too large for the cache is read from the cluster;
// every read still answers right.
func TestCache_KeepsWithinItsBounds(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openNode(t, c.Endpoints, "bounds/", &CacheConfig{MaxEntries: 3, MaxBytes: 16 << 10, MaxStale: time.Minute})
	ctx := t.Context()
	for i := range 10 {
		if err := d.Set(ctx, fmt.Sprintf("k%d", i), fmt.Appendf(nil, "v%d", i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 2<<10) // over MaxBytes/16
	if err := d.Set(ctx, "big", big, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for i := range 10 {
			if rec, err := d.Get(cached(t), fmt.Sprintf("k%d", i)); err != nil || string(rec.Value) != fmt.Sprintf("v%d", i) {
				t.Fatalf("k%d = %q, %v", i, rec.Value, err)
			}
		}
		if rec, err := d.Get(cached(t), "big"); err != nil || len(rec.Value) != len(big) {
			t.Fatalf("big: %d bytes, %v", len(rec.Value), err)
		}
		if s := d.CacheStats(); s.Entries > 3 {
			t.Fatalf("%d records held, bound 3", s.Entries)
		}
	}
	hits := d.CacheStats().Hits
	if _, err := d.Get(cached(t), "big"); err != nil {
		t.Fatal(err)
	}
	if d.CacheStats().Hits != hits {
		t.Fatal("a record over MaxBytes/16 was served from the cache")
	}
}

// TestCache_AFillNeverGoesBehindAnAppliedEvent drives the cache's rules
// directly, without a cluster: a linearizable read made before an event of
// its key, whose answer arrives after the watch applied that event, must
// not be kept; one made after it must, however many other keys changed.
func TestCache_AFillNeverGoesBehindAnAppliedEvent(t *testing.T) {
	d := &DB{cfg: Config{Prefix: "p/"}}
	c := &cache{d: d, cfg: CacheConfig{MaxEntries: 4}.withDefaults(), entries: map[string]*entry{}, recent: map[string]int64{},
		changed: make(chan struct{}), healthy: true, eventRev: 10, recentFloor: 10}
	put := func(key, val string, rev int64) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: encodeValue(0, []byte(val)), ModRevision: rev}}
	}
	kv := func(val string, rev int64) *mvccpb.KeyValue {
		return &mvccpb.KeyValue{Value: encodeValue(0, []byte(val)), ModRevision: rev}
	}
	held := func(key string) string {
		if e := c.entries[key]; e != nil {
			_, p, _ := decodeValue(e.value)
			return string(p)
		}
		return ""
	}
	// A read at 11 saw "old"; the write of "new" at 12 was applied first.
	c.apply([]*clientv3.Event{put("p/k", "new", 12)})
	c.fill("p/k", kv("old", 5), 11)
	if got := held("p/k"); got != "" {
		t.Fatalf("a read older than an applied event was kept: %q", got)
	}
	// Other keys' events do not stop a read at 12 from being kept.
	c.apply([]*clientv3.Event{put("p/other", "x", 13), put("p/another", "y", 14)})
	c.fill("p/k", kv("new", 12), 12)
	if got := held("p/k"); got != "new" {
		t.Fatalf("a current read was not kept: %q", got)
	}
	// Evicted, then refilled from a read older than what it held: refused.
	// The cache evicts whichever entry Go's map order gives first, so fill
	// other keys until p/k is the one evicted.
	for i := 0; held("p/k") != ""; i++ {
		if i == 10000 {
			t.Fatal("p/k was not evicted by MaxEntries")
		}
		c.fill(fmt.Sprintf("p/f%d", i), kv("f", 14), 14)
	}
	c.fill("p/k", kv("old", 5), 11)
	if held("p/k") != "" {
		t.Fatal("a read older than the evicted entry was kept")
	}
	// When recent overflows it starts over above eventRev: reads from
	// before that are refused, later ones kept.
	for i := range maxRecent + 1 {
		c.apply([]*clientv3.Event{put(fmt.Sprintf("p/n%d", i), "n", int64(15+i))})
	}
	c.fill("p/z", kv("z", 3), 15)
	if held("p/z") != "" {
		t.Fatal("a read from before recent's floor was kept")
	}
	c.fill("p/z", kv("z", 3), c.eventRev)
	if held("p/z") != "z" {
		t.Fatal("a read at eventRev was not kept")
	}
}

// TestCache_StaysFreshWithoutWrites: on a cluster where nothing more is
// written under the prefix, the cache renews its freshness by progress
// notifications it asks for, and keeps answering long after MaxStale.
func TestCache_StaysFreshWithoutWrites(t *testing.T) {
	c := etcdtest.Start(t, 1)
	const maxStale = 600 * time.Millisecond
	d := openNode(t, c.Endpoints, "fresh/", &CacheConfig{MaxStale: maxStale, SyncEvery: 100 * time.Millisecond})
	if err := d.Set(t.Context(), "k", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The cluster's latest revision is then a key's outside the prefix,
	// which no event of the watch carries: only a progress notification
	// can show the watch has reached it.
	if _, err := d.client.Put(t.Context(), "elsewhere/k", "v"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitfor.Until(t, 10*time.Second, "a read served from the cache after 2 x MaxStale without writes", func() string {
		before := d.CacheStats().Hits
		if rec, err := d.Get(cached(t), "k"); err != nil || string(rec.Value) != "v" {
			t.Fatalf("k = %q, %v", rec.Value, err)
		}
		if time.Since(start) > 2*maxStale && d.CacheStats().Hits > before {
			return ""
		}
		return fmt.Sprintf("%+v", d.CacheStats())
	})
}
