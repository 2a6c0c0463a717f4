package capability

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// A storage call the backend could not complete for now (a cluster's
// failover) reaches the module as unavailable, which it retries, not as
// internal, which it takes as permanent.
func TestCodeOf_AnUnavailableStoreIsUnavailableToTheModule(t *testing.T) {
	c := &Call{Log: slog.New(slog.DiscardHandler)}
	err := fmt.Errorf("seal: set (kvs): etcd: write: %w: connection reset by peer", storage.ErrUnavailable)
	if got := codeOf(c, "storage.set", err); got != abi.Unavailable {
		t.Fatalf("code %v, want unavailable", got)
	}
	if got := codeOf(c, "storage.set", fmt.Errorf("something else")); got != abi.Internal {
		t.Fatalf("code %v, want internal", got)
	}
}
