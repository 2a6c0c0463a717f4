package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrConflict is returned by Backend.Apply when a precondition does not hold;
// nothing was written.
var ErrConflict = errors.New("storage: precondition failed")

// Backend is the raw ordered key-value store under the sealing layer: one per
// host, all installations in it, keys and values opaque bytes. The sealing
// layer (host/storage/seal) turns a Backend into a Store; a backend only keeps
// bytes in order, durably.
//
// Implementations are safe for concurrent use. A nil error from Set, Delete
// or Apply means the write is durable: it survives a crash of the process or
// the machine. Keys are compared bytewise.
type Backend interface {
	// Get returns the live record at key, or ErrNotFound (also when it has
	// expired). A record the backend knows to be damaged on disk is an error
	// wrapping ErrIntegrity.
	Get(ctx context.Context, key string) (Record, error)
	// Set stores value at key. A non-zero expires makes the record expire then
	// (backends may round it up to their own granularity, at most a second).
	Set(ctx context.Context, key string, value []byte, expires time.Time) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Scan returns up to limit live records with from <= key < to, in
	// ascending key order; to == "" means no upper bound. Damaged records are
	// returned with Damaged set and no value, so a caller can report them.
	Scan(ctx context.Context, from, to string, limit int) ([]Record, error)
	// Apply makes writes atomically, for readers and across a crash, if every
	// precondition holds; otherwise it returns ErrConflict and writes nothing.
	Apply(ctx context.Context, writes []Write, conds ...Precondition) error
	// Snapshot writes a consistent copy of every live record to w in the
	// snapshot format (see SnapshotWriter), without stopping readers or writers
	// for longer than it takes to collect references to the records.
	Snapshot(ctx context.Context, w io.Writer) error
	// Compact rewrites the backend's files so that deleted, overwritten and
	// expired records leave no trace in them. It must not lose a durable
	// write, whenever the process dies.
	Compact(ctx context.Context) error
	// Close makes every acknowledged write durable and releases the files.
	Close() error
}

// Record is one record of a Backend.
type Record struct {
	Key   string
	Value []byte
	// Expires is when the record expires; zero means never.
	Expires time.Time
	// Damaged reports a record the backend found damaged on disk; Value is nil.
	Damaged bool
}

// Write is one change in an Apply batch.
type Write struct {
	Key string
	// Value is stored at Key unless Delete is set.
	Value []byte
	// Expires is when the record expires; zero means never.
	Expires time.Time
	// Delete removes Key instead of storing Value.
	Delete bool
}

// Precondition makes an Apply batch conditional on the current state of one key.
type Precondition struct {
	Key string
	// Value is the exact value Key must hold. When Absent is set, Key must
	// instead hold no live record.
	Value  []byte
	Absent bool
}

// PrefixEnd returns the smallest key greater than every key that begins with
// prefix, for a Scan bound; "" (no bound) when there is none, as for a prefix
// of 0xff bytes or the empty prefix.
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
