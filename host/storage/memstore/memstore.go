package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Store keeps records in a map; expiry is checked on read.
type Store struct {
	mu   sync.Mutex // guards recs
	recs map[string]memRec
}

// memRec is one record and its expiry (zero: none).
type memRec struct {
	v   []byte
	exp time.Time
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{recs: map[string]memRec{}} }

func memKey(inst string, sp storage.Keyspace, key string) string {
	return inst + "\x00" + string(rune('0'+sp)) + "\x00" + key
}

// Get implements storage.Store.
func (s *Store) Get(_ context.Context, inst string, sp storage.Keyspace, key string) ([]byte, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[memKey(inst, sp, key)]
	if !ok || (!r.exp.IsZero() && time.Now().After(r.exp)) {
		return nil, storage.ErrNotFound
	}
	return slices.Clone(r.v), nil
}

// Set implements storage.Store.
func (s *Store) Set(_ context.Context, inst string, sp storage.Keyspace, key string, v []byte, ttl time.Duration) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	if err := storage.ValidateValue(v); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := memRec{v: slices.Clone(v)}
	if ttl > 0 {
		r.exp = time.Now().Add(ttl)
	}
	s.recs[memKey(inst, sp, key)] = r
	return nil
}

// Delete implements storage.Store.
func (s *Store) Delete(_ context.Context, inst string, sp storage.Keyspace, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, memKey(inst, sp, key))
	return nil
}

// Query implements storage.Store.
func (s *Store) Query(_ context.Context, inst string, sp storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error) {
	if sp == storage.Secret {
		return storage.Page{}, storage.ErrDenied
	}
	limit, err := storage.QueryLimit(limit)
	if err != nil {
		return storage.Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	base := memKey(inst, sp, "")
	var keys []string
	for k := range s.recs {
		if rest, ok := strings.CutPrefix(k, base); ok && strings.HasPrefix(rest, prefix) && rest > cursor {
			keys = append(keys, rest)
		}
	}
	sort.Strings(keys)
	var p storage.Page
	for i, k := range keys {
		if i == limit {
			p.NextCursor = keys[i-1]
			break
		}
		p.Entries = append(p.Entries, storage.Entry{Key: k, Value: slices.Clone(s.recs[base+k].v)})
	}
	return p, nil
}

// Purge implements storage.Store.
func (s *Store) Purge(_ context.Context, inst string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.recs {
		if strings.HasPrefix(k, inst+"\x00") {
			delete(s.recs, k)
		}
	}
	return nil
}

// Close implements storage.Store.
func (s *Store) Close() error { return nil }

var _ storage.Transactor = (*Store)(nil)

// Transact implements storage.Transactor under the store's one lock.
func (s *Store) Transact(_ context.Context, inst string, ops []storage.TxnOp) error {
	if err := storage.ValidateTxn(ops); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, op := range ops {
		r, ok := s.recs[memKey(inst, op.Space, op.Key)]
		live := ok && (r.exp.IsZero() || !now.After(r.exp))
		var holds bool
		switch op.Cond {
		case storage.Always:
			holds = true
		case storage.IfAbsent:
			holds = !live
		case storage.IfExists:
			holds = live
		case storage.IfEquals:
			holds = live && string(r.v) == string(op.Expect)
		}
		if !holds {
			return fmt.Errorf("memstore: %w: %s", storage.ErrConflict, op.Cond)
		}
	}
	for _, op := range ops {
		k := memKey(inst, op.Space, op.Key)
		switch op.Kind {
		case storage.TxnSet:
			r := memRec{v: slices.Clone(op.Value)}
			if op.TTL > 0 {
				r.exp = now.Add(op.TTL)
			}
			s.recs[k] = r
		case storage.TxnDelete:
			delete(s.recs, k)
		}
	}
	return nil
}
