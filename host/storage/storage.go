package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// Forge Storage limits, enforced by every backend.
const (
	// MaxKeyLen is Forge's limit on a key, in bytes.
	MaxKeyLen = abi.MaxKeyLen
	// MaxValueLen is Forge's limit on a value: 240 KiB.
	MaxValueLen = abi.MaxValueLen
	// DefaultQueryLimit is the page size when a query asks for 0.
	DefaultQueryLimit = abi.DefaultQueryLimit
	// MaxQueryLimit is the largest page a query may ask for.
	MaxQueryLimit = abi.MaxQueryLimit
	// HostInstallation is the reserved installation of the host's own records.
	HostInstallation = ""
)

// Keyspace separates the kinds of record an installation has. Its value is
// part of every sealed record's associated data, so never renumber one.
type Keyspace uint8

const (
	// KVS is the Forge key-value store the module reads and writes.
	KVS Keyspace = 1
	// Secret holds credentials; queries never return it and the module never reads it.
	Secret Keyspace = 2
	// Queue holds queued deliveries until they are consumed.
	Queue Keyspace = 3
	// Dedupe holds short-lived delivery ids.
	Dedupe Keyspace = 4
	// Registry holds the host's installation records.
	Registry Keyspace = 5
)

// String names the keyspace as logs and errors show it.
func (k Keyspace) String() string {
	switch k {
	case KVS:
		return "kvs"
	case Secret:
		return "secret"
	case Queue:
		return "queue"
	case Dedupe:
		return "dedupe"
	case Registry:
		return "registry"
	}
	return fmt.Sprintf("keyspace(%d)", uint8(k))
}

// Valid reports whether k is a known keyspace.
func (k Keyspace) Valid() bool { return k >= KVS && k <= Registry }

var (
	// ErrNotFound is returned for a key that does not exist or has expired.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidKey is returned for a key outside Forge's charset or length.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrValueTooLarge is returned for a value over MaxValueLen.
	ErrValueTooLarge = errors.New("storage: value too large")
	// ErrInvalidQuery is returned for a bad limit or cursor.
	ErrInvalidQuery = errors.New("storage: invalid query")
	// ErrDenied is returned for an operation the keyspace forbids, such as querying secrets.
	ErrDenied = errors.New("storage: denied")
	// ErrIntegrity is returned for a record that fails authentication: tampered, moved or truncated.
	ErrIntegrity = errors.New("storage: integrity check failed")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("storage: closed")
	// ErrUnavailable is returned for a call the backend could not complete
	// for now, such as while a cluster elects a leader or a member dies; a
	// write that fails so may or may not have been applied. Trying again
	// later is the remedy.
	ErrUnavailable = errors.New("storage: temporarily unavailable")
)

// Entry is one record a query returns.
type Entry struct {
	Key   string
	Value []byte
}

// Page is one page of a prefix query. NextCursor is empty on the last page.
type Page struct {
	Entries    []Entry
	NextCursor string
}

// Store is what the host's capabilities use. Implementations are safe for
// concurrent use; a nil error from Set or Delete means the write is durable.
type Store interface {
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, installation string, space Keyspace, key string) ([]byte, error)
	// Set stores value under key; a positive ttl makes the record expire.
	Set(ctx context.Context, installation string, space Keyspace, key string, value []byte, ttl time.Duration) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, installation string, space Keyspace, key string) error
	// Query returns records whose key begins with prefix, in key order,
	// starting after cursor (from a previous page), at most limit of them.
	Query(ctx context.Context, installation string, space Keyspace, prefix, cursor string, limit int) (Page, error)
	// Purge removes every record of the installation and its data key.
	Purge(ctx context.Context, installation string) error
	// Close flushes and closes the store.
	Close() error
}

// Fingerprinter is a Store that can name a key for use outside the store,
// such as a claim in a coordination service: the name is the same on every
// host sharing the store, and reveals neither the key nor the installation
// to someone without the store's keys.
type Fingerprinter interface {
	Fingerprint(ctx context.Context, installation string, space Keyspace, key string) (string, error)
}

// ValidateKey checks a key against Forge's rules: 1 to MaxKeyLen bytes of
// [a-zA-Z0-9:._\s-#], not whitespace only. The rules are the contract's
// (abi.KeyProblem), so the host and the guest's fakes agree.
func ValidateKey(key string) error {
	if p := abi.KeyProblem(key); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalidKey, p)
	}
	return nil
}

// ValidatePrefix checks a query prefix: empty, or a string that could begin
// a valid key (so whitespace alone is allowed, "  a" being a valid key).
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := abi.KeyProblem(prefix)
	if p == "" || (len(prefix) <= MaxKeyLen && strings.TrimLeft(prefix, " \t\n\r\v\f") == "") {
		return nil
	}
	return fmt.Errorf("%w: prefix: %s", ErrInvalidKey, p)
}

// ValidateValue checks a value against MaxValueLen.
func ValidateValue(value []byte) error {
	if len(value) > MaxValueLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(value), MaxValueLen)
	}
	return nil
}

// QueryLimit turns a requested page size into the one to use.
func QueryLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultQueryLimit, nil
	case limit < 0 || limit > MaxQueryLimit:
		return 0, fmt.Errorf("%w: limit %d, want 1 to %d", ErrInvalidQuery, limit, MaxQueryLimit)
	}
	return limit, nil
}
