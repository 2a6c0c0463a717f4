// Package storage defines the store the host's capabilities use: Forge Storage
// semantics (get, set with TTL, delete, query by key prefix with a cursor),
// scoped by installation and keyspace, and the Forge limits every backend
// enforces alike.
//
// # Policy and backends
//
// This package holds the contract and the policy (key charset and length,
// value size, page limits); backends live in sub-packages. A backend never
// decides what is allowed, and the capability layer never knows how records
// are kept.
//
// # Installations and keyspaces
//
// Every record belongs to one installation (a Jira site) and one keyspace.
// The installation "" is reserved for the host's own records (the
// installation registry). Secrets are a keyspace that queries never return.
//
// # Raw backends
//
// Under a Store sits a Backend: an ordered, durable key-value store of opaque
// bytes with TTLs, range scans, atomic conditional batches, snapshots and
// compaction. host/storage/bunt keeps one on a BuntDB file; host/storage/seal
// turns any Backend into a Store that encrypts keys and values, so a later
// distributed backend (etcd) needs only the Backend contract. Snapshots use
// one backend-neutral format (SnapshotWriter, ReadSnapshot), so a backup of
// one backend restores into another. WithReadCache marks a Get that a
// backend's read cache may answer (host/storage/etcd has one).
//
// # Fences
//
// A context may carry a Fence (WithFence): a claim in the coordination
// service that a shared backend (etcd) also holds. Such a backend makes
// every write of that context conditional on the claim, in the write's own
// atomic step, and fails it with ErrFenced once the claim is lost; the
// queue fences a lane's writes so, on a cluster. A backend only one
// process writes (BuntDB) has no claims to lose and ignores fences.
package storage
