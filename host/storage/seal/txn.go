package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/chatbridge/chatbridge/host/storage"
)

// maxTxnAttempts bounds how often Transact evaluates its conditions again
// after the backend refused the batch because a record it read changed
// before the commit.
const maxTxnAttempts = 8

var _ storage.Transactor = (*Store)(nil)

// Transact implements storage.Transactor. Conditions are judged on
// plaintext (an expired record is absent; IfEquals compares the opened
// value), but enforced on the sealed bytes: each condition's key is read,
// opened and judged, and the backend's batch is made conditional on the
// raw record being still exactly the one judged (or still absent), so that
// a write between the read and the commit makes the backend refuse the
// batch, and the conditions are judged again on what it wrote. An IfAbsent
// key is first tried without a read (absent in the backend too), and read
// only if that fails: the record may be present but expired, which counts
// as absent.
func (s *Store) Transact(ctx context.Context, inst string, ops []storage.TxnOp) error {
	if err := storage.ValidateTxn(ops); err != nil {
		return err
	}
	s.counts.Add(ops[0].Space, storage.OpTransact)
	writes := false
	for _, op := range ops {
		writes = writes || op.Kind != storage.TxnCheck
	}
	for attempt := 0; ; attempt++ {
		err := s.transact(ctx, inst, ops, writes, attempt > 0)
		if !errors.Is(err, errRaced) {
			return err
		}
		if attempt+1 == maxTxnAttempts {
			return fmt.Errorf("seal: transact: %w: records kept changing", storage.ErrConflict)
		}
	}
}

// errRaced is a batch the backend refused: a record judged changed meanwhile.
var errRaced = errors.New("seal: raced")

// transact makes one attempt; read makes it read every condition's key.
func (s *Store) transact(ctx context.Context, inst string, ops []storage.TxnOp, writes, read bool) error {
	e, r, err := s.ring(ctx, inst, writes)
	if err != nil {
		return err
	}
	if writes {
		e.mu.RLock()
		defer e.mu.RUnlock()
		if r = e.ring.Load(); r == nil { // purged meanwhile
			return errRaced
		}
	}
	var (
		batch []storage.Write
		conds []storage.Precondition
	)
	for _, op := range ops {
		var raw string
		if r != nil {
			raw = r.rawKey(op.Space, op.Key)
		}
		if op.Cond != storage.Always {
			pre, err := s.judge(ctx, e, r, op, raw, read)
			if err != nil {
				return err
			}
			if r != nil {
				conds = append(conds, pre)
			}
		}
		switch op.Kind {
		case storage.TxnSet:
			n, at := s.expiry(op.TTL)
			batch = append(batch, storage.Write{Key: raw, Value: r.seal(op.Space, raw, op.Key, op.Value, n), Expires: at})
		case storage.TxnDelete:
			if r != nil {
				batch = append(batch, storage.Write{Key: raw, Delete: true})
			}
		}
	}
	if r == nil {
		return nil // no keys: nothing stored, every condition judged absent
	}
	err = s.b.Apply(ctx, batch, conds...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrConflict):
		return errRaced
	}
	return fmt.Errorf("seal: transact: %w", err)
}

// judge evaluates op's condition and returns the backend precondition that
// keeps it true until the commit. Without read, an IfAbsent condition is
// not read: the precondition that the raw key is absent implies it.
func (s *Store) judge(ctx context.Context, e *ringEntry, r *keyring, op storage.TxnOp, raw string, read bool) (storage.Precondition, error) {
	if r == nil { // no keys, so no record
		if op.Cond == storage.IfAbsent {
			return storage.Precondition{}, nil
		}
		return storage.Precondition{}, fmt.Errorf("seal: transact: %w: %s", storage.ErrConflict, op.Cond)
	}
	if op.Cond == storage.IfAbsent && !read {
		return storage.Precondition{Key: raw, Absent: true}, nil
	}
	present, val, pre := false, []byte(nil), storage.Precondition{Key: raw, Absent: true}
	// Never from a read cache: the value read becomes the precondition
	// the backend compares, and a stale one would fail the transaction.
	rec, err := s.b.Get(storage.WithReadCache(ctx, false), raw)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return pre, fmt.Errorf("seal: transact (%s): %w", op.Space, err)
	default:
		pre = storage.Precondition{Key: raw, Value: rec.Value}
		val, err = s.open(r, op.Space, raw, op.Key, rec.Value)
		switch {
		case err == nil:
			present = true
		case errors.Is(err, storage.ErrNotFound): // expired: absent
		case errors.Is(err, errUnknownVersion):
			// Re-sealed under a data key newer than r: by this store's
			// rotation (the next attempt loads its keyring) or another
			// host's (read the keys again).
			s.stale(err, e, 0)
			return pre, errRaced
		default:
			return pre, fmt.Errorf("seal: transact (%s): %w", op.Space, err)
		}
	}
	var ok bool
	switch op.Cond {
	case storage.IfAbsent:
		ok = !present
	case storage.IfExists:
		ok = present
	case storage.IfEquals:
		ok = present && bytes.Equal(val, op.Expect)
	}
	if !ok {
		return pre, fmt.Errorf("seal: transact: %w: %s", storage.ErrConflict, op.Cond)
	}
	return pre, nil
}
