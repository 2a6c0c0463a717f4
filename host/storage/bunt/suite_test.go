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
