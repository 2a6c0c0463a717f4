// Package etcd keeps the host's records in an etcd cluster: the raw ordered
// storage.Backend under the sealing layer for hosts that run on several
// machines, as host/storage/bunt is for one.
//
// The sealing layer (host/storage/seal) is the same over both backends, so
// etcd holds exactly the sealed keys and values a BuntDB file would: the
// installation's tag, the keyspace and hashed key segments as the key,
// ciphertext as the value. Nothing here sees a plaintext key or value.
//
// # Key layout
//
// Every key is Config.Prefix (default "chatbridge/") followed by the raw key
// the sealing layer chose; keys compare bytewise in etcd as in BuntDB, so a
// Forge prefix query is one range read from prefix+from to prefix+to. Each
// value is stored as
//
//	version(1) expires(8, big-endian Unix seconds, 0: never) payload
//
// so that the exact expiry travels with the record (see Leases). A value
// under the prefix that does not parse was not written by this package;
// Get reports it as ErrDamaged (wrapping storage.ErrIntegrity) and Scan as a
// damaged record, as BuntDB reports a record altered on disk.
//
// # Durability and consistency
//
// A write is acknowledged once a quorum of members has it in its write-ahead
// log, fsynced: it survives the loss of any minority of members. Get and
// Scan are linearizable reads (through the leader's read index): they see
// every write acknowledged before they began, through whichever member
// (unless the caller lets the read cache answer a Get: see Read cache). A
// Scan of several pages reads them all at the revision of the first.
//
// # Read cache
//
// With Config.ReadCache, a Get whose context allows it
// (storage.WithReadCache) is answered from memory when the DB holds the
// record. The cache holds the stored bytes (sealed, as etcd has them) of
// records read so, each with the revision it is known at, and one watch on
// the prefix keeps them current: a put replaces a held record, a delete
// drops it. An absent record, an expired one and one not held are read
// from the cluster (and then held). What a cached answer promises:
//
//   - read-your-writes and more: it is never older than any state this DB
//     wrote or read through the cluster (each write's revision and each
//     read record's modification revision are noted; a cached read first
//     waits, up to CacheConfig.Wait, for the watch to deliver them). A
//     consumer that has read a queued delivery therefore sees every change
//     made before that delivery was queued, through whichever node;
//   - bounded staleness: it reflects every write acknowledged
//     CacheConfig.MaxStale before (default 2 s). While reads use the cache,
//     every SyncEvery it takes the cluster's revision with a linearizable
//     read and waits for the watch to reach it (its events, or a progress
//     notification it asks for); a cache that cannot show that recently
//     answers nothing, and every read goes to the cluster;
//   - nothing from a broken watch: when the watch ends (canceled, its start
//     revision compacted, its member cut off from the leader:
//     WithRequireLeader) the cache is emptied and rebuilt from a watch
//     started at the cluster's then current revision.
//
// Writes, Scans, preconditions and transactions never use it: etcd judges
// every condition. A write whose outcome is unknown (a timeout) drops its
// keys from the cache. Which reads may be cached is the callers' choice
// (host/storage/seal: installation records and secrets; the module's keys
// the host names); CacheStats counts hits, misses and drops.
//
// # Leases
//
// A write with an expiry attaches its key to a lease that ends at or after
// that expiry, and etcd deletes the key when the lease runs out. Leases are
// granted once per end second and shared: writes expiring together share one
// lease, and for longer TTLs the end is rounded up to a power of two seconds
// below a sixtieth of the TTL (at most 2048 s), so that a day's worth of
// one-day TTLs needs under a hundred leases, not one per write. etcd deletes a record some time after its expiry (the bucket, its
// lease timer, a leader change that renews every lease), never before; reads
// compare the expiry in the value with the clock, so an expired record is
// never served, and a precondition counts it as absent. A lease etcd no
// longer knows (a cluster restored from a snapshot) is granted again.
//
// # Transactions
//
// Apply is one etcd transaction. Preconditions become comparisons: Absent is
// "create revision = 0", a value is compared with the stored bytes for a
// record without expiry. When those fail, the transaction's else branch reads
// the keys at the same revision; if the preconditions do hold there once
// expiry is counted (a record that has expired but is not yet deleted), the
// transaction is retried comparing those keys' modification revisions, so a
// concurrent write still makes it fail. etcd refuses a transaction that
// writes a key twice, so repeated keys collapse to their last write, as in
// BuntDB.
//
// etcd bounds a transaction (--max-txn-ops, default 128 operations;
// --max-request-bytes, default 1.5 MiB). A batch without preconditions that
// exceeds Config.MaxTxnOps or Config.MaxTxnBytes is written as several
// transactions in order: each atomic, the whole not. The sealing layer's
// large unconditional batches (range deletes in a purge or DeletePrefix, a
// restore from a snapshot) are idempotent and complete on a retry. A batch
// with preconditions must fit in one transaction or Apply returns
// ErrTooLarge; the sealing layer's conditional batches (re-sealing, 64
// records) fit unless their values are large, and set MaxTxnBytes and the
// members' --max-request-bytes accordingly.
//
// A write made with a fenced context (storage.WithFence) carries one more
// comparison: the claim's key still has the creation revision of the
// claim (as concurrency.Mutex.IsOwner compares), so the check and the write
// are one atomic step and cost no extra round trip. When it fails, the
// else branch's read of that key tells a lost claim (storage.ErrFenced)
// from a failed precondition.
//
// # Snapshots
//
// Snapshot reads every record under the prefix page by page at one revision
// and writes the backend-neutral snapshot format (storage.SnapshotWriter),
// so a BuntDB backup restores into etcd and back (storage.RestoreSnapshot).
//
// # Compaction
//
// etcd keeps every version of every key (multi-version concurrency control)
// until the history is compacted: a deleted record's value can still be read
// at its old revision. Compact compacts the history at the current revision
// on every member, waits until each member has carried that out, then
// defragments each member so the database files are rewritten without the
// freed pages (TestSeal_OverEtcd looks for a purged record's ciphertext in
// every member's database). Compaction needs the root role when etcd's auth
// is on; Config.DisableCompact leaves it to the operator (etcd's
// --auto-compaction-mode and a defragmentation schedule).
//
// What Compact cannot reach: each member's write-ahead log and raft snapshot
// files hold recent writes, deleted ones included, until etcd cuts a new
// snapshot (every --snapshot-count entries, 100,000 by default in 3.4) and
// drops old log segments (keeping --max-wals). Those files hold sealed
// records only; a purge deletes the installation's wrapped keys first, so
// what lingers is ciphertext whose keys are gone, as with freed disk blocks
// and backups of a BuntDB file. chatbridge keeps the wrapped keys under a
// prefix of their own (seal.Config.KeyStore), compacted after a purge too;
// rotate the master key after a purge to shred the wrapped keys lingering in
// those files as well. An etcdctl snapshot holds every prefix, keys included:
// back up the records with `chatbridge backup` for backups a purge shreds.
//
// # Damaged records
//
// BuntDB's file has no checksums, so package bunt checks every record
// itself. etcd does not need that: its write-ahead log entries carry CRCs
// and are replayed only when intact, bbolt pages are written by
// copy-on-write, and members can compare database hashes
// (--experimental-corrupt-check-time); a member whose files are damaged
// fails or is replaced from the others. The sealing layer still
// authenticates every record, so a value altered anywhere is refused.
//
// # Configuration
//
// Config names the endpoints, the TLS client certificate, key and CA, and
// an etcd user and password. The password is passed to the client only and
// never logged.
package etcd
