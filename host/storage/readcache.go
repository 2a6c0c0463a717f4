package storage

import "context"

type readCacheKey struct{}

// WithReadCache says whether a Get made with the returned context may be
// answered from the backend's read cache (a backend without one ignores
// it). A cached answer is not linearizable: it may miss a write another
// host made moments ago, though never one this host made, and never one
// older than the cache's staleness bound (see host/storage/etcd, "Read
// cache"). Only records a little staleness cannot harm may be read so:
// the host marks installation records and secrets, and the module keys
// Config.CachedKeys names (its configuration and chat mapping); dedupe
// claims, the queue, transactions and every write always go to the
// backend.
func WithReadCache(ctx context.Context, allowed bool) context.Context {
	return context.WithValue(ctx, readCacheKey{}, allowed)
}

// ReadCacheAllowed reports whether ctx allows a cached read (WithReadCache).
func ReadCacheAllowed(ctx context.Context) bool {
	ok, _ := ctx.Value(readCacheKey{}).(bool)
	return ok
}
