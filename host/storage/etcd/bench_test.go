package etcd

import (
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/storagetest"
)

// BenchmarkBackend runs the benchmarks every backend runs (see
// storagetest.Bench) on a three-member cluster on loopback, to set beside
// BuntDB's.
func BenchmarkBackend(b *testing.B) {
	c := etcdtest.Start(b, 3)
	storagetest.Bench(b, func(b *testing.B) storage.Backend { return openOn(b, c, Config{}) })
}
