package seal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

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
		rec, err := s.kb.Get(ctx, hostNameKey)
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
		err = s.kb.Apply(ctx, []storage.Write{{Key: hostNameKey, Value: val}}, storage.Precondition{Key: hostNameKey, Absent: true})
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
	if storage.ReadCacheAllowed(ctx) {
		// Wrapped keys are always read from the backend itself.
		ctx = storage.WithReadCache(ctx, false)
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
	recs, err := s.kb.Scan(ctx, prefixKeys+tag, storage.PrefixEnd(prefixKeys+tag), 1<<16)
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
		err = s.kb.Apply(ctx, []storage.Write{{Key: nameKeyKey(tag), Value: val}}, storage.Precondition{Key: nameKeyKey(tag), Absent: true})
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
	if err := s.kb.Apply(ctx, []storage.Write{{Key: raw, Value: val}}, storage.Precondition{Key: raw, Absent: true}); err != nil {
		return nil, fmt.Errorf("seal: add data key: %w", err)
	}
	return r.with(v, key, v), nil
}
