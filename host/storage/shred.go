package storage

import (
	"context"
	"time"
)

// Shredder is a Store whose Purge destroys the keys that seal an
// installation's records (crypto-shredding) and can say which.
type Shredder interface {
	// Shred is Purge, reporting the keys it destroyed.
	Shred(ctx context.Context, installation string) (Shredding, error)
	// Shredded reports whether the installation's keys were destroyed by a
	// Shred: its records, in the store or in any backup, no longer open.
	Shredded(ctx context.Context, installation string) (bool, error)
}

// Shredding is what a Shred destroyed.
type Shredding struct {
	Installation string
	// Tag names the installation in the key store (a keyed hash, hex).
	Tag string
	// Keys are the key records destroyed; empty for an installation that
	// never stored anything.
	Keys []DestroyedKey
	// At is when the keys were destroyed.
	At time.Time
	// Apart reports keys kept apart from the records, out of backups: then
	// every backup taken before At no longer opens for the installation.
	Apart bool
}

// DestroyedKey is one destroyed key record.
type DestroyedKey struct {
	// Kind is "name" (hashes key names, seals cursors) or "data" (seals records).
	Kind string `json:"kind"`
	// Version is a data key's version.
	Version uint32 `json:"version,omitempty"`
	// WrappedBy is the ID of the master key that wrapped it.
	WrappedBy string `json:"wrappedBy"`
	// Fingerprint is the SHA-256 of the wrapped key record (its raw key and
	// value), cut to 16 bytes, hex: it names the record without revealing it.
	Fingerprint string `json:"fingerprint"`
}
