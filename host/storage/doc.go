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
package storage
