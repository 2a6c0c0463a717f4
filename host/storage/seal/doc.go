// Package seal encrypts every record on its way to the raw backend: it turns
// a storage.Backend into a storage.Store whose file reveals neither keys nor
// values, detects any altered record, and rotates its keys without downtime.
//
// # Keys
//
// A master key is an X-Wing key pair (ML-KEM-768 + X25519, a post-quantum
// hybrid). It lives in a key file (mode 0600) or the CHATBRIDGE_MASTER_KEY
// variable, never in the data file or its backups. With HPKE (RFC 9180: X-Wing,
// HKDF-SHA256, AES-256-GCM) it wraps the host's name key, which tags
// installations, and for every installation (the host's own, "", included):
// a name key, which hashes its key names and seals its cursors, and 256-bit
// data keys, one per version, which seal its records. The HPKE info binds
// each wrapped key to its purpose, installation and version. Only the primary
// master key (the first given) wraps; any given one unwraps.
//
// With Config.KeyStore the wrapped keys live in a backend of their own,
// which Backup does not copy; without it they live among the records (the
// older layout). Open moves an older layout's keys into a key store, and
// refuses records restored beside another key store (ErrKeyStoreMismatch).
//
// # Record format
//
// A record of installation I, keyspace S and key K is stored at the raw key
//
//	"r" tag(I) S T1 T2 ... Tn      (Ti: 16 bytes per segment of K split at ':')
//
// where tag(I) is HMAC-SHA256(host name key, I) cut to 16 bytes and Ti is
// HMAC-SHA256(token key of I, T(i-1) || segment i) cut to 16 bytes, chained
// from the keyspace. Its value is
//
//	format(1) aead(1) data key version(4) nonce1(12) len(box1)(2) box1 nonce2(12) box2
//
// box1 seals the expiry and K, box2 the value, both with AES-256-GCM under the
// installation's data key of that version, random nonces, plaintexts padded
// to 32 bytes, and associated data binding I, S, the raw key and the header.
// A flipped byte, a truncated record, or a record moved to another key,
// keyspace or installation fails with an error wrapping storage.ErrIntegrity,
// for that record only; nothing unauthenticated is ever returned. The expiry
// inside box1 is enforced on every read, whether or not the backend has
// reclaimed the record yet.
//
// # Queries
//
// Keys sharing their leading segments share a raw prefix, so the records that
// can match a prefix query lie in one raw range: that of the query's whole
// segments (the prefix up to its last ':'). A page reads that range, opens
// each name box, keeps the names that begin with the prefix and sort after
// the cursor, and opens the values of the page's records only. Results come
// in key order; a cursor is the page's last key sealed under the
// installation's cursor key and bound to the keyspace and prefix, so it is
// opaque, tamper-evident and stable: no duplicates and no gaps across pages,
// whatever is written between them. A page costs a pass over its range; the
// range is the whole keyspace only for prefixes without ':'. Secrets are
// never listed (storage.ErrDenied).
//
// # What the file reveals
//
// Not key names, values, installation ids, or which keys of two installations
// are equal. It does reveal: the number of installations and records per
// installation and keyspace; each key's number of segments and which keys
// share leading segments (so the number of records under each segment
// prefix); value and name sizes rounded to 32 bytes; expiry times (BuntDB
// keeps TTLs in the clear); data key versions and master key IDs; and, until
// the next compaction, the order and grouping of writes.
//
// # Rotation
//
// RotateMasterKey re-wraps every wrapped key under a new primary, then forgets
// master keys nothing uses (MasterKeysInUse); RotateKeyFile does the whole
// `keys rotate` with the key file. RotateDataKey starts a new data key for an
// installation and re-seals its records in the background, each with a
// compare-and-swap so no concurrent write is lost; older data keys are deleted
// once no readable record uses them. Reads and writes continue throughout.
//
// # Purge and maintenance
//
// Purge (and Shred, which reports what it destroyed) deletes an
// installation's keys first (its records become unreadable at once) leaving
// a tombstone in the key store, then its records, then compacts the backends
// so nothing of it stays in the files; a purge a crash interrupted is
// finished by Open. With a key store, every backup taken before no longer
// opens for the installation (crypto-shredding); the others still do.
// DeletePrefix removes a key prefix (a project's configuration). Check finds
// (and can drop) records that fail authentication. Backup writes a consistent,
// still-sealed snapshot of a live store; Restore loads one into an empty
// backend.
//
// # Read cache
//
// Get lets a backend's read cache answer (storage.WithReadCache; the etcd
// backend has one) for installation records and secrets, and for module
// records when its caller allowed it; never for dedupe claims, queued
// deliveries, wrapped keys, or the reads a transaction compares.
//
// # Files
//
// store.go holds the Store and its single-record operations; rings.go the
// per-installation keyrings (wrapping data keys, loading, creating and
// caching them); query.go paged queries and their sealed cursors; purge.go
// purges and prefix deletes; shred.go the key store (tombstones, moving
// keys out of the records, its mark); backup.go backup and restore; rotate.go master
// key rotation; record.go and keyring.go the record and key formats;
// masterkey.go and kem_*.go the master keys.
package seal
