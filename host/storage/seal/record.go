package seal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Sealed record layout (the value stored at a record's raw key):
//
//	format(1)=1 aead(1)=1 key version(4) nonce1(12) len(box1)(2) box1 nonce2(12) box2
//
//	box1 = AES-256-GCM(nonce1, expires(8, Unix ns; 0 never) len(name)(2) name zero padding)
//	box2 = AES-256-GCM(nonce2, len(value)(4) value zero padding)
//
// Plaintexts are padded to a multiple of padTo bytes. Both boxes' associated
// data bind the installation, the keyspace, the raw key and the header up
// to nonce1; box1 and box2 differ by a final byte. The name box is apart so
// that a query reads names without decrypting values.
const (
	recFormat     = 0x01
	aeadAESGCM    = 0x01
	nonceSize     = 12
	tagOverhead   = 16
	recHeaderSize = 1 + 1 + 4 + nonceSize // what the associated data binds
	padTo         = 32
)

// errUnknownVersion is a record sealed under a data key version the keyring
// does not hold: retired since it was read, or altered.
var errUnknownVersion = fmt.Errorf("%w: unknown data key version", storage.ErrIntegrity)

func integrity(reason string) error { return fmt.Errorf("%w: %s", storage.ErrIntegrity, reason) }

func recordAAD(inst string, space storage.Keyspace, raw string, hdr []byte, box byte) []byte {
	b := make([]byte, 0, 32+len(inst)+len(raw)+len(hdr))
	b = append(b, "chatbridge/seal/v1 record\x00"...)
	b = binary.AppendUvarint(b, uint64(len(inst)))
	b = append(b, inst...)
	b = append(b, byte(space))
	b = binary.AppendUvarint(b, uint64(len(raw)))
	b = append(b, raw...)
	b = append(b, hdr...)
	return append(b, box)
}

func padded(n int) int { return (n + padTo - 1) / padTo * padTo }

// seal seals one record under the keyring's current data key.
func (r *keyring) seal(space storage.Keyspace, raw, name string, value []byte, expires int64) []byte {
	aead := r.aeads[r.current]
	p1 := make([]byte, padded(8+2+len(name)))
	binary.BigEndian.PutUint64(p1, uint64(expires))
	binary.BigEndian.PutUint16(p1[8:], uint16(len(name)))
	copy(p1[10:], name)
	p2 := make([]byte, padded(4+len(value)))
	binary.BigEndian.PutUint32(p2, uint32(len(value)))
	copy(p2[4:], value)

	out := make([]byte, recHeaderSize+2, recHeaderSize+2+len(p1)+tagOverhead+nonceSize+len(p2)+tagOverhead)
	out[0], out[1] = recFormat, aeadAESGCM
	binary.BigEndian.PutUint32(out[2:], r.current)
	mustRand(out[6:recHeaderSize])
	binary.BigEndian.PutUint16(out[recHeaderSize:], uint16(len(p1)+tagOverhead))
	hdr := out[:recHeaderSize]
	out = aead.Seal(out, hdr[6:], p1, recordAAD(r.inst, space, raw, hdr, 1))
	n2 := len(out)
	out = out[:n2+nonceSize]
	mustRand(out[n2:])
	return aead.Seal(out, out[n2:], p2, recordAAD(r.inst, space, raw, hdr, 2))
}

func mustRand(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
}

// opened is a record whose name box has been opened.
type opened struct {
	name    string
	expires int64
	version uint32
	space   storage.Keyspace
	raw     string
	hdr     []byte // the header box 2's associated data binds
	box2    []byte // nonce2 || box2
}

// recordVersion reads a record's data key version without opening it.
func recordVersion(rec []byte) (uint32, bool) {
	if len(rec) < recHeaderSize || rec[0] != recFormat {
		return 0, false
	}
	return binary.BigEndian.Uint32(rec[2:]), true
}

// openName opens a record's name box.
func (r *keyring) openName(space storage.Keyspace, raw string, rec []byte) (opened, error) {
	o, _, err := r.openNameInto(nil, space, raw, rec)
	return o, err
}

// openNameInto is openName decrypting into buf, which it returns for reuse.
func (r *keyring) openNameInto(buf []byte, space storage.Keyspace, raw string, rec []byte) (opened, []byte, error) {
	var o opened
	if len(rec) < recHeaderSize+2 {
		return o, buf, integrity("record truncated")
	}
	if rec[0] != recFormat || rec[1] != aeadAESGCM {
		return o, buf, integrity("unknown record format")
	}
	o.version = binary.BigEndian.Uint32(rec[2:])
	aead, ok := r.aeads[o.version]
	if !ok {
		return o, buf, errUnknownVersion
	}
	hdr := rec[:recHeaderSize]
	n1 := int(binary.BigEndian.Uint16(rec[recHeaderSize:]))
	rest := rec[recHeaderSize+2:]
	if n1 < tagOverhead+padTo || n1 > len(rest) || len(rest)-n1 < nonceSize+tagOverhead+padTo {
		return o, buf, integrity("record truncated")
	}
	p1, err := aead.Open(buf[:0], hdr[6:], rest[:n1], recordAAD(r.inst, space, raw, hdr, 1))
	if err != nil {
		return o, buf, integrity("record fails authentication")
	}
	buf = p1
	nameLen := int(binary.BigEndian.Uint16(p1[8:]))
	if 10+nameLen > len(p1) {
		return o, buf, integrity("record malformed")
	}
	o.expires = int64(binary.BigEndian.Uint64(p1))
	o.name = string(p1[10 : 10+nameLen])
	o.space, o.raw, o.hdr = space, raw, hdr
	o.box2 = rest[n1:]
	return o, buf, nil
}

// openValue opens the value box of a record whose name box is open.
func (r *keyring) openValue(o opened) ([]byte, error) {
	aead, ok := r.aeads[o.version]
	if !ok {
		return nil, errUnknownVersion
	}
	p2, err := aead.Open(nil, o.box2[:nonceSize], o.box2[nonceSize:], recordAAD(r.inst, o.space, o.raw, o.hdr, 2))
	if err != nil {
		return nil, integrity("record fails authentication")
	}
	n := binary.BigEndian.Uint32(p2)
	if uint64(n)+4 > uint64(len(p2)) {
		return nil, integrity("record malformed")
	}
	return p2[4 : 4+n : 4+n], nil
}

// retryable reports an error worth reading the record again for: its data
// key was retired after the read.
func retryable(err error, r, now *keyring) bool {
	return errors.Is(err, errUnknownVersion) && r != now && now != nil
}
