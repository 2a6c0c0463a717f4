package etcd

import (
	"context"
	"errors"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A call the cluster could not complete for now is storage.ErrUnavailable,
// which the module retries; anything else is not.
func TestFailed_MarksWhatIsWorthRetryingUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err       error
		transient bool
	}{
		{status.Error(codes.Unavailable, "error reading from server: connection reset by peer"), true},
		{status.Error(codes.DeadlineExceeded, "deadline"), true},
		{context.DeadlineExceeded, true},
		{rpctypes.ErrGRPCNoLeader, true},
		{rpctypes.ErrGRPCLeaderChanged, true},
		{rpctypes.ErrGRPCPermissionDenied, false},
		{rpctypes.ErrGRPCRequestTooLarge, false},
		{errors.New("something else"), false},
	} {
		err := failed("write", tt.err)
		if got := errors.Is(err, storage.ErrUnavailable); got != tt.transient {
			t.Errorf("%v: unavailable %v, want %v", tt.err, got, tt.transient)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: the cause is lost: %v", tt.err, err)
		}
	}
}
