package seal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	// KeyStore is where the wrapped keys live, apart from the records:
	// Backup copies the records backend only, so a Purge that destroys an
	// installation's keys here leaves every earlier backup unreadable for
	// that installation (crypto-shredding). The Store owns it and closes it.
	// Open moves keys a store of the older layout kept among its records
	// into it. Nil, the default, keeps the keys among the records: backups
	// then carry them.
	KeyStore storage.Backend
}

// Store is a storage.Store that seals every record before it reaches the
// backend. It is safe for concurrent use.
type Store struct {
	b   storage.Backend // the records
	kb  storage.Backend // the wrapped keys: Config.KeyStore, or b
	cfg Config

	// keysMu guards masters. Wrapping a key holds it for reading, so a
	// rotation that changes the primary waits for wraps in flight.
	keysMu  sync.RWMutex
	masters []*MasterKey // [0] is the primary
	hostKey []byte       // names installations (tags); never rotated

	ringsMu sync.Mutex // guards rings
	rings   map[string]*ringEntry

	bg bgWorker

	counts storage.Counts // calls by keyspace and operation (Counts)

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
	s := &Store{b: backend, kb: backend, cfg: cfg, masters: slices.Clone(keys), rings: map[string]*ringEntry{}}
	if cfg.KeyStore != nil {
		s.kb = cfg.KeyStore
	}
	if err := s.moveKeys(ctx); err != nil {
		return nil, err
	}
	if err := s.checkMark(ctx, false); err != nil {
		return nil, err
	}
	if err := s.loadHostKey(ctx); err != nil {
		return nil, err
	}
	if err := s.checkMark(ctx, true); err != nil {
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
	s.counts.Add(space, storage.OpGet)
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
		rec, err := s.b.Get(readCache(ctx, space), raw)
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

// readCache decides whether a Get of space may be served from the
// backend's read cache: installation records and secrets may (the host
// changes them rarely and a moment's staleness costs a retried call at
// worst), module records when the caller allowed it
// (storage.WithReadCache), dedupe claims and queued deliveries never
// (they decide who does the work, and a stale one would double it).
func readCache(ctx context.Context, space storage.Keyspace) context.Context {
	switch space {
	case storage.Registry, storage.Secret:
		return storage.WithReadCache(ctx, true)
	case storage.KVS:
		return ctx
	}
	if storage.ReadCacheAllowed(ctx) {
		return storage.WithReadCache(ctx, false)
	}
	return ctx
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
	s.counts.Add(space, storage.OpSet)
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
	s.counts.Add(space, storage.OpDelete)
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

// Counts are the store's calls so far, by keyspace and operation: what the
// host asked of storage, each a round trip or more to the backend.
func (s *Store) Counts() storage.CountSnapshot { return s.counts.Snapshot() }

// Backend returns the raw backend the store seals records into, for
// coordination that shares its connection (an etcd cluster's).
func (s *Store) Backend() storage.Backend { return s.b }

// Compact compacts the backends: deleted, overwritten and expired records
// leave their files.

func (s *Store) Compact(ctx context.Context) error {
	if err := s.b.Compact(ctx); err != nil {
		return err
	}
	if s.apart() {
		return s.kb.Compact(ctx)
	}
	return nil
}

// apart reports whether the keys live apart from the records.
func (s *Store) apart() bool { return s.kb != s.b }

// Close stops background work and closes the backends.
func (s *Store) Close() error {
	s.bg.stop()
	err := s.b.Close()
	if s.apart() {
		err = errors.Join(err, s.kb.Close())
	}
	return err
}
