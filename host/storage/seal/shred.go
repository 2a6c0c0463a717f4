package seal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// ErrKeyStoreMismatch is returned by Open when the records were sealed under
// keys of another key store (Config.KeyStore), or of one that is missing.
var ErrKeyStoreMismatch = errors.New("seal: the records belong to another key store")

// Key store records (Config.KeyStore, or the records backend without one).
const (
	// prefixShred + tag: the tombstone of an installation whose keys were
	// destroyed. It holds nothing else; it keeps Open from moving the keys
	// of an older backup back into the key store.
	prefixShred = "x"
	// keyStoreMark, in the records backend of a store with a key store: a
	// keyed hash of the host name key, so that records restored beside the
	// wrong key store are refused instead of read as empty.
	keyStoreMark = "m"
)

var _ storage.Shredder = (*Store)(nil)

// destroyKeys deletes every key record of tag and writes its tombstone, in
// one atomic write to the key store.
func (s *Store) destroyKeys(ctx context.Context, tag string) ([]storage.DestroyedKey, error) {
	recs, err := s.kb.Scan(ctx, prefixKeys+tag, storage.PrefixEnd(prefixKeys+tag), 1<<16)
	if err != nil {
		return nil, err
	}
	var (
		keys []storage.DestroyedKey
		ws   []storage.Write
	)
	for _, rec := range recs {
		k := storage.DestroyedKey{Kind: "name"}
		if rec.Key != nameKeyKey(tag) {
			k.Kind = "data"
		}
		if len(rec.Value) >= wrapHeaderSize {
			k.Version = binary.BigEndian.Uint32(rec.Value[2+idSize:])
		}
		k.WrappedBy, _ = wrappedBy(rec.Value)
		sum := sha256.Sum256(append([]byte(rec.Key), rec.Value...))
		k.Fingerprint = hex.EncodeToString(sum[:16])
		keys = append(keys, k)
		ws = append(ws, storage.Write{Key: rec.Key, Delete: true})
	}
	if s.apart() {
		// Without a key store, backups carry the keys: a tombstone would
		// keep nothing destroyed, and the tag would stay in the file.
		ws = append(ws, storage.Write{Key: prefixShred + tag, Value: []byte{1}})
	}
	if err := s.kb.Apply(ctx, ws); err != nil {
		return nil, err
	}
	return keys, nil
}

// Shredded implements storage.Shredder. Without a key store it is always
// false: the keys of a purged installation live on in earlier backups.
func (s *Store) Shredded(ctx context.Context, inst string) (bool, error) {
	_, err := s.kb.Get(ctx, prefixShred+tagOf(s.hostKey, inst))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("seal: shredded: %w", err)
}

// moveKeys moves the key records a store of the older layout (or a backup
// of one) keeps among its records into the key store, then deletes them
// from the records and compacts. An installation's keys move only when the
// key store knows nothing of it: keys it holds win, and a tombstone keeps
// destroyed keys destroyed. A crash midway is finished by the next Open.
func (s *Store) moveKeys(ctx context.Context) error {
	if !s.apart() {
		return nil
	}
	var found []storage.Record
	for _, p := range []string{prefixHost, prefixKeys, prefixShred} {
		err := s.scanIn(ctx, s.b, p, storage.PrefixEnd(p), func(rec storage.Record) error {
			found = append(found, rec)
			return nil
		})
		if err != nil {
			return fmt.Errorf("seal: move keys: %w", err)
		}
	}
	if len(found) == 0 {
		return nil
	}
	known := map[string]bool{} // tag -> the key store has keys or a tombstone
	knows := func(tag string) (bool, error) {
		if k, ok := known[tag]; ok {
			return k, nil
		}
		var n int
		for _, p := range []string{prefixKeys + tag, prefixShred + tag} {
			recs, err := s.kb.Scan(ctx, p, storage.PrefixEnd(p), 1)
			if err != nil {
				return false, err
			}
			n += len(recs)
		}
		known[tag] = n > 0
		return n > 0, nil
	}
	hostKnown := true
	if _, err := s.kb.Get(ctx, hostNameKey); errors.Is(err, storage.ErrNotFound) {
		hostKnown = false
	} else if err != nil {
		return fmt.Errorf("seal: move keys: %w", err)
	}
	var moves, drops []storage.Write
	var conds []storage.Precondition
	for _, rec := range found {
		drops = append(drops, storage.Write{Key: rec.Key, Delete: true})
		if rec.Damaged {
			continue
		}
		move := false
		switch {
		case rec.Key == hostNameKey:
			move = !hostKnown
		case rec.Key[0] == prefixKeys[0] || rec.Key[0] == prefixShred[0]:
			if len(rec.Key) < 1+tagSize {
				continue
			}
			k, err := knows(rec.Key[1 : 1+tagSize])
			if err != nil {
				return fmt.Errorf("seal: move keys: %w", err)
			}
			move = !k
		}
		if move {
			moves = append(moves, storage.Write{Key: rec.Key, Value: rec.Value})
			conds = append(conds, storage.Precondition{Key: rec.Key, Absent: true})
		}
	}
	if len(moves) > 0 {
		if err := s.kb.Apply(ctx, moves, conds...); err != nil {
			return fmt.Errorf("seal: move keys into the key store: %w", err)
		}
	}
	if err := s.b.Apply(ctx, drops); err != nil {
		return fmt.Errorf("seal: move keys: %w", err)
	}
	return s.Compact(ctx)
}

// checkMark refuses records restored beside another key store and marks
// records that have no mark yet. Open calls it (with a key store) after
// moveKeys and before loadHostKey, which would otherwise make a new host
// key in an empty key store; then again with the host key loaded.
func (s *Store) checkMark(ctx context.Context, loaded bool) error {
	if !s.apart() {
		return nil
	}
	rec, err := s.b.Get(ctx, keyStoreMark)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("seal: open: %w", err)
	}
	marked := err == nil
	if !loaded {
		if !marked {
			return nil
		}
		if _, err := s.kb.Get(ctx, hostNameKey); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: the key store is empty", ErrKeyStoreMismatch)
		} else if err != nil {
			return fmt.Errorf("seal: open: %w", err)
		}
		return nil
	}
	m := hmac.New(sha256.New, s.hostKey)
	m.Write([]byte("chatbridge/seal/v1 key store"))
	want := m.Sum(nil)[:16]
	if marked {
		if !hmac.Equal(rec.Value, want) {
			return ErrKeyStoreMismatch
		}
		return nil
	}
	if err := s.b.Set(ctx, keyStoreMark, want, time.Time{}); err != nil {
		return fmt.Errorf("seal: open: %w", err)
	}
	return nil
}
