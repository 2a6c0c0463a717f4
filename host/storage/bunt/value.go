package bunt

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

// Kinds of stored value: the first byte of every value this package writes.
const (
	kindLive      = 0xB1 // a record
	kindTombstone = 0xB0 // a delete inside a multi-write batch; reads as absent
	kindDamaged   = 0xBD // put in place of a record found damaged at open
)

// maxEmbeddedKey bounds the key copy a value may claim; larger is malformed.
const maxEmbeddedKey = 1 << 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stored is a decoded value. key and payload alias the decoded string.
type stored struct {
	kind    byte
	expires int64  // Unix seconds; 0: never
	count   uint64 // writes in the batch this value was written by; 1 alone
	batch   uint64 // batch id when count > 1
	key     string
	payload string
}

var errMalformed = errors.New("malformed value")

// encodeValue builds the string BuntDB stores for one write:
//
//	kind(1) expires(8, Unix seconds, big endian) uvarint(count) [batch(8) if count > 1]
//	uvarint(len(key)) key payload crc32c(4, big endian, over all before it)
//
// The key copy lets Open name the record when the key BuntDB keeps beside it
// is damaged; the expiry copy lets Open notice a damaged BuntDB TTL.
func encodeValue(kind byte, expires int64, count, batch uint64, key string, payload []byte) string {
	var hdr [1 + 8 + binary.MaxVarintLen64 + 8 + binary.MaxVarintLen64]byte
	h := append(hdr[:0], kind)
	h = binary.BigEndian.AppendUint64(h, uint64(expires))
	h = binary.AppendUvarint(h, count)
	if count > 1 {
		h = binary.BigEndian.AppendUint64(h, batch)
	}
	h = binary.AppendUvarint(h, uint64(len(key)))
	sum := crc32.Update(0, castagnoli, h)
	sum = crc32.Update(sum, castagnoli, []byte(key))
	sum = crc32.Update(sum, castagnoli, payload)
	var b strings.Builder // String() hands over its buffer: one allocation
	b.Grow(len(h) + len(key) + len(payload) + 4)
	b.Write(h)
	b.WriteString(key)
	b.Write(payload)
	b.Write(binary.BigEndian.AppendUint32(hdr[:0], sum))
	return b.String()
}

// decodeValue parses and checks a stored value.
func decodeValue(s string) (stored, error) {
	var v stored
	if len(s) < 1+8+1+1+4 {
		return v, errMalformed
	}
	body, sum := s[:len(s)-4], s[len(s)-4:]
	if crc32.Update(0, castagnoli, []byte(body)) != binary.BigEndian.Uint32([]byte(sum)) {
		return v, errMalformed
	}
	return parseValueHeader(body)
}

// parseValueHeader parses the fields of body (a value without its checksum).
func parseValueHeader(body string) (stored, error) {
	var v stored
	v.kind = body[0]
	switch v.kind {
	case kindLive, kindTombstone, kindDamaged:
	default:
		return v, errMalformed
	}
	if len(body) < 9 {
		return v, errMalformed
	}
	v.expires = int64(binary.BigEndian.Uint64([]byte(body[1:9])))
	if v.expires < 0 {
		return v, errMalformed
	}
	rest := body[9:]
	count, n := uvarint(rest)
	if n <= 0 || count == 0 {
		return v, errMalformed
	}
	v.count = count
	rest = rest[n:]
	if count > 1 {
		if len(rest) < 8 {
			return v, errMalformed
		}
		v.batch = binary.BigEndian.Uint64([]byte(rest[:8]))
		rest = rest[8:]
	}
	klen, n := uvarint(rest)
	if n <= 0 || klen > maxEmbeddedKey || klen > uint64(len(rest)-n) {
		return v, errMalformed
	}
	rest = rest[n:]
	v.key = rest[:klen]
	v.payload = rest[klen:]
	return v, nil
}

// uvarint is binary.Uvarint over a string without copying it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
