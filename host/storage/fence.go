package storage

import (
	"context"
	"errors"
)

// ErrFenced is returned for a write made under a Fence whose claim no
// longer holds: the node that made it lost the claim (its lease lapsed, as
// in a partition) and another node may own it now. Nothing was written.
// It is not a Conflict: trying again cannot succeed under the same fence.
var ErrFenced = errors.New("storage: fenced: the claim this write depends on is lost")

// Fence makes writes depend on a claim in the coordination service that
// the backend shares (on etcd, a lane claim of host/cluster): a backend
// shared by several nodes commits a write made with a fenced context only
// if, at the write's own revision, Key still exists and was created at
// Revision; otherwise the write fails with ErrFenced and nothing of it is
// applied. A claim key is created once per claim and deleted when the claim
// ends (released, or its lease lapsed), so (Key, Revision) names one
// holding of the claim and no later one.
//
// Backends that only one process writes (BuntDB, memstore) have no claims
// to lose: a single-node queue sets no fence, and they ignore one.
type Fence struct {
	// Key is the claim's key in the backend's own namespace: for etcd the
	// whole key, outside the store's prefix.
	Key string
	// Revision is the backend's revision at which the claim's key was
	// created: the fencing token.
	Revision int64
}

// IsZero reports whether f fences nothing.
func (f Fence) IsZero() bool { return f.Key == "" }

type fenceKey struct{}

// WithFence returns ctx whose writes depend on f; a zero f returns ctx.
// A fence replaces any fence ctx already carries.
func WithFence(ctx context.Context, f Fence) context.Context {
	if f.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceOf returns the fence of ctx's writes, if any.
func FenceOf(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}
