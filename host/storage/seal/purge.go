package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Purge implements storage.Store: it is Shred without the report.
func (s *Store) Purge(ctx context.Context, inst string) error {
	_, err := s.Shred(ctx, inst)
	return err
}

// Shred implements storage.Shredder: it destroys the installation's keys
// first, in one atomic write that leaves a tombstone of its tag in the key
// store (its records are unreadable from then on, in the live store and,
// with Config.KeyStore, in every earlier backup), then deletes its records,
// then compacts both backends so nothing of it stays in their files. A
// marker written first lets Open finish a purge a crash interrupted. The
// report lists the key records destroyed, by fingerprint.
func (s *Store) Shred(ctx context.Context, inst string) (storage.Shredding, error) {
	rep := storage.Shredding{Installation: inst, Apart: s.apart()}
	if len(inst) > MaxInstallationLen {
		return rep, fmt.Errorf("%w: %d bytes", ErrInvalidInstallation, len(inst))
	}
	e := s.entry(inst)
	e.mu.Lock()
	defer e.mu.Unlock()
	tag := tagOf(s.hostKey, inst)
	rep.Tag = fmt.Sprintf("%x", tag)
	if err := s.b.Set(ctx, prefixPurge+tag, []byte{1}, time.Time{}); err != nil {
		return rep, fmt.Errorf("seal: purge: %w", err)
	}
	e.ring.Store(nil)
	e.loaded.Store(true)
	keys, err := s.purgeTag(ctx, tag)
	if err != nil {
		return rep, err
	}
	rep.Keys, rep.At = keys, s.cfg.Now().UTC()
	if err := s.Compact(ctx); err != nil {
		return rep, fmt.Errorf("seal: purge: %w", err)
	}
	return rep, nil
}

// purgeTag destroys the keys of the installation with tag (leaving its
// tombstone), deletes its records, then its marker, and returns the key
// records it destroyed.
func (s *Store) purgeTag(ctx context.Context, tag string) ([]storage.DestroyedKey, error) {
	keys, err := s.destroyKeys(ctx, tag)
	if err != nil {
		return nil, fmt.Errorf("seal: purge: %w", err)
	}
	p := prefixRecords + tag
	if _, err := s.deleteRange(ctx, s.b, p, storage.PrefixEnd(p), nil); err != nil {
		return nil, fmt.Errorf("seal: purge: %w", err)
	}
	if err := s.b.Delete(ctx, prefixPurge+tag); err != nil {
		return nil, fmt.Errorf("seal: purge: %w", err)
	}
	return keys, nil
}

// deleteRange deletes the records in [from, to) that keep approves (nil:
// all), a batch at a time, and returns how many.
func (s *Store) deleteRange(ctx context.Context, b storage.Backend, from, to string, keep func(storage.Record) (bool, error)) (int, error) {
	n := 0
	for {
		recs, err := b.Scan(ctx, from, to, s.cfg.ScanBatch)
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
			if err := b.Apply(ctx, ws); err != nil {
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
		if _, err := s.purgeTag(ctx, rec.Key[len(prefixPurge):]); err != nil {
			return err
		}
	}
	if len(recs) > 0 {
		return s.Compact(ctx)
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
	n, err := s.deleteRange(ctx, s.b, from, storage.PrefixEnd(from), func(rec storage.Record) (bool, error) {
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
