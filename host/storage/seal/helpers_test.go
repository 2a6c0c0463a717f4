package seal

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

// env is a sealed store on a BuntDB file in a temporary directory.
type env struct {
	t     testing.TB
	path  string
	keys  []*MasterKey
	clock *clock
	cfg   Config
	db    *bunt.DB
	s     *Store
}

// clock is a settable clock for expiry tests; zero means the real time.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

var testKeys = sync.OnceValue(func() *MasterKey {
	k, err := GenerateMasterKey()
	if err != nil {
		panic(err)
	}
	return k
})

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "chatbridge.db"), keys: []*MasterKey{testKeys()}, clock: &clock{}}
	e.cfg = Config{Now: e.clock.now}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	db, err := bunt.Open(e.path, bunt.Config{CompactEvery: -1})
	if err != nil {
		e.t.Fatalf("bunt.Open: %v", err)
	}
	s, err := Open(e.t.Context(), db, e.keys, e.cfg)
	if err != nil {
		db.Close()
		e.t.Fatalf("seal.Open: %v", err)
	}
	e.db, e.s = db, s
}

func (e *env) close() {
	if e.s != nil {
		if err := e.s.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
			e.t.Errorf("Close: %v", err)
		}
		e.s, e.db = nil, nil
	}
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) set(inst string, space storage.Keyspace, key, val string) {
	e.t.Helper()
	if err := e.s.Set(e.t.Context(), inst, space, key, []byte(val), 0); err != nil {
		e.t.Fatalf("Set %q: %v", key, err)
	}
}

func (e *env) want(inst string, space storage.Keyspace, key, val string) {
	e.t.Helper()
	got, err := e.s.Get(e.t.Context(), inst, space, key)
	if err != nil {
		e.t.Fatalf("Get %q: %v", key, err)
	}
	if string(got) != val {
		e.t.Fatalf("Get %q = %q, want %q", key, got, val)
	}
}

func (e *env) wantErr(inst string, space storage.Keyspace, key string, target error) {
	e.t.Helper()
	_, err := e.s.Get(e.t.Context(), inst, space, key)
	if !errors.Is(err, target) {
		e.t.Fatalf("Get %q: err %v, want %v", key, err, target)
	}
}

// raw returns every record of the backend.
func (e *env) raw() []storage.Record {
	e.t.Helper()
	recs, err := e.db.Scan(e.t.Context(), "", "", 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// rawKeyOf is where a record lives.
func (e *env) rawKeyOf(inst string, space storage.Keyspace, key string) string {
	e.t.Helper()
	_, r, err := e.s.ring(e.t.Context(), inst, false)
	if err != nil || r == nil {
		e.t.Fatalf("no keys for installation: %v", err)
	}
	return r.rawKey(space, key)
}

// queryAll pages through a query and returns the keys in order.
func (e *env) queryAll(inst string, space storage.Keyspace, prefix string, limit int) []string {
	e.t.Helper()
	var keys []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := e.s.Query(e.t.Context(), inst, space, prefix, cursor, limit)
		if err != nil {
			e.t.Fatalf("Query %q after %d pages: %v", prefix, pages, err)
		}
		if len(p.Entries) > limit {
			e.t.Fatalf("page of %d entries, limit %d", len(p.Entries), limit)
		}
		if p.NextCursor != "" && len(p.Entries) != limit {
			e.t.Fatalf("page of %d entries with a next cursor, limit %d", len(p.Entries), limit)
		}
		for _, en := range p.Entries {
			keys = append(keys, en.Key)
		}
		if p.NextCursor == "" {
			return keys
		}
		cursor = p.NextCursor
	}
}

// openRaw opens a store on path without the env's bookkeeping.
func openRaw(t testing.TB, path string, keys []*MasterKey) (*bunt.DB, *Store, error) {
	t.Helper()
	db, err := bunt.Open(path, bunt.Config{CompactEvery: -1})
	if err != nil {
		return nil, nil, err
	}
	s, err := Open(t.Context(), db, keys, Config{})
	return db, s, err
}
