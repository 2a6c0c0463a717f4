package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// MaxTxnOps bounds the operations of one Transact: Forge KVS transactions
// take at most 25 (abi.MaxTxnOps).
const MaxTxnOps = abi.MaxTxnOps

// Condition is what an operation of a transaction requires of its key's
// current record, judged on the record as the store serves it (an expired
// record is absent, a sealed one compares by its plaintext).
type Condition uint8

const (
	// Always applies the operation whatever the key holds.
	Always Condition = iota
	// IfAbsent requires that the key holds no live record.
	IfAbsent
	// IfExists requires that the key holds a live record.
	IfExists
	// IfEquals requires that the key holds exactly TxnOp.Expect.
	IfEquals
)

// String names the condition as errors show it.
func (c Condition) String() string {
	switch c {
	case Always:
		return "always"
	case IfAbsent:
		return "key present"
	case IfExists:
		return "key absent"
	case IfEquals:
		return "value differs"
	}
	return fmt.Sprintf("condition(%d)", uint8(c))
}

// TxnKind is what an operation of a transaction does.
type TxnKind uint8

const (
	// TxnSet stores Value under the key.
	TxnSet TxnKind = iota
	// TxnDelete removes the key; a missing key is not an error.
	TxnDelete
	// TxnCheck writes nothing: only its condition counts.
	TxnCheck
)

// TxnOp is one operation of a transaction.
type TxnOp struct {
	Kind  TxnKind
	Space Keyspace
	Key   string
	// Value and TTL are a TxnSet's: a positive TTL makes the record expire.
	Value []byte
	TTL   time.Duration
	Cond  Condition
	// Expect is the value IfEquals requires.
	Expect []byte
}

// Transactor is a Store that applies several operations of one
// installation atomically: every condition holds and every write is made,
// durably and at once for readers, or the call returns an error wrapping
// ErrConflict (a condition failed) and nothing was written. A transaction
// names each key at most once and holds at most MaxTxnOps operations.
type Transactor interface {
	Transact(ctx context.Context, installation string, ops []TxnOp) error
}

// ValidateTxn checks ops against the contract: 1 to MaxTxnOps operations,
// valid keyspaces, keys and values, known kinds and conditions, and no key
// named twice.
func ValidateTxn(ops []TxnOp) error {
	if len(ops) == 0 || len(ops) > MaxTxnOps {
		return fmt.Errorf("%w: a transaction holds 1 to %d operations, not %d", ErrInvalidQuery, MaxTxnOps, len(ops))
	}
	type sk struct {
		space Keyspace
		key   string
	}
	seen := make(map[sk]bool, len(ops))
	for i, op := range ops {
		if !op.Space.Valid() {
			return fmt.Errorf("%w: operation %d: %s", ErrInvalidKey, i, op.Space)
		}
		if err := ValidateKey(op.Key); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		if op.Kind > TxnCheck || op.Cond > IfEquals {
			return fmt.Errorf("%w: operation %d: unknown kind or condition", ErrInvalidQuery, i)
		}
		if op.Kind == TxnCheck && op.Cond == Always {
			return fmt.Errorf("%w: operation %d: a check without a condition", ErrInvalidQuery, i)
		}
		if err := ValidateValue(op.Value); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		if seen[sk{op.Space, op.Key}] {
			return fmt.Errorf("%w: operation %d: key named twice in one transaction", ErrInvalidKey, i)
		}
		seen[sk{op.Space, op.Key}] = true
	}
	return nil
}

// Op names an operation of a Store, for Counts.
type Op uint8

// The operations Counts counts.
const (
	OpGet Op = iota
	OpSet
	OpDelete
	OpQuery
	OpTransact
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "query", "transact"}

// String names the operation.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Counts counts a store's calls by keyspace and operation, for
// measurements (`make bench`) and tests that count round trips. The zero
// value is ready; it is safe for concurrent use.
type Counts struct {
	n [Registry + 1][numOps]atomic.Int64
}

// Add counts one call.
func (c *Counts) Add(space Keyspace, op Op) {
	if c != nil && space.Valid() && op < numOps {
		c.n[space][op].Add(1)
	}
}

// Snapshot returns the counts so far.
func (c *Counts) Snapshot() CountSnapshot {
	var s CountSnapshot
	for sp := range c.n {
		for op := range c.n[sp] {
			s[sp][op] = c.n[sp][op].Load()
		}
	}
	return s
}

// CountSnapshot is Counts at one moment.
type CountSnapshot [Registry + 1][numOps]int64

// Get returns the count of op on space.
func (s CountSnapshot) Get(space Keyspace, op Op) int64 {
	if !space.Valid() || op >= numOps {
		return 0
	}
	return s[space][op]
}

// Sub returns s minus earlier.
func (s CountSnapshot) Sub(earlier CountSnapshot) CountSnapshot {
	for sp := range s {
		for op := range s[sp] {
			s[sp][op] -= earlier[sp][op]
		}
	}
	return s
}

// Total sums op over every keyspace.
func (s CountSnapshot) Total(op Op) int64 {
	var n int64
	for sp := range s {
		if op < numOps {
			n += s[sp][op]
		}
	}
	return n
}
