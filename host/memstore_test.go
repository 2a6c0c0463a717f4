package host_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// memStore is a storage.Store in memory with the contract's limits, for the
// host's tests that are about the runtime rather than the store.
type memStore struct {
	mu   sync.Mutex // guards recs
	recs map[string]memRec
}

type memRec struct {
	v   []byte
	exp time.Time
}

func newMemStore() *memStore { return &memStore{recs: map[string]memRec{}} }

func memKey(inst string, sp storage.Keyspace, key string) string {
	return inst + "\x00" + string(rune('0'+sp)) + "\x00" + key
}

func (s *memStore) Get(_ context.Context, inst string, sp storage.Keyspace, key string) ([]byte, error) {
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

func (s *memStore) Set(_ context.Context, inst string, sp storage.Keyspace, key string, v []byte, ttl time.Duration) error {
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

func (s *memStore) Delete(_ context.Context, inst string, sp storage.Keyspace, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, memKey(inst, sp, key))
	return nil
}

func (s *memStore) Query(_ context.Context, inst string, sp storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error) {
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

func (s *memStore) Purge(_ context.Context, inst string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.recs {
		if strings.HasPrefix(k, inst+"\x00") {
			delete(s.recs, k)
		}
	}
	return nil
}

func (s *memStore) Close() error { return nil }
