package stack

import (
	"fmt"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// The native build sees the codes the sandboxed one sees: a cluster's
// failover is unavailable (retried), not internal (given up on).
func TestTheNativeBuildMapsErrorsAsTheHostDoes(t *testing.T) {
	err := fmt.Errorf("etcd: write: %w: no leader", storage.ErrUnavailable)
	if got := codeOf(err); got != abi.Unavailable {
		t.Fatalf("code %v, want unavailable", got)
	}
	if got := codeOf(fmt.Errorf("%w", storage.ErrNotFound)); got != abi.NotFound {
		t.Fatalf("code %v, want not-found", got)
	}
	if codeOf(nil) != nil {
		t.Fatal("no error mapped to an error")
	}
}
