package etcd

import (
	"context"
	"fmt"

	"github.com/chatbridge/chatbridge/host/storage"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// fence is the comparison that keeps a transaction made with ctx's fence
// (storage.WithFence) from committing once the claim is lost, and the read
// that tells a lost claim from a failed precondition. ok is false when ctx
// carries no fence.
//
// The comparison is the one etcd's own mutex gives its holder
// (concurrency.Mutex.IsOwner): the claim's key still has the creation
// revision it had when it was claimed. A key deleted (its lease lapsed, or
// released) and created again, by this node or another, has a newer one.
func fence(ctx context.Context) (cmp clientv3.Cmp, get clientv3.Op, f storage.Fence, ok bool) {
	f, ok = storage.FenceOf(ctx)
	if !ok {
		return cmp, get, f, false
	}
	return clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Revision),
		clientv3.OpGet(f.Key, clientv3.WithKeysOnly()), f, true
}

// fenceLost reports whether the else branch's read of the claim's key
// shows the claim gone, and returns the error for it.
func fenceLost(kvs []*mvccpb.KeyValue, f storage.Fence) error {
	if len(kvs) == 1 && kvs[0].CreateRevision == f.Revision {
		return nil
	}
	return fmt.Errorf("etcd: write: %w", storage.ErrFenced)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
