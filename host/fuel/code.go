package fuel

import "fmt"

// What follows an opcode byte, for the single-byte opcodes. Zero means the
// opcode is unknown.
type immediate uint8

const (
	immUnknown      immediate = iota
	immNone                   // no immediate
	immU32                    // one index or depth
	immU32x2                  // two indices
	immGlobal                 // a global index, checked
	immCallIndirect           // a type index, checked, then a table index
	immBlock                  // block type (block, if)
	immLoop                   // block type, then the fuel check goes in
	immEnd                    // end of a block or of the expression
	immBrTable                // vector of depths, then a default depth
	immFunc                   // a function index to remap
	immSelectT                // vector of value types
	immMemarg                 // alignment, optional memory index, offset
	immI32                    // signed LEB128, 32 bits
	immI64                    // signed LEB128, 64 bits
	immF32                    // 4 bytes
	immF64                    // 8 bytes
	immRefNull                // reference type
	immPrefixFC               // saturating conversions, bulk memory, tables
	immPrefixFD               // SIMD
	immPrefixFE               // threads
	immExceptions             // exception handling: refused
	immFuncRefs               // typed function references: refused
	immGC                     // garbage collection: refused
)

var immediates = func() (t [256]immediate) {
	set := func(kind immediate, ops ...byte) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	span := func(kind immediate, from, to byte) {
		for op := int(from); op <= int(to); op++ {
			t[op] = kind
		}
	}
	set(immNone, 0x00, 0x01, 0x05, 0x0f, 0x1a, 0x1b, 0xd1)
	span(immNone, 0x45, 0xc4) // numeric, including sign extension 0xc0-0xc4
	set(immBlock, 0x02, 0x04)
	set(immLoop, 0x03)
	set(immEnd, 0x0b)
	set(immU32, 0x0c, 0x0d, 0x3f, 0x40)
	span(immU32, 0x20, 0x22)   // local.*
	set(immGlobal, 0x23, 0x24) // global.get, global.set
	set(immU32, 0x25, 0x26)    // table.get, table.set
	set(immBrTable, 0x0e)
	set(immFunc, 0x10, 0x12, 0xd2)   // call, return_call, ref.func
	set(immCallIndirect, 0x11, 0x13) // call_indirect, return_call_indirect
	set(immSelectT, 0x1c)
	span(immMemarg, 0x28, 0x3e)
	set(immI32, 0x41)
	set(immI64, 0x42)
	set(immF32, 0x43)
	set(immF64, 0x44)
	set(immRefNull, 0xd0)
	set(immPrefixFC, 0xfc)
	set(immPrefixFD, 0xfd)
	set(immPrefixFE, 0xfe)
	set(immExceptions, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f)
	set(immFuncRefs, 0x14, 0x15, 0xd4, 0xd5, 0xd6)
	set(immGC, 0xd3, 0xfb)
	return t
}()

// SIMD (0xfd) sub-opcodes and their immediates.
var simdImmediates = func() (t [0x114]immediate) {
	for op := range 0x100 {
		t[op] = immNone
	}
	for op := 0x100; op <= 0x113; op++ { // relaxed SIMD
		t[op] = immNone
	}
	for _, op := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		t[op] = immUnknown // never assigned
	}
	for op := 0x00; op <= 0x0b; op++ { // v128.load*, v128.store
		t[op] = immMemarg
	}
	t[0x5c], t[0x5d] = immMemarg, immMemarg // v128.load32_zero, v128.load64_zero
	t[0x0c], t[0x0d] = simdBytes16, simdBytes16
	for op := 0x15; op <= 0x22; op++ { // extract_lane, replace_lane
		t[op] = simdLane
	}
	for op := 0x54; op <= 0x5b; op++ { // v128.load*_lane, v128.store*_lane
		t[op] = simdMemargLane
	}
	return t
}()

// Immediates that only SIMD has.
const (
	simdBytes16    immediate = 100 + iota // v128.const, i8x16.shuffle
	simdLane                              // one lane index byte
	simdMemargLane                        // memarg, then a lane index byte
)

// expr copies one expression (a function body after its locals, or a
// constant expression) from r to dst up to and including its final end. It
// remaps function indices and, when body is set, inserts the fuel check
// after each loop's block type. Bytes that do not change are copied in runs.
func (rw *rewriter) expr(r *reader, dst []byte, body bool) ([]byte, error) {
	mark := r.pos
	depth := 0
	for {
		at := r.pos
		op, err := r.byte("instruction")
		if err != nil {
			return nil, err
		}
		switch immediates[op] {
		case immNone:
		case immU32:
			_, err = r.u32("index")
		case immGlobal:
			err = rw.globalIndex(r)
		case immCallIndirect:
			if err = rw.typeIndex(r); err == nil {
				_, err = r.u32("table index")
			}
		case immBlock:
			err = rw.blockType(r)
			depth++
		case immLoop:
			if err = rw.blockType(r); err != nil {
				return nil, err
			}
			depth++
			if body {
				dst = append(dst, r.buf[mark:r.pos]...)
				dst = append(dst, rw.check...)
				mark = r.pos
				rw.stats.Loops++
			}
		case immEnd:
			if depth == 0 {
				return append(dst, r.buf[mark:r.pos]...), nil
			}
			depth--
		case immBrTable:
			var n uint32
			if n, err = r.count("br_table"); err != nil {
				return nil, err
			}
			for i := uint32(0); i <= n && err == nil; i++ {
				_, err = r.u32("br_table depth")
			}
		case immFunc:
			dst = append(dst, r.buf[mark:r.pos]...)
			if dst, err = rw.funcIndex(r, dst); err != nil {
				return nil, err
			}
			mark = r.pos
		case immSelectT:
			var n uint32
			if n, err = r.count("select types"); err != nil {
				return nil, err
			}
			for i := uint32(0); i < n && err == nil; i++ {
				err = r.valType()
			}
		case immMemarg:
			err = r.memarg()
		case immI32:
			_, err = r.signed(32, "i32.const")
		case immI64:
			_, err = r.signed(64, "i64.const")
		case immF32:
			err = r.skip(4, "f32.const")
		case immF64:
			err = r.skip(8, "f64.const")
		case immRefNull:
			err = r.refType()
		case immPrefixFC:
			err = r.prefixFC(at)
		case immPrefixFD:
			err = r.prefixFD(at)
		case immPrefixFE:
			err = r.prefixFE(at)
		case immExceptions:
			return nil, fmt.Errorf("%w: exception handling instruction 0x%02x at offset %d", ErrUnsupported, op, r.base+at)
		case immFuncRefs:
			return nil, fmt.Errorf("%w: typed function references instruction 0x%02x at offset %d", ErrUnsupported, op, r.base+at)
		case immGC:
			return nil, fmt.Errorf("%w: garbage collection instruction 0x%02x at offset %d", ErrUnsupported, op, r.base+at)
		default:
			return nil, fmt.Errorf("%w 0x%02x at offset %d", ErrUnknownOpcode, op, r.base+at)
		}
		if err != nil {
			return nil, err
		}
	}
}

// funcIndex copies a function index from r to dst, remapped, keeping its
// encoded width when the new value fits.
func (rw *rewriter) funcIndex(r *reader, dst []byte) ([]byte, error) {
	v, width, err := r.unsigned(32, "function index")
	if err != nil {
		return nil, err
	}
	idx := uint32(v)
	if idx >= rw.totalFuncs {
		return nil, fmt.Errorf("%w: function index %d out of range (%d functions) at offset %d",
			ErrMalformed, idx, rw.totalFuncs, r.offset()-width)
	}
	return appendU32Width(dst, rw.remap(idx), width), nil
}

// The rewrite adds a global and maybe a type at the end of their index
// spaces. An index that was out of range in the input would then name the
// new one and turn an invalid module into a valid one; for the global, a
// guest could even reset its own fuel. So both are checked against the
// input's counts.

func (rw *rewriter) globalIndex(r *reader) error {
	idx, err := r.u32("global index")
	if err != nil {
		return err
	}
	if idx >= rw.globals {
		return fmt.Errorf("%w: global index %d out of range (%d globals) at offset %d", ErrMalformed, idx, rw.globals, r.offset())
	}
	return nil
}

func (rw *rewriter) typeIndex(r *reader) error {
	idx, err := r.u32("type index")
	if err != nil {
		return err
	}
	return rw.checkType(r, int64(idx))
}

func (rw *rewriter) checkType(r *reader, idx int64) error {
	if idx >= int64(rw.types) {
		return fmt.Errorf("%w: type index %d out of range (%d types) at offset %d", ErrMalformed, idx, rw.types, r.offset())
	}
	return nil
}

// remap returns the new index of function idx: imported functions keep
// theirs, defined ones move up by one for the new import.
func (rw *rewriter) remap(idx uint32) uint32 {
	if idx >= rw.importedFuncs {
		return idx + 1
	}
	return idx
}

func (r *reader) prefixFC(at int) error {
	sub, err := r.u32("0xfc sub-opcode")
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // saturating float-to-int
		return nil
	case sub == 9 || sub == 11 || sub == 13 || sub == 15 || sub == 16 || sub == 17:
		// data.drop, memory.fill, elem.drop, table.grow, table.size, table.fill
		_, err = r.u32("index")
		return err
	case sub == 8 || sub == 10 || sub == 12 || sub == 14:
		// memory.init, memory.copy, table.init, table.copy
		if _, err = r.u32("index"); err != nil {
			return err
		}
		_, err = r.u32("index")
		return err
	}
	return fmt.Errorf("%w 0xfc %d at offset %d", ErrUnknownOpcode, sub, r.base+at)
}

func (r *reader) prefixFD(at int) error {
	sub, err := r.u32("0xfd sub-opcode")
	if err != nil {
		return err
	}
	kind := immUnknown
	if sub < uint32(len(simdImmediates)) {
		kind = simdImmediates[sub]
	}
	switch kind {
	case immNone:
		return nil
	case immMemarg:
		return r.memarg()
	case simdMemargLane:
		if err = r.memarg(); err != nil {
			return err
		}
		return r.skip(1, "lane index")
	case simdLane:
		return r.skip(1, "lane index")
	case simdBytes16:
		return r.skip(16, "v128 immediate")
	}
	return fmt.Errorf("%w 0xfd 0x%x at offset %d", ErrUnknownOpcode, sub, r.base+at)
}

func (r *reader) prefixFE(at int) error {
	sub, err := r.u32("0xfe sub-opcode")
	if err != nil {
		return err
	}
	switch {
	case sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e):
		return r.memarg()
	case sub == 0x03: // atomic.fence
		b, err := r.byte("atomic.fence")
		if err != nil {
			return err
		}
		if b != 0 {
			return r.malformed("atomic.fence: reserved byte 0x%02x", b)
		}
		return nil
	}
	return fmt.Errorf("%w 0xfe 0x%x at offset %d", ErrUnknownOpcode, sub, r.base+at)
}

// memarg skips a memory argument: alignment, a memory index when bit 6 of
// the alignment says so (multi-memory), and an offset (64 bits for memory64).
func (r *reader) memarg() error {
	align, err := r.u32("alignment")
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err = r.u32("memory index"); err != nil {
			return err
		}
	}
	_, _, err = r.unsigned(64, "offset")
	return err
}

// blockType skips the type of a block, loop or if: empty, one value type, or
// a type index (s33).
func (rw *rewriter) blockType(r *reader) error {
	if r.pos >= len(r.buf) {
		return r.truncated("block type")
	}
	b := r.buf[r.pos]
	if b < 0x80 && b >= 0x40 { // a one-byte negative s33: empty or a value type
		if b == 0x40 {
			r.pos++
			return nil
		}
		return r.valType()
	}
	v, err := r.signed(33, "block type")
	if err != nil {
		return err
	}
	if v < 0 {
		return r.malformed("block type %d", v)
	}
	return rw.checkType(r, v)
}

// valType skips a value type.
func (r *reader) valType() error {
	b, err := r.byte("value type")
	if err != nil {
		return err
	}
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return nil
	case 0x63, 0x64: // (ref null ht), (ref ht)
		return fmt.Errorf("%w: typed function references value type 0x%02x at offset %d", ErrUnsupported, b, r.offset()-1)
	case 0x69: // exnref
		return fmt.Errorf("%w: exception handling value type 0x%02x at offset %d", ErrUnsupported, b, r.offset()-1)
	}
	return fmt.Errorf("%w: value type 0x%02x at offset %d", ErrMalformed, b, r.offset()-1)
}

// refType skips a reference type.
func (r *reader) refType() error {
	b, err := r.byte("reference type")
	if err != nil {
		return err
	}
	switch b {
	case 0x70, 0x6f:
		return nil
	}
	return fmt.Errorf("%w: reference type 0x%02x at offset %d", ErrUnsupported, b, r.offset()-1)
}
