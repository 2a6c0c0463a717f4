package fuel

import "fmt"

// reader decodes the WebAssembly binary encoding from buf. base is the
// offset of buf[0] in the whole module, so that errors name module offsets.
type reader struct {
	buf  []byte
	pos  int
	base int
}

func (r *reader) offset() int { return r.base + r.pos }

func (r *reader) remaining() int { return len(r.buf) - r.pos }

func (r *reader) truncated(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrTruncated, what, r.offset())
}

func (r *reader) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), r.offset())
}

func (r *reader) byte(what string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.truncated(what)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

func (r *reader) skip(n int, what string) error {
	if n < 0 || n > r.remaining() {
		return r.truncated(what)
	}
	r.pos += n
	return nil
}

// unsigned decodes an unsigned LEB128 integer of at most bits bits and
// returns it with the number of bytes it took.
func (r *reader) unsigned(bits int, what string) (uint64, int, error) {
	maxBytes := (bits + 6) / 7
	lastBits := bits - 7*(maxBytes-1)
	var v uint64
	for i := 0; i < maxBytes; i++ {
		if r.pos >= len(r.buf) {
			return 0, 0, r.truncated(what)
		}
		b := r.buf[r.pos]
		r.pos++
		if i == maxBytes-1 && b >= 1<<lastBits {
			return 0, 0, r.malformed("%s: integer too large", what)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	panic("unreachable")
}

// signed decodes a signed LEB128 integer of at most bits bits.
func (r *reader) signed(bits int, what string) (int64, error) {
	maxBytes := (bits + 6) / 7
	lastBits := bits - 7*(maxBytes-1)
	signMask := byte(0x7f) &^ (1<<(lastBits-1) - 1)
	var v int64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		if r.pos >= len(r.buf) {
			return 0, r.truncated(what)
		}
		b := r.buf[r.pos]
		r.pos++
		if i == maxBytes-1 && (b&0x80 != 0 || (b&signMask != 0 && b&signMask != signMask)) {
			return 0, r.malformed("%s: integer too large", what)
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	panic("unreachable")
}

func (r *reader) u32(what string) (uint32, error) {
	v, _, err := r.unsigned(32, what)
	return uint32(v), err
}

// count decodes a vector length and rejects one that cannot fit in what is
// left, each element taking at least one byte.
func (r *reader) count(what string) (uint32, error) {
	n, err := r.u32(what)
	if err != nil {
		return 0, err
	}
	if int64(n) > int64(r.remaining()) {
		return 0, r.malformed("%s: %d elements do not fit in %d bytes", what, n, r.remaining())
	}
	return n, nil
}

// bytes decodes a length-prefixed byte vector (a name).
func (r *reader) bytes(what string) ([]byte, error) {
	n, err := r.u32(what)
	if err != nil {
		return nil, err
	}
	if int64(n) > int64(r.remaining()) {
		return nil, r.truncated(what)
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// appendU32 appends v as the shortest unsigned LEB128.
func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendU32Width appends v in width bytes when it fits, so that indices the
// producer padded (Go's linker pads call targets to 5 bytes) keep their size;
// otherwise it appends the shortest encoding.
func appendU32Width(dst []byte, v uint32, width int) []byte {
	if width > 5 || uint64(v) >= 1<<(7*width) {
		return appendU32(dst, v)
	}
	for i := 0; i < width-1; i++ {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendS32 appends v as the shortest signed LEB128.
func appendS32(dst []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}
