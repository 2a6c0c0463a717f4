package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// BenchOpen returns a new, empty backend for one benchmark.
type BenchOpen func(b *testing.B) storage.Backend

var value1K = make([]byte, 1024)

// Bench runs the same benchmarks against any backend, so that backends can
// be compared row by row: Get of one of 1,000 records of 1 KB; Set of a
// 1 KB record, acknowledged durable, from 1 and from 16 goroutines; Scan of
// 100 records from a range of 1,000.
func Bench(b *testing.B, open BenchOpen) {
	ctx := context.Background()
	fill := func(b *testing.B, d storage.Backend) {
		var ws []storage.Write
		for i := 0; i < 1000; i++ {
			ws = append(ws, storage.Write{Key: fmt.Sprintf("key%09d", i), Value: value1K})
			if len(ws) == 100 {
				if err := d.Apply(ctx, ws); err != nil {
					b.Fatal(err)
				}
				ws = ws[:0]
			}
		}
	}
	b.Run("Get", func(b *testing.B) {
		d := open(b)
		fill(b, d)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := d.Get(ctx, fmt.Sprintf("key%09d", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("Set/writers=%d", writers), func(b *testing.B) {
			d := open(b)
			b.ReportAllocs()
			RunWriters(b, writers, func(i int) error {
				return d.Set(ctx, fmt.Sprintf("key%09d", i), value1K, time.Time{})
			})
		})
	}
	b.Run("Scan100of1000", func(b *testing.B) {
		d := open(b)
		fill(b, d)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			from := fmt.Sprintf("key%09d", (i*100)%900)
			recs, err := d.Scan(ctx, from, "", 100)
			if err != nil || len(recs) != 100 {
				b.Fatalf("Scan: %d records, %v", len(recs), err)
			}
		}
	})
}

// RunWriters calls write b.N times, for i from 0, from the given number of
// goroutines: the shape of every concurrent-writer benchmark.
func RunWriters(b *testing.B, writers int, write func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
