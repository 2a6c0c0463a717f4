package queue

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// Keys of the queue's records in an installation's Queue keyspace. A
// pending message lives at "m:" lane ":" id, so that one lane's records are
// one prefix query (one range read under the sealing layer); records
// written before lanes had keys of their own ("m:" id) are moved when read.
const (
	pendingPrefix = "m:"
	deadPrefix    = "d:"
)

func deadKey(id string) string { return deadPrefix + id }

// laneOf names r's lane within its installation: a hash of its order key
// (or of its queue, for keyless messages), one key segment long whatever
// the order key holds.
func laneOf(r *record) string {
	id := "q\x00" + r.Queue
	if r.OrderKey != "" {
		id = "k\x00" + r.OrderKey
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func lanePrefix(lane string) string { return pendingPrefix + lane + ":" }

// pendingKey is where r waits for its consumer.
func (r *record) pendingKey() string { return lanePrefix(laneOf(r)) + r.ID }

// record is one message as it is stored, sealed, in the Queue keyspace:
// everything needed to deliver it again after a restart.
type record struct {
	ID           string
	Installation string // not encoded: the keyspace is the installation's
	// key is where the record was read from; not encoded.
	key      string
	Queue    string
	OrderKey string
	Payload  []byte
	Attempt  int
	// Seq orders the messages of one lane: push order.
	Seq uint64
	// Due is when the next attempt may start.
	Due time.Time
	// Pushed is when the message was first queued.
	Pushed time.Time
	// FailedAt is when a dead letter gave up; zero while pending.
	FailedAt time.Time
	// LastError says why the last attempt failed; never message content.
	LastError string
}

const recordVersion = 1

var errRecord = errors.New("queue: damaged record")

func (r *record) encode() []byte {
	b := make([]byte, 0, 64+len(r.ID)+len(r.Queue)+len(r.OrderKey)+len(r.LastError)+len(r.Payload))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.AppendVarint(b, unixMilli(r.Pushed))
	b = binary.AppendVarint(b, unixMilli(r.Due))
	b = binary.AppendVarint(b, unixMilli(r.FailedAt))
	b = binary.AppendUvarint(b, uint64(r.Attempt))
	for _, s := range []string{r.ID, r.Queue, r.OrderKey, r.LastError} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Payload)))
	return append(b, r.Payload...)
}

func (r *record) decode(b []byte) error {
	if len(b) < 9 || b[0] != recordVersion {
		return errRecord
	}
	r.Seq = binary.BigEndian.Uint64(b[1:9])
	b = b[9:]
	var times [3]int64
	for i := range times {
		v, n := binary.Varint(b)
		if n <= 0 {
			return errRecord
		}
		times[i], b = v, b[n:]
	}
	r.Pushed, r.Due, r.FailedAt = fromMilli(times[0]), fromMilli(times[1]), fromMilli(times[2])
	attempt, n := binary.Uvarint(b)
	if n <= 0 || attempt > 1<<20 {
		return errRecord
	}
	r.Attempt, b = int(attempt), b[n:]
	var fields [5][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errRecord
		}
		fields[i], b = b[n:n+int(l)], b[n+int(l):]
	}
	if len(b) != 0 {
		return errRecord
	}
	r.ID, r.Queue, r.OrderKey, r.LastError = string(fields[0]), string(fields[1]), string(fields[2]), string(fields[3])
	r.Payload = append([]byte(nil), fields[4]...)
	return nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
