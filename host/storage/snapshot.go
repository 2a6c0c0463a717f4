package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// ErrSnapshot is returned for a snapshot stream that is malformed, truncated
// or fails its checksum.
var ErrSnapshot = errors.New("storage: bad snapshot")

// Snapshot format limits: larger fields are refused as malformed.
const (
	maxSnapshotKey   = 1 << 16
	maxSnapshotValue = 1 << 24
	snapshotMagic    = "CBSNAP1\n"
	snapshotRecord   = 0x01
	snapshotEnd      = 0x00
	// RestoreBatch is how many records RestoreSnapshot writes per Apply.
	RestoreBatch = 256
)

// SnapshotWriter writes the backend-neutral snapshot format, which any
// Backend can restore:
//
//	"CBSNAP1\n"
//	per record: 0x01, uvarint len(key), key, uvarint len(value), value,
//	            varint expiry in Unix nanoseconds (0: never)
//	end:        0x00, uvarint record count, SHA-256 of every byte before it
//
// Values are copied as the backend holds them (sealed, for the sealing layer).
type SnapshotWriter struct {
	w   *bufio.Writer
	h   hash.Hash
	n   uint64
	buf []byte
	err error
}

// NewSnapshotWriter starts a snapshot on w.
func NewSnapshotWriter(w io.Writer) *SnapshotWriter {
	sw := &SnapshotWriter{w: bufio.NewWriterSize(w, 64<<10), h: sha256.New()}
	sw.write([]byte(snapshotMagic))
	return sw
}

func (sw *SnapshotWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	sw.h.Write(b)
	_, sw.err = sw.w.Write(b)
}

// Add appends one record.
func (sw *SnapshotWriter) Add(r Record) error {
	if len(r.Key) > maxSnapshotKey || len(r.Value) > maxSnapshotValue {
		return fmt.Errorf("%w: record of %d+%d bytes over the format's limits", ErrSnapshot, len(r.Key), len(r.Value))
	}
	b := sw.buf[:0]
	b = append(b, snapshotRecord)
	b = binary.AppendUvarint(b, uint64(len(r.Key)))
	b = append(b, r.Key...)
	b = binary.AppendUvarint(b, uint64(len(r.Value)))
	b = append(b, r.Value...)
	var exp int64
	if !r.Expires.IsZero() {
		exp = r.Expires.UnixNano()
	}
	b = binary.AppendVarint(b, exp)
	sw.write(b)
	sw.buf = b
	sw.n++
	return sw.err
}

// Close writes the trailer and flushes; the snapshot is complete only when it
// returns nil.
func (sw *SnapshotWriter) Close() error {
	b := binary.AppendUvarint([]byte{snapshotEnd}, sw.n)
	sw.write(b)
	if sw.err != nil {
		return sw.err
	}
	if _, err := sw.w.Write(sw.h.Sum(nil)); err != nil {
		return err
	}
	return sw.w.Flush()
}

// ReadSnapshot decodes a snapshot, calling fn for each record in order. The
// checksum covers the whole stream and is checked at the end, after the last
// fn call: apply records somewhere disposable and keep them only when
// ReadSnapshot returns nil. Damaged or truncated input gives ErrSnapshot.
func ReadSnapshot(r io.Reader, fn func(Record) error) error {
	h := sha256.New()
	br := &hashReader{r: bufio.NewReaderSize(r, 64<<10), h: h}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, []byte(snapshotMagic)) {
		return fmt.Errorf("%w: not a snapshot", ErrSnapshot)
	}
	var n uint64
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: truncated after %d records", ErrSnapshot, n)
		}
		switch tag {
		case snapshotEnd:
			count, err := binary.ReadUvarint(br)
			if err != nil {
				return fmt.Errorf("%w: truncated trailer", ErrSnapshot)
			}
			sum := h.Sum(nil)
			want := make([]byte, len(sum))
			if _, err := io.ReadFull(br.r, want); err != nil {
				return fmt.Errorf("%w: truncated checksum", ErrSnapshot)
			}
			if count != n || !bytes.Equal(sum, want) {
				return fmt.Errorf("%w: checksum or count mismatch", ErrSnapshot)
			}
			return nil
		case snapshotRecord:
			key, err := readField(br, maxSnapshotKey)
			if err != nil {
				return err
			}
			val, err := readField(br, maxSnapshotValue)
			if err != nil {
				return err
			}
			exp, err := binary.ReadVarint(br)
			if err != nil {
				return fmt.Errorf("%w: truncated record", ErrSnapshot)
			}
			rec := Record{Key: string(key), Value: val}
			if exp != 0 {
				rec.Expires = time.Unix(0, exp)
			}
			n++
			if err := fn(rec); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: unknown tag %#x", ErrSnapshot, tag)
		}
	}
}

func readField(br *hashReader, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("%w: truncated record", ErrSnapshot)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: field of %d bytes over the limit", ErrSnapshot, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("%w: truncated record", ErrSnapshot)
	}
	return b, nil
}

// hashReader hashes every byte it hands out.
type hashReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

func (hr *hashReader) ReadByte() (byte, error) {
	c, err := hr.r.ReadByte()
	if err == nil {
		hr.h.Write([]byte{c})
	}
	return c, err
}

// RestoreSnapshot writes every unexpired record of a snapshot into dst, in
// batches of RestoreBatch, and returns how many it wrote. dst should be
// empty; a snapshot that fails its checksum returns ErrSnapshot after the
// records before the damage were written, so restore into a scratch backend
// and discard it on error.
func RestoreSnapshot(ctx context.Context, r io.Reader, dst Backend) (int, error) {
	var (
		batch []Write
		n     int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.Apply(ctx, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	now := time.Now()
	err := ReadSnapshot(r, func(rec Record) error {
		if !rec.Expires.IsZero() && !rec.Expires.After(now) {
			return nil
		}
		batch = append(batch, Write{Key: rec.Key, Value: rec.Value, Expires: rec.Expires})
		if len(batch) >= RestoreBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}
