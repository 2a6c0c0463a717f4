package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Inspected is one record of an installation's keyspace as it is on disk
// and as it opens.
type Inspected struct {
	// RawKey and Sealed are the backend's key and value, as stored.
	RawKey string
	Sealed []byte
	// Key and Value are the record opened; empty when Err is set.
	Key   string
	Value []byte
	// Expires is when the record expires; zero means never.
	Expires time.Time
	// Err is why the record did not open (it wraps storage.ErrIntegrity).
	Err error
}

// Inspect calls fn for every live record of inst in space, in raw key order,
// with its sealed bytes beside its opened key and value, for development
// tools that show what sealing does. Secret records open too: Inspect is
// not for anything a module or an operator in production reaches.
func (s *Store) Inspect(ctx context.Context, inst string, space storage.Keyspace, fn func(Inspected) error) error {
	if err := checkSpace(space); err != nil {
		return err
	}
	_, r, err := s.ring(ctx, inst, false)
	if err != nil || r == nil {
		return err
	}
	from := r.rawPath(space, nil)
	return s.scan(ctx, from, storage.PrefixEnd(from), func(rec storage.Record) error {
		in := Inspected{RawKey: rec.Key, Sealed: rec.Value, Expires: rec.Expires}
		if rec.Damaged {
			in.Err = integrity("record damaged on disk")
			return fn(in)
		}
		o, err := r.openName(space, rec.Key, rec.Value)
		if err == nil {
			if s.expired(o.expires) {
				return nil
			}
			in.Key = o.name
			in.Value, err = r.openValue(o)
		}
		if err != nil {
			if !errors.Is(err, storage.ErrIntegrity) {
				err = fmt.Errorf("%w: %v", storage.ErrIntegrity, err)
			}
			in.Err, in.Key, in.Value = err, "", nil
		}
		return fn(in)
	})
}
