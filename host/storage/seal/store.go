package seal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

var (
	// ErrNoMasterKey is returned when no master key is given or found.
	ErrNoMasterKey = errors.New("seal: no master key")
	// ErrBadMasterKey is returned for a master key that does not decode.
	ErrBadMasterKey = errors.New("seal: malformed master key")
	// ErrUnknownMasterKey is returned when the store holds keys wrapped by a
	// master key that was not given: the wrong key file, or a key retired too early.
	ErrUnknownMasterKey = errors.New("seal: data keys wrapped by a master key not loaded")
	// ErrKeyFileMode is returned for a key file its group or others may access.
	ErrKeyFileMode = errors.New("seal: key file open to group or others")
	// ErrKeyPlacement is returned for a key file beside the data file.
	ErrKeyPlacement = errors.New("seal: key file beside the data")
	// ErrNotEmpty is returned by Restore for a backend that holds records.
	ErrNotEmpty = errors.New("seal: restore target not empty")
	// ErrInvalidInstallation is returned for an installation id over MaxInstallationLen.
	ErrInvalidInstallation = errors.New("seal: invalid installation id")
)

// MaxInstallationLen bounds an installation id, in bytes.
const MaxInstallationLen = 1024

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// Now is the clock that decides expiry. Default time.Now.
	Now func() time.Time
	// ScanBatch is how many records a query, purge or re-seal reads from the
	// backend at a time. Default 256.
	ScanBatch int
	// KeyCacheTTL is how long the store trusts its copy of an installation's
	// unwrapped keys (or of their absence) before reading them from the
	// backend again. Zero, the default, trusts it for ever: right when this
	// store is the backend's only writer (BuntDB). Hosts sharing a backend
	// (etcd) set it, so that a data key rotation, a new installation or a
	// purge on one host reaches the others within it; a rotation then waits
	// as long before it retires the older keys, which the others may still
	// be writing with.
	KeyCacheTTL time.Duration
}

// Store is a storage.Store that seals every record before it reaches the
// backend. It is safe for concurrent use.
type Store struct {
	b   storage.Backend
	cfg Config

	// keysMu guards masters. Wrapping a key holds it for reading, so a
	// rotation that changes the primary waits for wraps in flight.
	keysMu  sync.RWMutex
	masters []*MasterKey // [0] is the primary
	hostKey []byte       // names installations (tags); never rotated

	ringsMu sync.Mutex // guards rings
	rings   map[string]*ringEntry

	bg bgWorker

	testHookRead func() // tests only: runs between loading a keyring and reading records
}

// ringEntry holds one installation's keyring.
type ringEntry struct {
	// mu is held for reading by writers of the installation's records, and
	// for writing by whatever changes the keyring (creation, data key
	// rotation and retirement, purge), so no record is written under a key
	// that is being replaced.
	mu     sync.RWMutex
	ring   atomic.Pointer[keyring] // nil: no keys (none yet, or purged)
	loaded atomic.Bool             // ring reflects the backend
	// checked is when ring was read from the backend (Unix nanoseconds), for
	// Config.KeyCacheTTL; rotated, when this store last began a data key
	// rotation of the installation.
	checked, rotated atomic.Int64
}

var _ storage.Store = (*Store)(nil)

// Open opens a sealed store over backend; the Store owns the backend from
// then on and closes it. keys[0] is the primary master key, which wraps every
// new data key; the others only unwrap. Open finishes any purge a crash
// interrupted and resumes any unfinished data key rotation in the background.
func Open(ctx context.Context, backend storage.Backend, keys []*MasterKey, cfg Config) (*Store, error) {
	if len(keys) == 0 {
		return nil, ErrNoMasterKey
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ScanBatch <= 0 {
		cfg.ScanBatch = 256
	}
	s := &Store{b: backend, cfg: cfg, masters: slices.Clone(keys), rings: map[string]*ringEntry{}}
	if err := s.loadHostKey(ctx); err != nil {
		return nil, err
	}
	if err := s.resumePurges(ctx); err != nil {
		return nil, err
	}
	s.bg.start(s)
	if err := s.resumeRotations(ctx); err != nil {
		s.bg.stop()
		return nil, err
	}
	return s, nil
}

// Wrapped key layout: format(1)=1 kind(1) master key id(8) data key
// version(4) || HPKE enc || HPKE ciphertext. The HPKE info binds the header
// and the record's raw key, so a wrapped key cannot be moved to another
// installation, version or purpose.
const (
	wrapFormat     = 0x01
	wrapHeaderSize = 1 + 1 + idSize + 4
	kindHostKey    = 'h'
	kindNameKey    = 'n'
	kindDataKey    = 'd'
)

func wrapInfo(hdr []byte, raw string) []byte {
	b := append([]byte("chatbridge/seal/v1 wrapped key\x00"), hdr...)
	return append(b, raw...)
}

// wrap seals secret under the primary master key. Callers hold keysMu.
func (s *Store) wrap(kind byte, version uint32, raw string, secret []byte) ([]byte, error) {
	m := s.masters[0]
	hdr := make([]byte, wrapHeaderSize)
	hdr[0], hdr[1] = wrapFormat, kind
	copy(hdr[2:], m.idBytes[:])
	binary.BigEndian.PutUint32(hdr[2+idSize:], version)
	blob, err := m.wrap(wrapInfo(hdr, raw), secret)
	if err != nil {
		return nil, fmt.Errorf("seal: wrap: %w", err)
	}
	return append(hdr, blob...), nil
}

// unwrap opens a wrapped key stored at raw with whichever master key wrapped it.
func (s *Store) unwrap(kind byte, raw string, val []byte) (secret []byte, version uint32, err error) {
	if len(val) < wrapHeaderSize || val[0] != wrapFormat || val[1] != kind {
		return nil, 0, integrity("wrapped key malformed")
	}
	id := fmt.Sprintf("%x", val[2:2+idSize])
	version = binary.BigEndian.Uint32(val[2+idSize:])
	s.keysMu.RLock()
	var m *MasterKey
	for _, k := range s.masters {
		if k.id == id {
			m = k
		}
	}
	s.keysMu.RUnlock()
	if m == nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrUnknownMasterKey, id)
	}
	secret, err = m.unwrap(wrapInfo(val[:wrapHeaderSize], raw), val[wrapHeaderSize:])
	if err != nil {
		return nil, 0, integrity("wrapped key fails authentication")
	}
	return secret, version, nil
}

func wrappedBy(val []byte) (string, bool) {
	if len(val) < wrapHeaderSize || val[0] != wrapFormat {
		return "", false
	}
	return fmt.Sprintf("%x", val[2:2+idSize]), true
}

// loadHostKey reads the host's name key, creating it in a new store.
func (s *Store) loadHostKey(ctx context.Context) error {
	for {
		rec, err := s.b.Get(ctx, hostNameKey)
		if err == nil {
			key, _, err := s.unwrap(kindHostKey, hostNameKey, rec.Value)
			if err != nil {
				return fmt.Errorf("seal: open: %w", err)
			}
			s.hostKey = key
			return nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("seal: open: %w", err)
		}
		key := make([]byte, nameKeySize)
		mustRand(key)
		s.keysMu.RLock()
		val, err := s.wrap(kindHostKey, 0, hostNameKey, key)
		s.keysMu.RUnlock()
		if err != nil {
			return err
		}
		err = s.b.Apply(ctx, []storage.Write{{Key: hostNameKey, Value: val}}, storage.Precondition{Key: hostNameKey, Absent: true})
		if err == nil {
			s.hostKey = key
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("seal: open: %w", err)
		}
	}
}

func (s *Store) entry(inst string) *ringEntry {
	s.ringsMu.Lock()
	defer s.ringsMu.Unlock()
	e := s.rings[inst]
	if e == nil {
		e = &ringEntry{}
		s.rings[inst] = e
	}
	return e
}

// ring returns the installation's keyring, loading it from the backend the
// first time (and again once Config.KeyCacheTTL has passed) and, when
// create is set, making one for a new installation. A nil keyring means the
// installation has no records.
func (s *Store) ring(ctx context.Context, inst string, create bool) (*ringEntry, *keyring, error) {
	if len(inst) > MaxInstallationLen {
		return nil, nil, fmt.Errorf("%w: %d bytes", ErrInvalidInstallation, len(inst))
	}
	e := s.entry(inst)
	if r := e.ring.Load(); (r != nil || (e.loaded.Load() && !create)) && s.fresh(e) {
		return e, r, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.ring.Load()
	if !e.loaded.Load() || !s.fresh(e) {
		var err error
		if r, err = s.loadRing(ctx, inst); err != nil {
			return nil, nil, err
		}
		e.ring.Store(r)
		e.loaded.Store(true)
		e.checked.Store(time.Now().UnixNano())
	}
	if r != nil || !create {
		return e, r, nil
	}
	r, err := s.createRing(ctx, inst)
	if err != nil {
		return nil, nil, err
	}
	e.ring.Store(r)
	return e, r, nil
}

// fresh reports whether e's keyring may be used without reading it again.
func (s *Store) fresh(e *ringEntry) bool {
	return s.cfg.KeyCacheTTL <= 0 || time.Since(time.Unix(0, e.checked.Load())) < s.cfg.KeyCacheTTL
}

// stale reports an error of a first attempt that reading the keys again may
// cure: a record sealed under a data key this store has not seen, which
// another host sharing the backend made. It marks the keys for reading.
func (s *Store) stale(err error, e *ringEntry, attempt int) bool {
	if attempt > 0 || s.cfg.KeyCacheTTL <= 0 || !errors.Is(err, errUnknownVersion) {
		return false
	}
	e.checked.Store(0)
	return true
}

// loadRing reads and unwraps an installation's keys; nil when it has none.
func (s *Store) loadRing(ctx context.Context, inst string) (*keyring, error) {
	tag := tagOf(s.hostKey, inst)
	recs, err := s.b.Scan(ctx, prefixKeys+tag, storage.PrefixEnd(prefixKeys+tag), 1<<16)
	if err != nil {
		return nil, fmt.Errorf("seal: load keys: %w", err)
	}
	var (
		r     *keyring
		datas []storage.Record
	)
	for _, rec := range recs {
		switch {
		case rec.Damaged:
			return nil, fmt.Errorf("seal: load keys of installation: %w", integrity("key record damaged"))
		case rec.Key == nameKeyKey(tag):
			secret, _, err := s.unwrap(kindNameKey, rec.Key, rec.Value)
			if err != nil {
				return nil, fmt.Errorf("seal: load keys: %w", err)
			}
			if len(secret) < nameKeySize || string(secret[nameKeySize:]) != inst {
				return nil, fmt.Errorf("seal: load keys: %w", integrity("name key of another installation"))
			}
			r = newKeyring(inst, tag, secret[:nameKeySize])
		default:
			datas = append(datas, rec)
		}
	}
	if r == nil {
		if len(datas) > 0 {
			return nil, fmt.Errorf("seal: load keys: %w", integrity("data keys without a name key"))
		}
		return nil, nil
	}
	for _, rec := range datas {
		key, v, err := s.unwrap(kindDataKey, rec.Key, rec.Value)
		if err != nil {
			return nil, fmt.Errorf("seal: load keys: %w", err)
		}
		if rec.Key != dataKeyKey(tag, v) || len(key) != dataKeySize {
			return nil, fmt.Errorf("seal: load keys: %w", integrity("data key record misplaced"))
		}
		r = r.with(v, key, max(r.current, v))
	}
	if len(r.aeads) == 0 {
		// A crash came between writing the name key and the first data key,
		// or another host is between the two now.
		r2, err := s.addDataKey(ctx, r, 1)
		if errors.Is(err, storage.ErrConflict) {
			return s.loadRing(ctx, inst)
		}
		return r2, err
	}
	return r, nil
}

// createRing makes the keys of a new installation: the name key first (it
// tells a half-made installation from debris), then data key version 1.
func (s *Store) createRing(ctx context.Context, inst string) (*keyring, error) {
	tag := tagOf(s.hostKey, inst)
	nameKey := make([]byte, nameKeySize)
	mustRand(nameKey)
	// Hold keysMu from wrapping to writing, so a master key rotation that
	// starts meanwhile sees the new key and re-wraps it.
	err := func() error {
		s.keysMu.RLock()
		defer s.keysMu.RUnlock()
		val, err := s.wrap(kindNameKey, 0, nameKeyKey(tag), append(slices.Clone(nameKey), inst...))
		if err != nil {
			return err
		}
		// Conditional: on a cluster, another host may be making the same
		// installation's keys at this moment; one name key must win.
		err = s.b.Apply(ctx, []storage.Write{{Key: nameKeyKey(tag), Value: val}}, storage.Precondition{Key: nameKeyKey(tag), Absent: true})
		if err != nil && !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("seal: create keys: %w", err)
		}
		return err
	}()
	if errors.Is(err, storage.ErrConflict) {
		r, err := s.loadRing(ctx, inst)
		if err == nil && r == nil {
			err = fmt.Errorf("seal: create keys: %w", integrity("name key vanished while being made"))
		}
		return r, err
	}
	if err != nil {
		return nil, err
	}
	r, err := s.addDataKey(ctx, newKeyring(inst, tag, nameKey), 1)
	if errors.Is(err, storage.ErrConflict) {
		return s.loadRing(ctx, inst)
	}
	return r, err
}

// addDataKey stores a new data key version v and returns r with it current.
func (s *Store) addDataKey(ctx context.Context, r *keyring, v uint32) (*keyring, error) {
	key := make([]byte, dataKeySize)
	mustRand(key)
	raw := dataKeyKey(r.tag, v)
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	val, err := s.wrap(kindDataKey, v, raw, key)
	if err != nil {
		return nil, err
	}
	if err := s.b.Apply(ctx, []storage.Write{{Key: raw, Value: val}}, storage.Precondition{Key: raw, Absent: true}); err != nil {
		return nil, fmt.Errorf("seal: add data key: %w", err)
	}
	return r.with(v, key, v), nil
}

func (s *Store) expiry(ttl time.Duration) (int64, time.Time) {
	if ttl <= 0 {
		return 0, time.Time{}
	}
	t := s.cfg.Now().Add(ttl)
	return t.UnixNano(), t
}

func (s *Store) expired(expires int64) bool {
	return expires != 0 && s.cfg.Now().UnixNano() >= expires
}

func checkSpace(space storage.Keyspace) error {
	if !space.Valid() {
		return fmt.Errorf("%w: %s", storage.ErrInvalidKey, space)
	}
	return nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error) {
	if err := errors.Join(checkSpace(space), storage.ValidateKey(key)); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		e, r, err := s.ring(ctx, inst, false)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, storage.ErrNotFound
		}
		raw := r.rawKey(space, key)
		if s.testHookRead != nil {
			s.testHookRead()
		}
		rec, err := s.b.Get(ctx, raw)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			return nil, fmt.Errorf("seal: get (%s): %w", space, err)
		}
		val, err := s.open(r, space, raw, key, rec.Value)
		if (retryable(err, r, e.ring.Load()) && attempt < 3) || s.stale(err, e, attempt) {
			continue
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			err = fmt.Errorf("seal: get (%s): %w", space, err)
		}
		return val, err
	}
}

// Fingerprint implements storage.Fingerprinter: the raw key's tokens,
// hashed. They are keyed by the installation's name key, which every host
// sharing the backend unwraps, so the name is stable across hosts and
// master key rotations and says nothing without the keys.
func (s *Store) Fingerprint(ctx context.Context, inst string, space storage.Keyspace, key string) (string, error) {
	if err := errors.Join(checkSpace(space), storage.ValidateKey(key)); err != nil {
		return "", err
	}
	_, r, err := s.ring(ctx, inst, true)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(r.rawKey(space, key)))
	return hex.EncodeToString(sum[:16]), nil
}

// open opens the record at raw that should hold key.
func (s *Store) open(r *keyring, space storage.Keyspace, raw, key string, rec []byte) ([]byte, error) {
	o, err := r.openName(space, raw, rec)
	if err != nil {
		return nil, err
	}
	if o.name != key {
		return nil, integrity("record holds another key")
	}
	if s.expired(o.expires) {
		return nil, storage.ErrNotFound
	}
	return r.openValue(o)
}

// Set implements storage.Store.
func (s *Store) Set(ctx context.Context, inst string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error {
	if err := errors.Join(checkSpace(space), storage.ValidateKey(key), storage.ValidateValue(value)); err != nil {
		return err
	}
	exp, expAt := s.expiry(ttl)
	for {
		e, _, err := s.ring(ctx, inst, true)
		if err != nil {
			return err
		}
		e.mu.RLock()
		r := e.ring.Load()
		if r == nil { // purged meanwhile: make new keys
			e.mu.RUnlock()
			continue
		}
		raw := r.rawKey(space, key)
		err = s.b.Set(ctx, raw, r.seal(space, raw, key, value, exp), expAt)
		e.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("seal: set (%s): %w", space, err)
		}
		return nil
	}
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, inst string, space storage.Keyspace, key string) error {
	if err := errors.Join(checkSpace(space), storage.ValidateKey(key)); err != nil {
		return err
	}
	e, r, err := s.ring(ctx, inst, false)
	if err != nil || r == nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if r = e.ring.Load(); r == nil {
		return nil
	}
	if err := s.b.Delete(ctx, r.rawKey(space, key)); err != nil {
		return fmt.Errorf("seal: delete (%s): %w", space, err)
	}
	return nil
}

// Query implements storage.Store. Results come in key order. Key names are
// sealed, so a page reads every record under the query's nearest segment
// boundary (the prefix up to its last ':'), opening only their name boxes,
// and opens the values of the page's records alone. A record there that fails
// authentication fails the query with an error wrapping storage.ErrIntegrity:
// where it would sort is unknown, so no page past it can be complete.
func (s *Store) Query(ctx context.Context, inst string, space storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error) {
	if err := checkSpace(space); err != nil {
		return storage.Page{}, err
	}
	if space == storage.Secret {
		return storage.Page{}, fmt.Errorf("%w: secrets are never listed", storage.ErrDenied)
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return storage.Page{}, err
	}
	limit, err := storage.QueryLimit(limit)
	if err != nil {
		return storage.Page{}, err
	}
	for attempt := 0; ; attempt++ {
		e, r, err := s.ring(ctx, inst, false)
		if err != nil {
			return storage.Page{}, err
		}
		if r == nil {
			if cursor != "" {
				return storage.Page{}, fmt.Errorf("%w: cursor of an installation without records", storage.ErrInvalidQuery)
			}
			return storage.Page{}, nil
		}
		after := ""
		if cursor != "" {
			if after, err = r.openCursor(space, prefix, cursor); err != nil {
				return storage.Page{}, err
			}
		}
		if s.testHookRead != nil {
			s.testHookRead()
		}
		page, err := s.query(ctx, r, space, prefix, after, limit)
		if (retryable(err, r, e.ring.Load()) && attempt < 3) || s.stale(err, e, attempt) {
			continue
		}
		if err != nil {
			return storage.Page{}, fmt.Errorf("seal: query (%s): %w", space, err)
		}
		return page, nil
	}
}

// candidate is a record a query may return.
type candidate struct {
	o opened
}

func (s *Store) query(ctx context.Context, r *keyring, space storage.Keyspace, prefix, after string, limit int) (storage.Page, error) {
	from := r.rawPrefix(space, prefix)
	// best holds the limit+1 smallest names seen, sorted; one more than a
	// page tells whether another page follows.
	var (
		best []candidate
		buf  []byte
	)
	err := s.scan(ctx, from, storage.PrefixEnd(from), func(rec storage.Record) error {
		if rec.Damaged {
			return integrity("record damaged on disk")
		}
		var (
			o   opened
			err error
		)
		o, buf, err = r.openNameInto(buf, space, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		if s.expired(o.expires) || len(o.name) < len(prefix) || o.name[:len(prefix)] != prefix || o.name <= after {
			return nil
		}
		if len(best) == limit+1 && o.name >= best[limit].o.name {
			return nil
		}
		i, _ := slices.BinarySearchFunc(best, o.name, func(c candidate, name string) int {
			return cmpString(c.o.name, name)
		})
		best = slices.Insert(best, i, candidate{o})
		if len(best) > limit+1 {
			best = best[:limit+1]
		}
		return nil
	})
	if err != nil {
		return storage.Page{}, err
	}
	var page storage.Page
	if len(best) > limit {
		best = best[:limit]
		page.NextCursor = r.sealCursor(space, prefix, best[limit-1].o.name)
	}
	for _, c := range best {
		v, err := r.openValue(c.o)
		if err != nil {
			return storage.Page{}, err
		}
		page.Entries = append(page.Entries, storage.Entry{Key: c.o.name, Value: v})
	}
	return page, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan calls fn for every record in [from, to), in batches.
func (s *Store) scan(ctx context.Context, from, to string, fn func(storage.Record) error) error {
	for {
		recs, err := s.b.Scan(ctx, from, to, s.cfg.ScanBatch)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(recs) < s.cfg.ScanBatch {
			return nil
		}
		from = recs[len(recs)-1].Key + "\x00"
	}
}

// Cursor layout: base64url(nonce(12) || AES-256-GCM(last key)), under the
// installation's cursor key, with the keyspace and the prefix as associated
// data: opaque to the module, and valid only for the query that made it.
var cursorEncoding = base64.RawURLEncoding

func cursorAAD(space storage.Keyspace, prefix string) []byte {
	return append([]byte{'c', byte(space)}, prefix...)
}

func (r *keyring) sealCursor(space storage.Keyspace, prefix, last string) string {
	b := make([]byte, nonceSize, nonceSize+len(last)+tagOverhead)
	mustRand(b)
	b = r.cursors.Seal(b, b[:nonceSize], []byte(last), cursorAAD(space, prefix))
	return cursorEncoding.EncodeToString(b)
}

func (r *keyring) openCursor(space storage.Keyspace, prefix, cursor string) (string, error) {
	b, err := cursorEncoding.DecodeString(cursor)
	if err != nil || len(b) < nonceSize+tagOverhead {
		return "", fmt.Errorf("%w: malformed cursor", storage.ErrInvalidQuery)
	}
	last, err := r.cursors.Open(nil, b[:nonceSize], b[nonceSize:], cursorAAD(space, prefix))
	if err != nil {
		return "", fmt.Errorf("%w: cursor not from this query", storage.ErrInvalidQuery)
	}
	return string(last), nil
}

// Purge implements storage.Store: it removes the installation's keys first,
// in one atomic write (its records are unreadable from then on), then its
// records, then compacts the backend so nothing of it stays in the file. A
// marker written first lets Open finish a purge a crash interrupted.
func (s *Store) Purge(ctx context.Context, inst string) error {
	if len(inst) > MaxInstallationLen {
		return fmt.Errorf("%w: %d bytes", ErrInvalidInstallation, len(inst))
	}
	e := s.entry(inst)
	e.mu.Lock()
	defer e.mu.Unlock()
	tag := tagOf(s.hostKey, inst)
	if err := s.b.Set(ctx, prefixPurge+tag, []byte{1}, time.Time{}); err != nil {
		return fmt.Errorf("seal: purge: %w", err)
	}
	e.ring.Store(nil)
	e.loaded.Store(true)
	if err := s.purgeTag(ctx, tag); err != nil {
		return err
	}
	if err := s.b.Compact(ctx); err != nil {
		return fmt.Errorf("seal: purge: %w", err)
	}
	return nil
}

// purgeTag deletes everything of the installation with tag, then its marker.
func (s *Store) purgeTag(ctx context.Context, tag string) error {
	for _, p := range []string{prefixKeys + tag, prefixRecords + tag} {
		if _, err := s.deleteRange(ctx, p, storage.PrefixEnd(p), nil); err != nil {
			return fmt.Errorf("seal: purge: %w", err)
		}
	}
	if err := s.b.Delete(ctx, prefixPurge+tag); err != nil {
		return fmt.Errorf("seal: purge: %w", err)
	}
	return nil
}

// deleteRange deletes the records in [from, to) that keep approves (nil:
// all), a batch at a time, and returns how many.
func (s *Store) deleteRange(ctx context.Context, from, to string, keep func(storage.Record) (bool, error)) (int, error) {
	n := 0
	for {
		recs, err := s.b.Scan(ctx, from, to, s.cfg.ScanBatch)
		if err != nil {
			return n, err
		}
		var ws []storage.Write
		for _, rec := range recs {
			del := true
			if keep != nil {
				if del, err = keep(rec); err != nil {
					return n, err
				}
			}
			if del {
				ws = append(ws, storage.Write{Key: rec.Key, Delete: true})
			}
		}
		if len(ws) > 0 {
			if err := s.b.Apply(ctx, ws); err != nil {
				return n, err
			}
			n += len(ws)
		}
		if len(recs) < s.cfg.ScanBatch {
			return n, nil
		}
		from = recs[len(recs)-1].Key + "\x00"
	}
}

// resumePurges finishes purges a crash interrupted.
func (s *Store) resumePurges(ctx context.Context) error {
	recs, err := s.b.Scan(ctx, prefixPurge, storage.PrefixEnd(prefixPurge), 1<<16)
	if err != nil {
		return fmt.Errorf("seal: open: %w", err)
	}
	for _, rec := range recs {
		if err := s.purgeTag(ctx, rec.Key[len(prefixPurge):]); err != nil {
			return err
		}
	}
	if len(recs) > 0 {
		return s.b.Compact(ctx)
	}
	return nil
}

// DeletePrefix deletes every record of the installation's keyspace whose key
// begins with prefix (for removing a project's configuration) and returns
// how many it deleted. When prefix ends on a segment boundary (with ':'),
// records that fail authentication under it are deleted too; otherwise they
// cannot be told to match, are kept, and make DeletePrefix return an error
// wrapping storage.ErrIntegrity after deleting the rest.
func (s *Store) DeletePrefix(ctx context.Context, inst string, space storage.Keyspace, prefix string) (int, error) {
	if err := errors.Join(checkSpace(space), storage.ValidatePrefix(prefix)); err != nil {
		return 0, err
	}
	e, r, err := s.ring(ctx, inst, false)
	if err != nil || r == nil {
		return 0, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if r = e.ring.Load(); r == nil {
		return 0, nil
	}
	from := r.rawPrefix(space, prefix)
	boundary := prefix == "" || prefix[len(prefix)-1] == ':'
	unreadable := 0
	n, err := s.deleteRange(ctx, from, storage.PrefixEnd(from), func(rec storage.Record) (bool, error) {
		var o opened
		var err error
		if !rec.Damaged {
			o, err = r.openName(space, rec.Key, rec.Value)
		}
		if rec.Damaged || err != nil {
			if boundary && len(rec.Key) > len(from) {
				return true, nil
			}
			unreadable++
			return false, nil
		}
		return len(o.name) >= len(prefix) && o.name[:len(prefix)] == prefix, nil
	})
	if err != nil {
		return n, fmt.Errorf("seal: delete prefix: %w", err)
	}
	if unreadable > 0 {
		return n, fmt.Errorf("seal: delete prefix: %w", integrity(fmt.Sprintf("%d records could not be read", unreadable)))
	}
	return n, nil
}

// Backup writes a consistent snapshot of the live store to w, still sealed,
// in the storage snapshot format. Master keys are not in it: keep every
// master key that wrapped a backup's data keys for as long as the backup.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := s.b.Snapshot(ctx, w); err != nil {
		return fmt.Errorf("seal: backup: %w", err)
	}
	return nil
}

// Restore writes a Backup into dst, which must be empty; open dst with the
// master keys of the backup afterwards. On error, discard dst. For a BuntDB
// file, bunt.Restore does the same atomically.
func Restore(ctx context.Context, r io.Reader, dst storage.Backend) error {
	recs, err := dst.Scan(ctx, "", "", 1)
	if err != nil {
		return fmt.Errorf("seal: restore: %w", err)
	}
	if len(recs) > 0 {
		return ErrNotEmpty
	}
	if _, err := storage.RestoreSnapshot(ctx, r, dst); err != nil {
		return fmt.Errorf("seal: restore: %w", err)
	}
	return nil
}

// Compact compacts the backend: deleted, overwritten and expired records
// leave its files.
// Backend returns the raw backend the store seals records into, for
// coordination that shares its connection (an etcd cluster's).
func (s *Store) Backend() storage.Backend { return s.b }

func (s *Store) Compact(ctx context.Context) error { return s.b.Compact(ctx) }

// Close stops background work and closes the backend.
func (s *Store) Close() error {
	s.bg.stop()
	return s.b.Close()
}
