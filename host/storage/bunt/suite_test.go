package bunt

import (
	"path/filepath"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/storagetest"
)

// TestBackendContract runs the suite every storage.Backend passes.
func TestBackendContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "db"))
	})
}

// BenchmarkBackend runs the benchmarks every backend runs (see
// storagetest.Bench), to set beside the etcd backend's.
func BenchmarkBackend(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) storage.Backend {
		return open(b, filepath.Join(b.TempDir(), "db"))
	})
}

// TestTransactContract runs storage.Transactor's suite on a sealed store
// over BuntDB.
func TestTransactContract(t *testing.T) {
	storagetest.RunTransact(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "db"))
	})
}
