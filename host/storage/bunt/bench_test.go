package bunt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/storagetest"
	"github.com/tidwall/buntdb"
)

var value1K = make([]byte, 1024)

// BenchmarkSet_Durability compares, for 1 KB values and one write per
// transaction: this package (group commit, acknowledged after fsync), the
// same without fsync (what durability costs), and plain BuntDB with
// SyncPolicy Always and Never.
func BenchmarkSet_Durability(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d/GroupCommit", writers), func(b *testing.B) {
			d := open(b, filepath.Join(b.TempDir(), "db"))
			b.ReportAllocs()
			storagetest.RunWriters(b, writers, func(i int) error {
				return d.Set(ctx, fmt.Sprintf("key%09d", i), value1K, time.Time{})
			})
			b.StopTimer()
			s := d.Stats()
			b.ReportMetric(float64(s.Writes)/float64(max(s.Syncs, 1)), "writes/fsync")
		})
		b.Run(fmt.Sprintf("writers=%d/NoFsync", writers), func(b *testing.B) {
			d := open(b, filepath.Join(b.TempDir(), "db"))
			d.noSync = true
			b.ReportAllocs()
			storagetest.RunWriters(b, writers, func(i int) error {
				return d.Set(ctx, fmt.Sprintf("key%09d", i), value1K, time.Time{})
			})
		})
		for _, policy := range []buntdb.SyncPolicy{buntdb.Always, buntdb.Never} {
			name := map[buntdb.SyncPolicy]string{buntdb.Always: "BuntDBAlways", buntdb.Never: "BuntDBNever"}[policy]
			b.Run(fmt.Sprintf("writers=%d/%s", writers, name), func(b *testing.B) {
				db, err := buntdb.Open(filepath.Join(b.TempDir(), "raw"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				db.SetConfig(buntdb.Config{SyncPolicy: policy, AutoShrinkDisabled: true})
				val := string(value1K)
				b.ReportAllocs()
				storagetest.RunWriters(b, writers, func(i int) error {
					return db.Update(func(tx *buntdb.Tx) error {
						_, _, err := tx.Set(fmt.Sprintf("key%09d", i), val, nil)
						return err
					})
				})
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	d := open(b, filepath.Join(b.TempDir(), "db"))
	for i := 0; i < 1000; i++ {
		mustSet(b, d, fmt.Sprintf("key%09d", i), string(value1K))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Get(ctx, fmt.Sprintf("key%09d", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompact(b *testing.B) {
	d := open(b, filepath.Join(b.TempDir(), "db"))
	for i := 0; i < 10000; i += 100 {
		var ws []storage.Write
		for j := i; j < i+100; j++ {
			ws = append(ws, storage.Write{Key: fmt.Sprintf("key%09d", j), Value: value1K})
		}
		if err := d.Apply(ctx, ws); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
