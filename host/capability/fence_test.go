package capability

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// fencedStore is a Store whose writes fail as a lost lane claim's do.
type fencedStore struct{ storage.Store }

func (fencedStore) Set(context.Context, string, storage.Keyspace, string, []byte, time.Duration) error {
	return fmt.Errorf("seal: set (kvs): etcd: write: %w", storage.ErrFenced)
}

// Once a write of an invocation is fenced (the node lost the claim of the
// lane it consumes), the module sees unavailable, which it retries as a
// queue retry, and no outbound request of that invocation reaches the
// outside world any more: the lane's new consumer makes them.
func TestFenced_AWriteFencedOutStopsTheInvocationsOutboundRequests(t *testing.T) {
	rec := newRecorder(t, func(int, *http.Request) (int, http.Header, string) { return 200, nil, tgOK })
	lh := newLimitHost(t, rec.srv, ratelimit.Config{}, nil)
	lh.h.deps.Store = fencedStore{lh.h.deps.Store}
	c := &Call{Installation: "inst-a", InvocationID: "inv", Log: lh.h.deps.Logger}
	ctx := WithCall(context.Background(), c)
	fetch := func(text string) abi.Code {
		req := sendMessage(1001, text)
		b := req.Append(nil)
		if !lh.m.Memory().Write(0, b) {
			t.Fatal("request too large for the test guest")
		}
		code, _ := abi.SplitResult(lh.h.fetch(ctx, lh.m, 0, uint32(len(b))))
		return code
	}
	if code := fetch("before"); code != abi.OK {
		t.Fatalf("fetch before the fenced write: %v", code)
	}
	const keyAt, valAt = 60000, 60100
	if !lh.m.Memory().Write(keyAt, []byte("progress")) || !lh.m.Memory().Write(valAt, []byte("v")) {
		t.Fatal("guest memory")
	}
	if code, _ := abi.SplitResult(lh.h.storageSet(ctx, lh.m, keyAt, 8, valAt, 1, 0)); code != abi.Unavailable {
		t.Fatalf("fenced set: %v, want unavailable", code)
	}
	if code := fetch("after"); code != abi.Unavailable {
		t.Fatalf("fetch after the fenced write: %v, want unavailable", code)
	}
	if got := rec.requests(); len(got) != 1 || got[0].text != "before" {
		t.Fatalf("requests that reached the server: %+v, want the one before the fenced write", got)
	}
}
