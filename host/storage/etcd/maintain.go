package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// snapshotPage is how many records Snapshot reads per range request.
const snapshotPage = 512

// Snapshot implements storage.Backend: every live record under the prefix,
// read page by page at the revision of the first page, so the copy is
// consistent while writers carry on. A Compact from this DB waits for it; a
// compaction by another client meanwhile makes it fail (retry it).
func (d *DB) Snapshot(ctx context.Context, w io.Writer) error {
	if d.closed.Load() {
		return storage.ErrClosed
	}
	d.compactMu.RLock()
	defer d.compactMu.RUnlock()
	sw := storage.NewSnapshotWriter(w)
	var (
		start = d.cfg.Prefix
		end   = d.rangeEnd("")
		rev   int64
		now   = time.Now()
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(snapshotPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		cctx, cancel, err := d.op(ctx)
		if err != nil {
			return err
		}
		resp, err := d.client.Get(cctx, start, opts...)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd: snapshot: %w", err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			rec, ok := d.record(kv.Key, kv.Value, now)
			if !ok {
				continue
			}
			if rec.Damaged {
				return fmt.Errorf("etcd: snapshot: %w: %q", ErrDamaged, rec.Key)
			}
			if err := sw.Add(rec); err != nil {
				return fmt.Errorf("etcd: snapshot: %w", err)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("etcd: snapshot: %w", err)
	}
	return nil
}

// compactMarker is a key outside every prefix that Compact writes to give
// each member a compaction of its own to wait for. It holds nothing.
const compactMarker = "\x00chatbridge-compact"

// Compact implements storage.Backend as far as etcd allows: it compacts the
// key-value history at the current revision, so that every earlier version
// of every key (deleted ones included) leaves the members' databases, then
// defragments each member so the freed pages leave their files. The
// members' write-ahead logs still hold recent writes until etcd cuts a
// snapshot and drops old segments (see the package documentation). With
// Config.DisableCompact it does nothing.
//
// A compaction is decided through raft but carried out by each member in
// the background, and only the member that took the request waits for it.
// So Compact asks every member in turn, through a connection to that member
// alone, for a compaction at a fresh revision (after a write to a marker
// key): a member carries out its compactions in order, so its answer means
// every earlier one is done there too. Only then does it defragment.
//
// Compaction is cluster-wide: it covers other prefixes too, and a watcher
// of an older revision would have to start over. Defragmenting a member
// blocks its reads and writes while it runs (milliseconds for a small
// database); the others serve meanwhile. A member that cannot be reached
// makes Compact return an error after the others are done.
func (d *DB) Compact(ctx context.Context) error {
	if d.closed.Load() {
		return storage.ErrClosed
	}
	if d.cfg.DisableCompact {
		return nil
	}
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	cctx, cancel, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	members, err := d.client.MemberList(cctx)
	if err != nil {
		return fmt.Errorf("etcd: compact: %w", err)
	}
	var urls []string
	for _, m := range members.Members {
		if len(m.ClientURLs) > 0 {
			urls = append(urls, m.ClientURLs[0])
		}
	}
	var errs []error
	for _, u := range urls {
		if err := d.compactOn(cctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == len(urls) {
		return errors.Join(errs...)
	}
	for _, u := range urls {
		if _, err := d.client.Defragment(cctx, u); err != nil {
			errs = append(errs, fmt.Errorf("etcd: defragment %s: %w", u, err))
		}
	}
	return errors.Join(errs...)
}

// compactOn compacts the history at a new revision through the member at
// url, and returns once that member has carried it out.
func (d *DB) compactOn(ctx context.Context, url string) error {
	c, err := clientv3.New(d.clientConfig([]string{url}))
	if err != nil {
		return fmt.Errorf("etcd: compact through %s: %w", url, err)
	}
	defer c.Close()
	put, err := c.Put(ctx, compactMarker, "")
	if err != nil {
		return fmt.Errorf("etcd: compact through %s: %w", url, err)
	}
	_, err = c.Compact(ctx, put.Header.Revision, clientv3.WithCompactPhysical())
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("etcd: compact through %s: %w", url, err)
	}
	return nil
}
