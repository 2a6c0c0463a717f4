package etcd

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxConflictRetries bounds how often Apply re-reads preconditions that only
// failed because of records that had expired (or changed back) meanwhile.
const maxConflictRetries = 16

// collapse keeps the last write of each key, in first-seen order: etcd
// refuses a transaction that writes one key twice.
func collapse(writes []storage.Write) []storage.Write {
	if len(writes) < 2 {
		return writes
	}
	idx := make(map[string]int, len(writes))
	ws := make([]storage.Write, 0, len(writes))
	for _, w := range writes {
		if i, ok := idx[w.Key]; ok {
			ws[i] = w
			continue
		}
		idx[w.Key] = len(ws)
		ws = append(ws, w)
	}
	return ws
}

func writeSize(w storage.Write) int { return len(w.Key) + len(w.Value) + headerLen + 16 }

// chunks splits writes into runs that each fit in one transaction.
func (d *DB) chunks(ws []storage.Write) ([][]storage.Write, error) {
	var (
		out   [][]storage.Write
		start int
		size  int
	)
	for i, w := range ws {
		n := writeSize(w)
		if n > d.cfg.MaxTxnBytes {
			return nil, fmt.Errorf("%w: one write of %d bytes, limit %d", ErrTooLarge, n, d.cfg.MaxTxnBytes)
		}
		if i-start == d.cfg.MaxTxnOps || size+n > d.cfg.MaxTxnBytes {
			out = append(out, ws[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, ws[start:]), nil
}

// Apply implements storage.Backend with one etcd transaction: the writes
// commit together, durably on a quorum of members, if every precondition
// holds at that revision.
//
// A batch without preconditions that is larger than one transaction may
// carry (Config.MaxTxnOps, Config.MaxTxnBytes) is written as several
// transactions in order: each is atomic, the whole is not (a reader may see
// the first part, and a failure may leave it written). The sealing layer's
// large batches (range deletes in a purge, restore from a snapshot) are
// idempotent and safe to repeat. A batch with preconditions must fit in one
// transaction, or Apply returns ErrTooLarge.
func (d *DB) Apply(ctx context.Context, writes []storage.Write, conds ...storage.Precondition) error {
	if len(writes) == 0 && len(conds) == 0 {
		return nil
	}
	ws := collapse(writes)
	for _, w := range ws {
		if w.Key == "" {
			return fmt.Errorf("%w: empty key", ErrInvalid)
		}
	}
	ctx, cancel, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	parts, err := d.chunks(ws)
	if err != nil {
		return err
	}
	if _, fenced := storage.FenceOf(ctx); len(conds) > 0 && (len(parts) > 1 || len(conds)+btoi(fenced) > d.cfg.MaxTxnOps) {
		return fmt.Errorf("%w: %d writes and %d preconditions", ErrTooLarge, len(ws), len(conds))
	}
	for _, part := range parts {
		if err := d.commit(ctx, part, conds); err != nil {
			return err
		}
	}
	return nil
}

// commit writes one transaction, retrying when a lease it used has run out.
func (d *DB) commit(ctx context.Context, ws []storage.Write, conds []storage.Precondition) error {
	for attempt := 0; ; attempt++ {
		ops, ends, err := d.ops(ctx, ws)
		if err != nil {
			return err
		}
		err = d.txn(ctx, ops, conds)
		if err == nil || !isLeaseNotFound(err) || attempt == 2 {
			return err
		}
		for _, end := range ends {
			d.leases.forgetEnd(end)
		}
	}
}

// ops turns writes into etcd operations, with the leases they attach to.
func (d *DB) ops(ctx context.Context, ws []storage.Write) ([]clientv3.Op, []int64, error) {
	now := time.Now()
	ops := make([]clientv3.Op, 0, len(ws))
	var ends []int64
	for _, w := range ws {
		key := d.cfg.Prefix + w.Key
		exp := ceilUnix(w.Expires)
		if w.Delete || (exp != 0 && !w.Expires.After(now)) {
			ops = append(ops, clientv3.OpDelete(key))
			continue
		}
		val := string(encodeValue(exp, w.Value))
		if exp == 0 {
			// A put without a lease also detaches the key from an earlier one.
			ops = append(ops, clientv3.OpPut(key, val))
			continue
		}
		id, end, err := d.leases.forExpiry(ctx, exp, now)
		if err != nil {
			return nil, nil, err
		}
		ends = append(ends, end)
		ops = append(ops, clientv3.OpPut(key, val, clientv3.WithLease(id)))
	}
	return ops, ends, nil
}

// txn commits ops if conds hold. The first attempt compares what etcd can
// compare directly: absent (no live revision) and an exact value with no
// expiry. When that fails, the transaction's else branch has read each
// precondition's key at the same revision; if the conditions do hold there
// once expiry is taken into account (a record that has expired but that
// etcd has not yet deleted counts as absent), the next attempt compares
// those keys' revisions instead.
func (d *DB) txn(ctx context.Context, ops []clientv3.Op, conds []storage.Precondition) error {
	cmps := make([]clientv3.Cmp, len(conds))
	gets := make([]clientv3.Op, len(conds))
	for i, c := range conds {
		key := d.cfg.Prefix + c.Key
		if c.Absent {
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			cmps[i] = clientv3.Compare(clientv3.Value(key), "=", string(encodeValue(0, c.Value)))
		}
		gets[i] = clientv3.OpGet(key)
	}
	fcmp, fget, f, fenced := fence(ctx)
	if fenced {
		cmps, gets = append(cmps, fcmp), append(gets, fget)
	}
	for attempt := 0; ; attempt++ {
		resp, err := d.client.Txn(ctx).If(cmps...).Then(ops...).Else(gets...).Commit()
		if err != nil {
			if d.cache != nil {
				// The write may have landed, at a revision not known here.
				d.cache.forget(opKeys(ops))
			}
			return failed("write", err)
		}
		if resp.Succeeded {
			if d.cache != nil && changed(ops, resp) {
				// Read your writes: cached reads wait for the watch to
				// deliver this revision.
				d.cache.observe(resp.Header.Revision)
			}
			return nil
		}
		if fenced {
			if err := fenceLost(resp.Responses[len(conds)].GetResponseRange().Kvs, f); err != nil {
				return err
			}
		}
		if attempt == maxConflictRetries {
			return storage.ErrConflict
		}
		now := time.Now()
		for i, c := range conds {
			kvs := resp.Responses[i].GetResponseRange().Kvs
			present, same := false, false
			var modRev int64
			if len(kvs) == 1 {
				modRev = kvs[0].ModRevision
				if d.cache != nil {
					d.cache.observe(modRev)
				}
				exp, payload, ok := decodeValue(kvs[0].Value)
				if !ok {
					present = true
				} else if live(exp, now) {
					present = true
					same = bytes.Equal(payload, c.Value)
				}
			}
			if c.Absent && present || !c.Absent && !same {
				return storage.ErrConflict
			}
			key := d.cfg.Prefix + c.Key
			if modRev == 0 {
				cmps[i] = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
			} else {
				cmps[i] = clientv3.Compare(clientv3.ModRevision(key), "=", modRev)
			}
		}
	}
}

// opKeys are the keys ops write.
func opKeys(ops []clientv3.Op) []string {
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = string(op.KeyBytes())
	}
	return keys
}

// changed reports whether a transaction that succeeded changed a record,
// and so made a revision of its own under the prefix: a put always does,
// a delete only of a key that existed.
func changed(ops []clientv3.Op, resp *clientv3.TxnResponse) bool {
	for i, op := range ops {
		if op.IsPut() {
			return true
		}
		if i < len(resp.Responses) {
			if dr := resp.Responses[i].GetResponseDeleteRange(); dr != nil && dr.Deleted > 0 {
				return true
			}
		}
	}
	return false
}
