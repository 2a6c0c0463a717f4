package seal

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

// plainStore is the baseline: the same BuntDB backend and durability, keys
// and values in the clear.
type plainStore struct{ b *bunt.DB }

func plainKey(inst string, space storage.Keyspace, key string) string {
	return inst + "\x00" + string(rune('0'+space)) + key
}

func (p plainStore) Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error) {
	rec, err := p.b.Get(ctx, plainKey(inst, space, key))
	return rec.Value, err
}

func (p plainStore) Set(ctx context.Context, inst string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error {
	return p.b.Set(ctx, plainKey(inst, space, key), value, time.Time{})
}

func (p plainStore) Query(ctx context.Context, inst string, space storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error) {
	from := plainKey(inst, space, prefix)
	if cursor != "" {
		from = plainKey(inst, space, cursor) + "\x00"
	}
	recs, err := p.b.Scan(ctx, from, storage.PrefixEnd(plainKey(inst, space, prefix)), limit+1)
	var page storage.Page
	for i, r := range recs {
		k := r.Key[len(plainKey(inst, space, "")):]
		if i == limit {
			page.NextCursor = page.Entries[limit-1].Key
			break
		}
		page.Entries = append(page.Entries, storage.Entry{Key: k, Value: r.Value})
	}
	return page, err
}

type benchStore interface {
	Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error)
	Set(ctx context.Context, inst string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error
	Query(ctx context.Context, inst string, space storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error)
}

// benchStores runs fn on a plain and on a sealed store, each on a new file
// filled with 1,000 chat mappings and 1,000 issue mappings of 256-byte values.
func benchStores(b *testing.B, fn func(b *testing.B, s benchStore)) {
	value := []byte(strings.Repeat("v", 256))
	fill := func(b *testing.B, s benchStore) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < 1000; i += 16 {
					for _, k := range []string{fmt.Sprintf("chat:%04d", i), fmt.Sprintf("issue:JSM-%d", i)} {
						if err := s.Set(ctx, inst, storage.KVS, k, value, 0); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}
	for _, kind := range []string{"plain", "sealed"} {
		b.Run(kind, func(b *testing.B) {
			db, err := bunt.Open(filepath.Join(b.TempDir(), "db"), bunt.Config{CompactEvery: -1})
			if err != nil {
				b.Fatal(err)
			}
			var s benchStore = plainStore{db}
			if kind == "sealed" {
				ss, err := Open(context.Background(), db, []*MasterKey{testKeys()}, Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer ss.Close()
				s = ss
			} else {
				defer db.Close()
			}
			fill(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			fn(b, s)
		})
	}
}

func BenchmarkGet(b *testing.B) {
	benchStores(b, func(b *testing.B, s benchStore) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if _, err := s.Get(ctx, inst, storage.KVS, fmt.Sprintf("chat:%04d", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSet writes from 16 goroutines: each write is durable (fsynced,
// in groups) before it returns.
func BenchmarkSet(b *testing.B) {
	value := []byte(strings.Repeat("w", 256))
	benchStores(b, func(b *testing.B, s benchStore) {
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Set(ctx, inst, storage.KVS, fmt.Sprintf("chat:%04d", n.Add(1)%1000), value, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkQuery reads the first page of 100 of a 1,000-key prefix.
func BenchmarkQuery(b *testing.B) {
	for _, prefix := range []string{"chat:", "chat:01"} {
		b.Run(fmt.Sprintf("prefix=%s", prefix), func(b *testing.B) {
			benchStores(b, func(b *testing.B, s benchStore) {
				ctx := context.Background()
				for i := 0; i < b.N; i++ {
					p, err := s.Query(ctx, inst, storage.KVS, prefix, "", 100)
					if err != nil || len(p.Entries) != 100 {
						b.Fatalf("%d entries, %v", len(p.Entries), err)
					}
				}
			})
		})
	}
}
