package bunt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/tidwall/buntdb"
)

var (
	// ErrLocked is returned by Open when another DB, in this process or
	// another, has the file open.
	ErrLocked = errors.New("bunt: data file in use")
	// ErrFailed is returned by every call after a write or fsync of the file
	// failed: what the disk holds is then unknown, so the DB stops. Reopen it
	// to recover from what is on disk.
	ErrFailed = errors.New("bunt: storage failed")
	// ErrDamaged is returned for a record Open found damaged on disk.
	ErrDamaged = fmt.Errorf("bunt: record damaged on disk: %w", storage.ErrIntegrity)
	// ErrExists is returned by Restore when the target file exists.
	ErrExists = errors.New("bunt: file exists")
	// ErrInvalid is returned for a write with an empty key.
	ErrInvalid = errors.New("bunt: invalid write")
)

// tombstoneTTL is how long a delete inside a multi-write batch stays in the
// file as a tombstone before BuntDB reclaims it. Compact drops it at once.
const tombstoneTTL = time.Minute

// Config tunes a DB. The zero value is ready to use.
type Config struct {
	// CompactEvery is how often a background check compacts the file when it
	// has grown enough (see CompactMinSize and CompactGrowth). Default 1
	// minute; negative turns automatic compaction off.
	CompactEvery time.Duration
	// CompactMinSize is the file size, in bytes, below which the background
	// check never compacts. Default 32 MiB.
	CompactMinSize int64
	// CompactGrowth is how many times its size after the last compaction the
	// file must reach before the background check compacts it. Default 2.
	CompactGrowth float64
	// KeepDamaged makes Open keep a damaged file it repairs as a hard link
	// named <path>.damaged-<unix seconds>. Default off: a kept copy also keeps
	// whatever a purge later removes, until someone deletes it.
	KeepDamaged bool
}

func (c Config) withDefaults() Config {
	if c.CompactEvery == 0 {
		c.CompactEvery = time.Minute
	}
	if c.CompactMinSize == 0 {
		c.CompactMinSize = 32 << 20
	}
	if c.CompactGrowth == 0 {
		c.CompactGrowth = 2
	}
	return c
}

// DB is a storage.Backend on one BuntDB file. It is safe for concurrent use.
type DB struct {
	path string
	cfg  Config

	// gate excludes writers while Compact copies the records: writers hold it
	// for reading from before their transaction until their fsync returns.
	gate sync.RWMutex
	// mu guards db and file, which Compact and Close replace; every operation
	// holds it for reading while it uses them.
	mu   sync.RWMutex
	db   *buntdb.DB // nil once closed
	file *os.File   // our own descriptor on the data file: fsync, and its errors

	lock    *os.File // <path>.lock, locked for the life of the DB
	commit  *syncer
	pending pendingSet
	failed  atomic.Pointer[error]
	damage  []Damage

	compactMu   sync.Mutex   // serialises Compact
	lastSize    atomic.Int64 // file size after Open or the last compaction
	nextBatch   atomic.Uint64
	writes      atomic.Uint64
	syncs       atomic.Uint64
	compactions atomic.Uint64
	stopOnce    sync.Once
	stop        chan struct{} // closed by Close
	stopped     chan struct{} // closed when background returns

	noSync          bool   // tests only: measure what fsync costs
	testHookCompact func() // tests only: runs between writing and swapping
}

var _ storage.Backend = (*DB)(nil)

// Open opens the BuntDB file at path, creating it (mode 0600) if missing.
//
// Before BuntDB reads the file, Open reads it itself: a write cut off by a
// crash is dropped, and a record whose bytes were altered is replaced by a
// marker that reads as ErrDamaged; in either case the file is rewritten, and
// Damage reports what was found. Open never drops an intact record.
func Open(path string, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	d := &DB{path: path, cfg: cfg, lock: lock, commit: newSyncer(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			unlockFile(lock)
		}
	}()
	_ = os.Remove(path + ".compact")
	_ = os.Remove(path + ".repair")
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	if d.damage, err = prepare(path, cfg); err != nil {
		return nil, err
	}
	if d.db, d.file, err = openBunt(path); err != nil {
		return nil, err
	}
	if fi, err := d.file.Stat(); err == nil {
		d.lastSize.Store(fi.Size())
	}
	d.nextBatch.Store(uint64(time.Now().UnixNano()))
	ok = true
	go d.background()
	return d, nil
}

// ensureFile creates the data file if it is missing and makes its directory
// entry durable.
func ensureFile(path string) error {
	fi, err := os.Stat(path)
	if err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("bunt: %s is not a regular file", path)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bunt: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("bunt: create: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("bunt: create: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bunt: create: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// openBunt opens path with BuntDB configured for group commit, and our own
// descriptor for fsync.
func openBunt(path string) (*buntdb.DB, *os.File, error) {
	db, err := buntdb.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("bunt: open: %w", err)
	}
	// Never: BuntDB's Always fsyncs inside its write lock, one transaction at
	// a time; we fsync outside it, once for every writer waiting (see syncer).
	// Its own shrink is off: it renames a file it never fsynced.
	err = db.SetConfig(buntdb.Config{SyncPolicy: buntdb.Never, AutoShrinkDisabled: true,
		AutoShrinkPercentage: 100, AutoShrinkMinSize: 32 << 20})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("bunt: configure: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("bunt: open: %w", err)
	}
	return db, f, nil
}

// Damage lists what Open found wrong with the file, oldest first; empty for
// a clean file.
func (d *DB) Damage() []Damage { return append([]Damage(nil), d.damage...) }

// Stats counts what the DB has done since Open.
type Stats struct {
	// Writes is the number of Apply, Set and Delete calls that reached the file.
	Writes uint64
	// Syncs is the number of fsyncs: Writes/Syncs is the group-commit factor.
	Syncs uint64
	// Compactions is the number of completed compactions.
	Compactions uint64
	// FileSize is the data file's size in bytes.
	FileSize int64
}

// Stats returns the counters.
func (d *DB) Stats() Stats {
	s := Stats{Writes: d.writes.Load(), Syncs: d.syncs.Load(), Compactions: d.compactions.Load()}
	d.mu.RLock()
	if d.file != nil {
		if fi, err := d.file.Stat(); err == nil {
			s.FileSize = fi.Size()
		}
	}
	d.mu.RUnlock()
	return s
}

// usable returns why the DB cannot be used, or nil. Callers hold mu.
func (d *DB) usable(ctx context.Context) error {
	if d.db == nil {
		return storage.ErrClosed
	}
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

// fail stops the DB after an I/O error.
func (d *DB) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	d.failed.CompareAndSwap(nil, &err)
	return *d.failed.Load()
}

// fsync makes everything written to the file durable. Callers hold mu.
func (d *DB) fsync() error {
	if d.noSync {
		return nil
	}
	d.syncs.Add(1)
	if err := d.file.Sync(); err != nil {
		return d.fail(fmt.Errorf("fsync: %w", err))
	}
	return nil
}

// durable waits for an fsync covering everything written so far. Callers hold mu.
func (d *DB) durable() error {
	if err := d.commit.wait(d.fsync); err != nil {
		return d.fail(err)
	}
	return nil
}

func ceilUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func expiresAt(e int64) time.Time {
	if e == 0 {
		return time.Time{}
	}
	return time.Unix(e, 0)
}

// decode turns a stored value into a record; ok is false for one that reads
// as absent (a tombstone, or expired at now).
func decode(key, val string, now time.Time) (rec storage.Record, ok bool) {
	if len(val) < 4 {
		return storage.Record{Key: key, Damaged: true}, true
	}
	v, err := parseValueHeader(val[:len(val)-4])
	switch {
	case err != nil, v.kind == kindDamaged:
		return storage.Record{Key: key, Damaged: true}, true
	case v.kind == kindTombstone:
		return rec, false
	case v.expires != 0 && !time.Unix(v.expires, 0).After(now):
		return rec, false
	}
	return storage.Record{Key: key, Value: []byte(v.payload), Expires: expiresAt(v.expires)}, true
}

// Get implements storage.Backend.
func (d *DB) Get(ctx context.Context, key string) (storage.Record, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.usable(ctx); err != nil {
		return storage.Record{}, err
	}
	var val string
	err := d.db.View(func(tx *buntdb.Tx) error {
		var err error
		val, err = tx.Get(key)
		return err
	})
	if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
		return storage.Record{}, fmt.Errorf("bunt: get: %w", err)
	}
	// What was read may be a write not yet durable: wait until it is.
	if d.pending.has(key) {
		if err := d.durable(); err != nil {
			return storage.Record{}, err
		}
	}
	if err != nil {
		return storage.Record{}, storage.ErrNotFound
	}
	rec, ok := decode(key, val, time.Now())
	switch {
	case !ok:
		return storage.Record{}, storage.ErrNotFound
	case rec.Damaged:
		return storage.Record{}, ErrDamaged
	}
	return rec, nil
}

// Scan implements storage.Backend.
func (d *DB) Scan(ctx context.Context, from, to string, limit int) ([]storage.Record, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.usable(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var (
		out       []storage.Record
		last      string
		exhausted = true
		now       = time.Now()
	)
	iter := func(k, v string) bool {
		if len(out) == limit {
			exhausted = false
			return false
		}
		last = k
		if rec, ok := decode(k, v, now); ok {
			out = append(out, rec)
		}
		return true
	}
	err := d.db.View(func(tx *buntdb.Tx) error {
		if to == "" {
			return tx.AscendGreaterOrEqual("", from, iter)
		}
		return tx.AscendRange("", from, to, iter)
	})
	if err != nil {
		return nil, fmt.Errorf("bunt: scan: %w", err)
	}
	pend := false
	if exhausted {
		pend = d.pending.hasRange(from, to, false)
	} else {
		pend = d.pending.hasRange(from, last, true)
	}
	if pend {
		if err := d.durable(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Set implements storage.Backend.
func (d *DB) Set(ctx context.Context, key string, value []byte, expires time.Time) error {
	return d.Apply(ctx, []storage.Write{{Key: key, Value: value, Expires: expires}})
}

// Delete implements storage.Backend.
func (d *DB) Delete(ctx context.Context, key string) error {
	return d.Apply(ctx, []storage.Write{{Key: key, Delete: true}})
}

// Apply implements storage.Backend. Writes to the same key collapse to the
// last. A batch of several writes is marked as such in the file, so Open
// drops a batch a crash cut short instead of keeping part of it.
func (d *DB) Apply(ctx context.Context, writes []storage.Write, conds ...storage.Precondition) error {
	if len(writes) == 0 && len(conds) == 0 {
		return nil
	}
	// Collapse repeated keys: BuntDB writes one command per key, and the
	// batch header must count exactly the commands in the file.
	ws := writes
	if len(writes) > 1 {
		idx := make(map[string]int, len(writes))
		ws = make([]storage.Write, 0, len(writes))
		for _, w := range writes {
			if i, ok := idx[w.Key]; ok {
				ws[i] = w
				continue
			}
			idx[w.Key] = len(ws)
			ws = append(ws, w)
		}
	}
	for _, w := range ws {
		if w.Key == "" {
			return fmt.Errorf("%w: empty key", ErrInvalid)
		}
	}
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.Key
	}

	d.gate.RLock()
	defer d.gate.RUnlock()
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.usable(ctx); err != nil {
		return err
	}
	d.pending.add(keys)
	defer d.pending.remove(keys)

	count := uint64(len(ws))
	var batch uint64
	if count > 1 {
		batch = d.nextBatch.Add(1)
	}
	err := d.db.Update(func(tx *buntdb.Tx) error {
		now := time.Now()
		for _, c := range conds {
			if err := checkCond(tx, c, now); err != nil {
				return err
			}
		}
		for _, w := range ws {
			exp := ceilUnix(w.Expires)
			gone := w.Delete || (exp != 0 && !w.Expires.After(now))
			switch {
			case gone && count == 1:
				if _, err := tx.Delete(w.Key); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
			case gone:
				exp = ceilUnix(now.Add(tombstoneTTL))
				val := encodeValue(kindTombstone, exp, count, batch, w.Key, nil)
				if _, _, err := tx.Set(w.Key, val, ttlOpts(exp)); err != nil {
					return err
				}
			default:
				val := encodeValue(kindLive, exp, count, batch, w.Key, w.Value)
				if _, _, err := tx.Set(w.Key, val, ttlOpts(exp)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return err
		}
		return fmt.Errorf("bunt: write: %w", err)
	}
	d.writes.Add(1)
	return d.durable()
}

// ttlOpts makes BuntDB write exactly exp as the record's expiry: it adds the
// TTL to its own clock and writes whole seconds, so aim half a second past.
func ttlOpts(exp int64) *buntdb.SetOptions {
	if exp == 0 {
		return nil
	}
	return &buntdb.SetOptions{Expires: true, TTL: time.Until(time.Unix(exp, 0).Add(500 * time.Millisecond))}
}

func checkCond(tx *buntdb.Tx, c storage.Precondition, now time.Time) error {
	val, err := tx.Get(c.Key)
	if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
		return err
	}
	present, same := false, false
	if err == nil {
		if rec, ok := decode(c.Key, val, now); ok {
			present = true
			same = !rec.Damaged && string(rec.Value) == string(c.Value)
		}
	}
	if c.Absent && present || !c.Absent && !same {
		return storage.ErrConflict
	}
	return nil
}

// Close implements storage.Backend.
func (d *DB) Close() error {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.stopped
	d.gate.Lock()
	defer d.gate.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return storage.ErrClosed
	}
	var errs []error
	if d.failed.Load() == nil && !d.noSync {
		if err := d.file.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("bunt: fsync: %w", err))
		}
	}
	if err := d.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("bunt: close: %w", err))
	}
	if err := d.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("bunt: close: %w", err))
	}
	d.db, d.file = nil, nil
	unlockFile(d.lock)
	return errors.Join(errs...)
}

// background compacts the file when it has grown enough.
func (d *DB) background() {
	defer close(d.stopped)
	if d.cfg.CompactEvery < 0 {
		<-d.stop
		return
	}
	t := time.NewTicker(d.cfg.CompactEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		size := d.Stats().FileSize
		if size > d.cfg.CompactMinSize && float64(size) > float64(d.lastSize.Load())*d.cfg.CompactGrowth {
			// An error leaves the old file in place; a failure to fsync stops the DB.
			_ = d.Compact(context.Background())
		}
	}
}
