// Package bunt keeps the host's records in one BuntDB file, durably: it is
// the raw ordered storage.Backend under the sealing layer, and a nil error
// from a write means the write survives kill -9 and power loss.
//
// # Durability
//
// BuntDB runs with SyncPolicy Never, and the package fsyncs the file itself
// through its own descriptor, outside BuntDB's write lock: a writer's
// transaction reaches the file, then the writer waits for an fsync that began
// after that; one waiter runs the fsync for all who wait (group commit), so
// concurrent writers share one fsync and each is answered only after it.
// BuntDB's SyncPolicy Always would fsync inside its write lock, one
// transaction at a time. BuntDB ignores fsync errors; this package does not:
// a failed fsync or directory fsync stops the DB (ErrFailed) because what the
// disk holds is then unknown. Reopen to recover from what is on disk.
//
// A write is visible to readers once it reaches the file, slightly before it
// is durable. A reader that reads a key whose write is still waiting for its
// fsync waits for that fsync too, so a read never returns what a crash could
// take back.
//
// # File format
//
// The file is BuntDB's append-only log of RESP commands (set, del). Every
// value this package stores carries a header and a checksum:
//
//	kind(1) expires(8) uvarint(count) [batch id(8)] uvarint(len(key)) key payload crc32c(4)
//
// kind tells a record from a tombstone (a delete inside a batch) and from a
// damaged-record marker; expires repeats the expiry BuntDB keeps beside the
// value (Unix seconds, in the clear in the file); count and batch id mark the
// writes of one Apply; the key copy names the record if the key BuntDB keeps
// beside it is altered. TTLs and keys are visible in the file: store only
// sealed keys and values.
//
// # Opening a damaged file
//
// BuntDB's loader truncates the file at the first command that runs past its
// end, wherever it starts: one altered length field would silently drop every
// later record. Open therefore parses the file first. A write cut off by a
// crash (a partial command at the end, a run of zero bytes, a batch missing
// its last writes) was never acknowledged and is dropped. A command whose
// bytes were altered is replaced by a marker under its key, found from the
// command or from the value's key copy, so that key reads as ErrDamaged
// (wrapping storage.ErrIntegrity) and every other record stays readable.
// The file is then rewritten as in Compact, and Damage reports what was
// found. Limits: the last command's framing, if altered, cannot be told from
// a cut-off write and is dropped; an altered del command cannot be detected
// (BuntDB writes it, without a checksum) and may bring a deleted record back
// until the next compaction.
//
// # Compaction
//
// Compact writes the live records to <path>.compact, fsyncs it, opens it,
// renames it over the file and fsyncs the directory, with writers held back
// throughout; a crash at any step leaves a complete file (the old or the
// new), and Open removes a leftover <path>.compact. Deleted, overwritten,
// expired and tombstoned records leave the file. BuntDB's Shrink is not used:
// it renames a temporary file it never fsynced and fsyncs no directory, so
// after a power loss the data file could come back empty or partial.
//
// # Batches
//
// Apply writes all its writes in one BuntDB transaction, one write(2) call;
// a crash can still cut that call short. Each value records how many writes
// its batch has, so Open drops a batch that is not all there. Deletes inside
// a batch are written as tombstones (BuntDB's del command has no room for the
// count) that BuntDB reclaims after a minute.
package bunt
