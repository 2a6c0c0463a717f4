package etcd

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseBucket is how far past a record's expiry its lease may run, so that
// records expiring close together share one lease: one second for TTLs under
// two minutes, then the power of two nearest below a sixtieth of the TTL, at
// most 2048 s (34 minutes). Powers of two keep the bucket the same while a
// TTL counts down. Reads never serve a record past its own expiry (kept in
// the value); the bucket only delays when etcd deletes it.
func leaseBucket(ttl time.Duration) int64 {
	b := int64(1)
	for n := int64(ttl / time.Second / 60); b*2 <= n && b < 2048; {
		b *= 2
	}
	return b
}

// leases grants and caches one lease per expiry second: a write attaches its
// record to the lease that ends at or after its expiry, instead of granting
// one lease per write.
type leases struct {
	lease clientv3.Lease

	// mu guards byEnd: leases by the Unix second they end at, each granted
	// once (waiters share the grant).
	mu    sync.Mutex
	byEnd map[int64]*leaseGrant
	// grants counts Grant calls (for tests and benchmarks).
	grants int
}

type leaseGrant struct {
	done chan struct{} // closed when id or err is set
	id   clientv3.LeaseID
	err  error
}

func newLeases(l clientv3.Lease) *leases {
	return &leases{lease: l, byEnd: make(map[int64]*leaseGrant)}
}

// forExpiry returns a lease that ends at or after expires (Unix seconds),
// and the end second it is cached under.
func (ls *leases) forExpiry(ctx context.Context, expires int64, now time.Time) (clientv3.LeaseID, int64, error) {
	ttl := time.Unix(expires, 0).Sub(now)
	b := leaseBucket(ttl)
	end := (expires + b - 1) / b * b
	ls.mu.Lock()
	g, ok := ls.byEnd[end]
	if !ok {
		g = &leaseGrant{done: make(chan struct{})}
		ls.byEnd[end] = g
		ls.grants++
		ls.pruneLocked(now)
	}
	ls.mu.Unlock()
	if !ok {
		// The lease's TTL counts from when the leader grants it, which is
		// after now: it cannot end before end. etcd raises TTLs below its
		// minimum (about 1.5 s with default timings), which only delays.
		secs := ceilUnix(time.Unix(end, 0)) - now.Unix()
		if secs < 1 {
			secs = 1
		}
		resp, err := ls.lease.Grant(ctx, secs+1)
		if err != nil {
			g.err = failed("grant lease", err)
			ls.forget(end, g)
		} else {
			g.id = clientv3.LeaseID(resp.ID)
		}
		close(g.done)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	return g.id, end, g.err
}

// forget drops the cached lease ending at end if it is still g: after a
// failed grant, or when etcd no longer knows the lease.
func (ls *leases) forget(end int64, g *leaseGrant) {
	ls.mu.Lock()
	if ls.byEnd[end] == g {
		delete(ls.byEnd, end)
	}
	ls.mu.Unlock()
}

// forgetEnd drops the cached lease ending at end, whichever it is.
func (ls *leases) forgetEnd(end int64) {
	ls.mu.Lock()
	delete(ls.byEnd, end)
	ls.mu.Unlock()
}

// pruneLocked drops leases that have ended. Callers hold mu.
func (ls *leases) pruneLocked(now time.Time) {
	if len(ls.byEnd) < 64 {
		return
	}
	cut := now.Unix()
	for end := range ls.byEnd {
		if end <= cut {
			delete(ls.byEnd, end)
		}
	}
}

// count returns how many leases were granted.
func (ls *leases) count() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.grants
}
