package seal

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/chatbridge/chatbridge/host/storage"
)

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
	s.counts.Add(space, storage.OpQuery)
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
	return s.scanIn(ctx, s.b, from, to, fn)
}

// scanIn is scan over backend b (the records' or the keys').
func (s *Store) scanIn(ctx context.Context, b storage.Backend, from, to string, fn func(storage.Record) error) error {
	for {
		recs, err := b.Scan(ctx, from, to, s.cfg.ScanBatch)
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
