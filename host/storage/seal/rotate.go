package seal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// RotateDataKey gives the installation a new data key: every write from the
// moment it returns is sealed under it, and a background task re-seals the
// installation's older records, then retires the older keys once no record
// uses them. Reads and writes go on throughout. WaitReseal waits for the
// background task.
func (s *Store) RotateDataKey(ctx context.Context, inst string) error {
	e, r, err := s.ring(ctx, inst, false)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("seal: rotate data key: %w", storage.ErrNotFound)
	}
	e.mu.Lock()
	r = e.ring.Load()
	if r == nil {
		e.mu.Unlock()
		return fmt.Errorf("seal: rotate data key: %w", storage.ErrNotFound)
	}
	nr, err := s.addDataKey(ctx, r, slices.Max(r.versions())+1)
	if err == nil {
		e.ring.Store(nr)
		e.rotated.Store(time.Now().UnixNano())
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	s.bg.add(inst)
	return nil
}

// Reseal re-seals every record of the installation that is not under its
// current data key, then retires the older data keys. The background task
// RotateDataKey starts runs it; it is safe to run beside it. Records that
// fail authentication cannot be re-sealed and do not hold retirement back:
// they are unreadable under any key.
func (s *Store) Reseal(ctx context.Context, inst string) error {
	e, r, err := s.ring(ctx, inst, false)
	if err != nil || r == nil {
		return err
	}
	for pass := 0; pass < 5; pass++ {
		r = e.ring.Load()
		if r == nil || len(r.aeads) == 1 {
			return nil
		}
		cur := r.current
		var batch []storage.Record
		flush := func() error {
			err := s.resealBatch(ctx, e, batch)
			batch = batch[:0]
			return err
		}
		err := s.scan(ctx, r.recordsPrefix(), storage.PrefixEnd(r.recordsPrefix()), func(rec storage.Record) error {
			if v, ok := recordVersion(rec.Value); ok && v != cur && !rec.Damaged {
				if batch = append(batch, rec); len(batch) == resealBatch {
					return flush()
				}
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("seal: reseal: %w", err)
		}
		done, err := s.retire(ctx, e, cur)
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("seal: reseal: records still sealed under older keys after 5 passes")
}

// resealBatch is how many records a re-seal rewrites per atomic write.
const resealBatch = 64

// resealBatch re-seals records in one atomic write, conditional on none of
// them having changed; if one has, it falls back to one at a time.
func (s *Store) resealBatch(ctx context.Context, e *ringEntry, recs []storage.Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := func() error {
		e.mu.RLock()
		defer e.mu.RUnlock()
		r := e.ring.Load()
		if r == nil {
			return nil
		}
		var (
			ws    []storage.Write
			conds []storage.Precondition
		)
		for _, rec := range recs {
			w, ok := s.resealed(r, rec)
			if !ok {
				continue
			}
			ws = append(ws, w)
			conds = append(conds, storage.Precondition{Key: rec.Key, Value: rec.Value})
		}
		if len(ws) == 0 {
			return nil
		}
		return s.b.Apply(ctx, ws, conds...)
	}()
	if !errors.Is(err, storage.ErrConflict) {
		return err
	}
	for _, rec := range recs {
		if err := s.resealOne(ctx, e, rec); err != nil {
			return err
		}
	}
	return nil
}

// resealed is the write that re-seals rec under r's current key: a delete
// when it has expired; ok is false for a record that does not open.
func (s *Store) resealed(r *keyring, rec storage.Record) (storage.Write, bool) {
	space := storage.Keyspace(rec.Key[len(prefixRecords)+tagSize])
	o, err := r.openName(space, rec.Key, rec.Value)
	if err != nil {
		return storage.Write{}, false
	}
	if s.expired(o.expires) {
		return storage.Write{Key: rec.Key, Delete: true}, true
	}
	val, err := r.openValue(o)
	if err != nil {
		return storage.Write{}, false
	}
	var expAt time.Time
	if o.expires != 0 {
		expAt = time.Unix(0, o.expires)
	}
	return storage.Write{Key: rec.Key, Value: r.seal(space, rec.Key, o.name, val, o.expires), Expires: expAt}, true
}

// resealOne re-seals one record under the current key unless it changed meanwhile.
func (s *Store) resealOne(ctx context.Context, e *ringEntry, rec storage.Record) error {
	for attempt := 0; attempt < 10; attempt++ {
		err, done := func() (error, bool) {
			e.mu.RLock()
			defer e.mu.RUnlock()
			r := e.ring.Load()
			if r == nil {
				return nil, true
			}
			w, ok := s.resealed(r, rec)
			if !ok {
				return nil, true // unreadable: nothing to carry over
			}
			return s.b.Apply(ctx, []storage.Write{w}, storage.Precondition{Key: rec.Key, Value: rec.Value}), false
		}()
		if done || err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		// Written or deleted meanwhile: look again.
		cur, err := s.b.Get(ctx, rec.Key)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrIntegrity) {
			return nil
		}
		if err != nil {
			return err
		}
		r := e.ring.Load()
		if v, ok := recordVersion(cur.Value); !ok || r == nil || v == r.current {
			return nil
		}
		rec = cur
	}
	return fmt.Errorf("seal: reseal: record keeps changing")
}

// retire drops the data keys other than cur once no readable record uses
// them; it reports false when some record still does or cur is no longer current.
func (s *Store) retire(ctx context.Context, e *ringEntry, cur uint32) (bool, error) {
	r := e.ring.Load()
	if r == nil || r.current != cur {
		return false, nil
	}
	left := 0
	err := s.scan(ctx, r.recordsPrefix(), storage.PrefixEnd(r.recordsPrefix()), func(rec storage.Record) error {
		v, ok := recordVersion(rec.Value)
		if !ok || v == cur || rec.Damaged {
			return nil
		}
		space := storage.Keyspace(rec.Key[len(prefixRecords)+tagSize])
		if _, err := r.openName(space, rec.Key, rec.Value); err == nil {
			left++
		}
		return nil
	})
	if err != nil || left > 0 {
		return false, err
	}
	if wait := s.cfg.KeyCacheTTL - time.Since(time.Unix(0, e.rotated.Load())); wait > 0 {
		// Other hosts may hold the older keys for up to KeyCacheTTL and write
		// with them: wait that out, then look for their records again.
		select {
		case <-time.After(wait):
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	// Writers took cur from the moment it became current, so no record under
	// an older key can appear now (on other hosts, once KeyCacheTTL has
	// passed): swap under the lock only to publish.
	e.mu.Lock()
	defer e.mu.Unlock()
	r = e.ring.Load()
	if r == nil || r.current != cur {
		return false, nil
	}
	var ws []storage.Write
	nr := r
	for _, v := range r.versions() {
		if v != cur {
			ws = append(ws, storage.Write{Key: dataKeyKey(r.tag, v), Delete: true})
			nr = nr.with(v, nil, cur)
		}
	}
	if len(ws) == 0 {
		return true, nil
	}
	if err := s.kb.Apply(ctx, ws); err != nil {
		return false, fmt.Errorf("seal: retire data keys: %w", err)
	}
	e.ring.Store(nr)
	return true, nil
}

// resumeRotations queues a re-seal for every installation left with several
// data keys, as after a crash in the middle of one.
func (s *Store) resumeRotations(ctx context.Context) error {
	recs, err := s.scanAll(ctx, prefixKeys)
	if err != nil {
		return fmt.Errorf("seal: open: %w", err)
	}
	datas := map[string]int{}
	names := map[string]storage.Record{}
	for _, rec := range recs {
		if len(rec.Key) != len(prefixKeys)+tagSize+1 && len(rec.Key) != len(prefixKeys)+tagSize+5 {
			continue
		}
		tag := rec.Key[len(prefixKeys) : len(prefixKeys)+tagSize]
		switch rec.Key[len(prefixKeys)+tagSize] {
		case 'd':
			datas[tag]++
		case 'n':
			names[tag] = rec
		}
	}
	for tag, n := range datas {
		rec, ok := names[tag]
		if n < 2 || !ok || rec.Damaged {
			continue
		}
		secret, _, err := s.unwrap(kindNameKey, rec.Key, rec.Value)
		if err != nil {
			return fmt.Errorf("seal: open: %w", err)
		}
		// Begun by an earlier run, or by another host: count from now.
		s.entry(string(secret[nameKeySize:])).rotated.Store(time.Now().UnixNano())
		s.bg.add(string(secret[nameKeySize:]))
	}
	return nil
}

// scanAll reads every key record under prefix (from the key store).
func (s *Store) scanAll(ctx context.Context, prefix string) ([]storage.Record, error) {
	var out []storage.Record
	err := s.scanIn(ctx, s.kb, prefix, storage.PrefixEnd(prefix), func(rec storage.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// WaitReseal waits until background re-sealing is idle and returns the first
// error it met since the previous call.
func (s *Store) WaitReseal(ctx context.Context) error { return s.bg.wait(ctx) }

// RotateMasterKey makes k the primary master key, re-wraps every wrapped
// key under it, then forgets the master keys nothing is wrapped by any more.
// Reads and writes go on throughout. Write the key file with k first before
// calling it (see RotateKeyFile), so that a crash never leaves data keys
// wrapped by a key that is in no file.
func (s *Store) RotateMasterKey(ctx context.Context, k *MasterKey) error {
	s.keysMu.Lock()
	s.masters = append([]*MasterKey{k}, slices.DeleteFunc(s.masters, func(m *MasterKey) bool { return m.id == k.id })...)
	s.keysMu.Unlock()
	for _, p := range []string{prefixHost, prefixKeys} {
		err := s.scanIn(ctx, s.kb, p, storage.PrefixEnd(p), func(rec storage.Record) error {
			if id, ok := wrappedBy(rec.Value); ok && id != k.id && !rec.Damaged {
				return s.rewrap(ctx, rec)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seal: rotate master key: %w", err)
		}
	}
	inUse, err := s.MasterKeysInUse(ctx)
	if err != nil {
		return err
	}
	s.keysMu.Lock()
	s.masters = slices.DeleteFunc(s.masters, func(m *MasterKey) bool { return m.id != k.id && !slices.Contains(inUse, m.id) })
	s.keysMu.Unlock()
	return nil
}

// rewrap re-wraps one wrapped key under the primary unless it changed meanwhile.
func (s *Store) rewrap(ctx context.Context, rec storage.Record) error {
	for attempt := 0; attempt < 10; attempt++ {
		kind := rec.Value[1]
		secret, v, err := s.unwrap(kind, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		s.keysMu.RLock()
		primary := s.masters[0].id
		val, err := s.wrap(kind, v, rec.Key, secret)
		if err == nil {
			err = s.kb.Apply(ctx, []storage.Write{{Key: rec.Key, Value: val}}, storage.Precondition{Key: rec.Key, Value: rec.Value})
		}
		s.keysMu.RUnlock()
		if err == nil || !errors.Is(err, storage.ErrConflict) {
			return err
		}
		cur, err := s.kb.Get(ctx, rec.Key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if id, ok := wrappedBy(cur.Value); !ok || id == primary {
			return nil
		}
		rec = cur
	}
	return fmt.Errorf("seal: rewrap: record keeps changing")
}

// MasterKeysInUse lists the IDs of the master keys that wrap at least one
// stored key, sorted. A master key not listed can be removed from the key file.
func (s *Store) MasterKeysInUse(ctx context.Context) ([]string, error) {
	var ids []string
	for _, p := range []string{prefixHost, prefixKeys} {
		err := s.scanIn(ctx, s.kb, p, storage.PrefixEnd(p), func(rec storage.Record) error {
			if id, ok := wrappedBy(rec.Value); ok && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("seal: master keys in use: %w", err)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// RotateKeyFile is `chatbridge keys rotate` for a store using the key file at
// path: it generates a master key, writes the file with it first and the old
// keys after, re-wraps every data key under it, then rewrites the file
// without the keys nothing uses any more. It returns the new key. A crash at
// any point leaves a key file that opens the store.
func RotateKeyFile(ctx context.Context, s *Store, path string) (*MasterKey, error) {
	old, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	if err := WriteKeyFile(path, append([]*MasterKey{k}, old...)); err != nil {
		return nil, err
	}
	s.keysMu.Lock()
	for _, m := range old {
		if !slices.ContainsFunc(s.masters, func(x *MasterKey) bool { return x.id == m.id }) {
			s.masters = append(s.masters, m)
		}
	}
	s.keysMu.Unlock()
	if err := s.RotateMasterKey(ctx, k); err != nil {
		return nil, err
	}
	inUse, err := s.MasterKeysInUse(ctx)
	if err != nil {
		return nil, err
	}
	keep := []*MasterKey{k}
	for _, m := range old {
		if slices.Contains(inUse, m.id) {
			keep = append(keep, m)
		}
	}
	return k, WriteKeyFile(path, keep)
}

// CheckReport is what Check found.
type CheckReport struct {
	// Records is how many records were read.
	Records int
	// Damaged lists the records that failed.
	Damaged []DamagedRecord
}

// DamagedRecord is one record Check could not open. Its key is not known:
// key names are sealed inside the record.
type DamagedRecord struct {
	// Installation is the installation the record belongs to, unless Orphan.
	Installation string
	// Orphan reports a record of no known installation.
	Orphan bool
	Space  storage.Keyspace
	Err    error
}

// Check opens every record of every installation and reports those that fail
// (tampered, truncated, moved, or damaged on disk); with drop set it deletes
// them, which lets queries over their range work again.
func (s *Store) Check(ctx context.Context, drop bool) (CheckReport, error) {
	var rep CheckReport
	names, err := s.scanAll(ctx, prefixKeys)
	if err != nil {
		return rep, fmt.Errorf("seal: check: %w", err)
	}
	insts := map[string]string{} // tag -> installation
	for _, rec := range names {
		if len(rec.Key) == len(prefixKeys)+tagSize+1 && rec.Key[len(rec.Key)-1] == 'n' && !rec.Damaged {
			if secret, _, err := s.unwrap(kindNameKey, rec.Key, rec.Value); err == nil {
				insts[rec.Key[len(prefixKeys):len(prefixKeys)+tagSize]] = string(secret[nameKeySize:])
			}
		}
	}
	err = s.scan(ctx, prefixRecords, storage.PrefixEnd(prefixRecords), func(rec storage.Record) error {
		rep.Records++
		d := DamagedRecord{Orphan: true}
		if len(rec.Key) > len(prefixRecords)+tagSize {
			d.Space = storage.Keyspace(rec.Key[len(prefixRecords)+tagSize])
			d.Installation, d.Orphan = insts[rec.Key[len(prefixRecords):len(prefixRecords)+tagSize]]
			d.Orphan = !d.Orphan
		}
		switch {
		case rec.Damaged:
			d.Err = integrity("record damaged on disk")
		case d.Orphan:
			d.Err = integrity("record of no installation")
		default:
			_, r, err := s.ring(ctx, d.Installation, false)
			if err != nil {
				return err
			}
			if r == nil {
				d.Err = integrity("record of no installation")
				break
			}
			o, err := r.openName(d.Space, rec.Key, rec.Value)
			if err == nil {
				_, err = r.openValue(o)
			}
			d.Err = err
		}
		if d.Err == nil {
			return nil
		}
		rep.Damaged = append(rep.Damaged, d)
		if drop {
			var cond []storage.Precondition
			if !rec.Damaged {
				cond = append(cond, storage.Precondition{Key: rec.Key, Value: rec.Value})
			}
			if err := s.b.Apply(ctx, []storage.Write{{Key: rec.Key, Delete: true}}, cond...); err != nil && !errors.Is(err, storage.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("seal: check: %w", err)
	}
	return rep, nil
}

// bgWorker re-seals installations in the background, one at a time.
type bgWorker struct {
	s      *Store
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex // guards the fields below
	queue  []string
	wake   chan struct{} // signalled when queue grows
	idle   chan struct{} // closed while there is no work
	active bool
	err    error
}

func (w *bgWorker) start(s *Store) {
	w.s = s
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.done = make(chan struct{})
	w.wake = make(chan struct{}, 1)
	w.idle = make(chan struct{})
	close(w.idle)
	go w.run()
}

func (w *bgWorker) add(inst string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.queue, inst) {
		w.queue = append(w.queue, inst)
	}
	if !w.active {
		w.active = true
		w.idle = make(chan struct{})
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *bgWorker) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			if w.active {
				w.active = false
				close(w.idle)
			}
			w.mu.Unlock()
			select {
			case <-w.ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		inst := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		err := w.s.Reseal(w.ctx, inst)
		if err != nil && w.ctx.Err() == nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}
}

func (w *bgWorker) wait(ctx context.Context) error {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.err
	w.err = nil
	return err
}

func (w *bgWorker) stop() {
	w.cancel()
	<-w.done
}
