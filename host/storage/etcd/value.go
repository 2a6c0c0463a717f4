package etcd

import (
	"encoding/binary"
	"time"
)

// Stored value layout: version(1) expires(8, big-endian Unix seconds, 0 for
// never) payload. The expiry is kept beside the value because a lease only
// promises that etcd deletes the record at or after its TTL, not exactly
// then: reads compare it with the clock so an expired record is never served.
const (
	valueVersion = 0x01
	headerLen    = 9
)

func encodeValue(expires int64, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0] = valueVersion
	binary.BigEndian.PutUint64(b[1:headerLen], uint64(expires))
	return append(b, payload...)
}

// decodeValue splits a stored value; ok is false for one this package did not
// write (a foreign or altered value under the prefix).
func decodeValue(b []byte) (expires int64, payload []byte, ok bool) {
	if len(b) < headerLen || b[0] != valueVersion {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(b[1:headerLen])), b[headerLen:], true
}

// ceilUnix is t in Unix seconds, rounded up; 0 for the zero time.
func ceilUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func expiresAt(e int64) time.Time {
	if e == 0 {
		return time.Time{}
	}
	return time.Unix(e, 0)
}

// live reports whether a record expiring at e (Unix seconds, 0: never) is
// still live at now.
func live(e int64, now time.Time) bool {
	return e == 0 || time.Unix(e, 0).After(now)
}
