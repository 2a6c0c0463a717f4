package fuel

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank is the order in which known sections must appear.
var sectionRank = [...]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11,
	secCode: 12, secData: 13,
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Custom sections that hold code offsets, which the inserted checks move.
var droppedPrefixes = []string{".debug_", "reloc.", "metadata.code."}

type section struct {
	id         byte
	name       string // custom sections only
	head       int    // offset of the id byte
	start, end int    // payload
}

// rewriter holds one rewrite's state.
type rewriter struct {
	in      []byte
	quantum uint32
	stats   Stats

	exportGlobals bool
	mutable       []uint32 // indices of the mutable globals the module defines

	sections []section
	byID     [secTag + 1]int // index+1 into sections; 0 when absent

	types           uint32
	yieldType       uint32 // existing () -> i32 type, when haveYieldType
	haveYieldType   bool
	importedFuncs   uint32
	definedFuncs    uint32
	totalFuncs      uint32 // before the rewrite
	importedGlobals uint32
	definedGlobals  uint32
	globals         uint32 // importedGlobals + definedGlobals

	check []byte // the fuel check inserted after each loop's block type
}

func (rw *rewriter) run() ([]byte, error) {
	if len(rw.in) < len(header) || !bytes.Equal(rw.in[:len(header)], header) {
		return nil, ErrNotModule
	}
	if err := rw.split(); err != nil {
		return nil, err
	}
	if err := rw.survey(); err != nil {
		return nil, err
	}

	yieldFunc := rw.importedFuncs
	fuelGlobal := rw.globals
	rw.check = appendCheck(nil, fuelGlobal, yieldFunc)

	out := make([]byte, 0, len(rw.in)+len(rw.in)/16+64)
	out = append(out, header...)
	var scratch []byte

	// New sections go in before the first existing section that must follow
	// them.
	missing := []byte{}
	for _, id := range []byte{secType, secImport, secGlobal, secExport} {
		if id == secExport && !rw.exportGlobals {
			continue
		}
		if rw.byID[id] == 0 {
			missing = append(missing, id)
		}
	}
	emitMissing := func(before int) error {
		for len(missing) > 0 && sectionRank[missing[0]] < before {
			var err error
			if scratch, err = rw.payload(section{id: missing[0]}, scratch[:0]); err != nil {
				return err
			}
			out = appendSection(out, missing[0], scratch)
			missing = missing[1:]
		}
		return nil
	}

	for _, s := range rw.sections {
		if s.id == secCustom {
			switch {
			case s.name == "name":
				named, ok := rw.nameSection(s, scratch[:0])
				if !ok {
					rw.stats.DroppedSections = append(rw.stats.DroppedSections, s.name)
					continue
				}
				scratch = named
				out = appendSection(out, secCustom, scratch)
			case dropped(s.name):
				rw.stats.DroppedSections = append(rw.stats.DroppedSections, s.name)
			default:
				out = append(out, rw.in[s.head:s.end]...)
			}
			continue
		}
		if err := emitMissing(sectionRank[s.id]); err != nil {
			return nil, err
		}
		switch s.id {
		case secFunction, secTable, secMemory, secDataCount, secData:
			out = append(out, rw.in[s.head:s.end]...)
		case secType:
			if rw.haveYieldType {
				out = append(out, rw.in[s.head:s.end]...)
				continue
			}
			fallthrough
		default:
			var err error
			if scratch, err = rw.payload(s, scratch[:0]); err != nil {
				return nil, err
			}
			out = appendSection(out, s.id, scratch)
		}
	}
	if err := emitMissing(len(sectionRank) + 1); err != nil {
		return nil, err
	}
	return out, nil
}

func dropped(name string) bool {
	for _, p := range droppedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// appendCheck appends the fuel check:
//
//	global.get F; i32.const 1; i32.sub; global.set F
//	global.get F; i32.eqz; if; call yield; global.set F; end
func appendCheck(dst []byte, global, yield uint32) []byte {
	dst = append(dst, 0x23)
	dst = appendU32(dst, global)
	dst = append(dst, 0x41, 0x01, 0x6b, 0x24)
	dst = appendU32(dst, global)
	dst = append(dst, 0x23)
	dst = appendU32(dst, global)
	dst = append(dst, 0x45, 0x04, 0x40, 0x10)
	dst = appendU32(dst, yield)
	dst = append(dst, 0x24)
	dst = appendU32(dst, global)
	return append(dst, 0x0b)
}

func appendSection(dst []byte, id byte, payload []byte) []byte {
	dst = append(dst, id)
	dst = appendU32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// split finds the sections and checks their order.
func (rw *rewriter) split() error {
	r := &reader{buf: rw.in, pos: len(header)}
	lastRank := 0
	for r.remaining() > 0 {
		head := r.pos
		id, _ := r.byte("section id")
		size, err := r.u32("section size")
		if err != nil {
			return err
		}
		if int64(size) > int64(r.remaining()) {
			return r.truncated(fmt.Sprintf("section %d", id))
		}
		s := section{id: id, head: head, start: r.pos, end: r.pos + int(size)}
		switch {
		case id == secCustom:
			name, err := (&reader{buf: rw.in[:s.end], pos: s.start}).bytes("custom section name")
			if err != nil {
				return err
			}
			s.name = string(name)
		case id == secTag:
			return fmt.Errorf("%w: exception handling tag section at offset %d", ErrUnsupported, head)
		case int(id) >= len(sectionRank):
			return fmt.Errorf("%w: unknown section id %d at offset %d", ErrMalformed, id, head)
		default:
			if sectionRank[id] <= lastRank {
				return fmt.Errorf("%w: section %d out of order or repeated at offset %d", ErrMalformed, id, head)
			}
			lastRank = sectionRank[id]
			rw.byID[id] = len(rw.sections) + 1
		}
		rw.sections = append(rw.sections, s)
		r.pos = s.end
	}
	return nil
}

// sectionReader returns a reader over the payload of the section with id,
// or nil when the module has none.
func (rw *rewriter) sectionReader(id byte) *reader {
	i := rw.byID[id]
	if i == 0 {
		return nil
	}
	s := rw.sections[i-1]
	return &reader{buf: rw.in[s.start:s.end], base: s.start}
}

// survey reads the counts that the rewrite needs before it writes anything:
// types, imports, functions and globals.
func (rw *rewriter) survey() error {
	if r := rw.sectionReader(secType); r != nil {
		n, err := r.count("types")
		if err != nil {
			return err
		}
		rw.types = n
		for i := range n {
			form, err := r.byte("type form")
			if err != nil {
				return err
			}
			if form != 0x60 {
				return fmt.Errorf("%w: type form 0x%02x (garbage collection) at offset %d", ErrUnsupported, form, r.offset()-1)
			}
			params, err := r.valTypes()
			if err != nil {
				return err
			}
			results, err := r.valTypes()
			if err != nil {
				return err
			}
			if !rw.haveYieldType && params == 0 && results == 1 && r.buf[r.pos-1] == 0x7f {
				rw.yieldType, rw.haveYieldType = i, true
			}
		}
		if r.remaining() != 0 {
			return r.malformed("type section: trailing bytes")
		}
	}
	if r := rw.sectionReader(secImport); r != nil {
		n, err := r.count("imports")
		if err != nil {
			return err
		}
		for range n {
			module, err := r.bytes("import module name")
			if err != nil {
				return err
			}
			if string(module) == ImportModule {
				return ErrAlreadyInstrumented
			}
			if _, err = r.bytes("import name"); err != nil {
				return err
			}
			kind, err := r.byte("import kind")
			if err != nil {
				return err
			}
			switch kind {
			case 0x00:
				if rw.importedFuncs == 1<<32-2 {
					return r.malformed("too many functions")
				}
				rw.importedFuncs++
				err = rw.typeIndex(r)
			case 0x01:
				if err = r.refType(); err == nil {
					err = r.limits()
				}
			case 0x02:
				err = r.limits()
			case 0x03:
				rw.importedGlobals++
				err = r.globalType()
			case 0x04:
				return fmt.Errorf("%w: exception handling tag import at offset %d", ErrUnsupported, r.offset()-1)
			default:
				return r.malformed("import kind 0x%02x", kind)
			}
			if err != nil {
				return err
			}
		}
		if r.remaining() != 0 {
			return r.malformed("import section: trailing bytes")
		}
	}
	if r := rw.sectionReader(secFunction); r != nil {
		n, err := r.count("functions")
		if err != nil {
			return err
		}
		rw.definedFuncs = n
		for range n {
			if err = rw.typeIndex(r); err != nil {
				return err
			}
		}
	}
	if uint64(rw.importedFuncs)+uint64(rw.definedFuncs) >= 1<<32-1 {
		return fmt.Errorf("%w: too many functions", ErrMalformed)
	}
	rw.totalFuncs = rw.importedFuncs + rw.definedFuncs
	r := rw.sectionReader(secGlobal)
	if r != nil {
		n, err := r.count("globals")
		if err != nil {
			return err
		}
		rw.definedGlobals = n
	}
	if uint64(rw.importedGlobals)+uint64(rw.definedGlobals) >= 1<<32-1 {
		return fmt.Errorf("%w: too many globals", ErrMalformed)
	}
	rw.globals = rw.importedGlobals + rw.definedGlobals
	if r != nil && rw.exportGlobals {
		for i := range rw.definedGlobals {
			if err := r.globalType(); err != nil {
				return err
			}
			if r.buf[r.pos-1] == 1 {
				rw.mutable = append(rw.mutable, rw.importedGlobals+i)
			}
			if _, err := rw.expr(r, nil, false); err != nil {
				return err
			}
		}
	}
	if r := rw.sectionReader(secTable); r != nil {
		// Tables with an initializer (typed function references) could hold
		// ref.func; refuse them rather than copy an index unchanged.
		n, err := r.count("tables")
		if err != nil {
			return err
		}
		for range n {
			if r.remaining() > 0 && r.buf[r.pos] == 0x40 {
				return fmt.Errorf("%w: table with initializer (typed function references) at offset %d", ErrUnsupported, r.offset())
			}
			if err = r.refType(); err == nil {
				err = r.limits()
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// valTypes skips a vector of value types and returns its length.
func (r *reader) valTypes() (uint32, error) {
	n, err := r.count("value types")
	if err != nil {
		return 0, err
	}
	for range n {
		if err = r.valType(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// limits skips the limits of a table or memory: flags (bit 0: has maximum,
// bit 1: shared, bit 2: 64-bit), minimum and maximum.
func (r *reader) limits() error {
	flags, err := r.byte("limits")
	if err != nil {
		return err
	}
	if flags > 0x07 {
		return r.malformed("limits flags 0x%02x", flags)
	}
	bits := 32
	if flags&0x04 != 0 {
		bits = 64
	}
	if _, _, err = r.unsigned(bits, "limits minimum"); err != nil {
		return err
	}
	if flags&0x01 != 0 {
		_, _, err = r.unsigned(bits, "limits maximum")
	}
	return err
}

func (r *reader) globalType() error {
	if err := r.valType(); err != nil {
		return err
	}
	mut, err := r.byte("global mutability")
	if err != nil {
		return err
	}
	if mut > 1 {
		return r.malformed("global mutability 0x%02x", mut)
	}
	return nil
}

// payload appends the rewritten payload of s to dst. A section with no
// payload in the input (start == end == 0) is a new one.
func (rw *rewriter) payload(s section, dst []byte) ([]byte, error) {
	r := &reader{buf: rw.in[s.start:s.end], base: s.start}
	var err error
	switch s.id {
	case secType:
		dst, err = rw.typeSection(r, dst)
	case secImport:
		dst, err = rw.importSection(r, dst)
	case secGlobal:
		dst, err = rw.globalSection(r, dst)
	case secExport:
		dst, err = rw.exportSection(r, dst)
	case secStart:
		dst, err = rw.funcIndex(r, dst)
	case secElement:
		dst, err = rw.elementSection(r, dst)
	case secCode:
		dst, err = rw.codeSection(r, dst)
	default:
		panic(fmt.Sprintf("fuel: no rewrite for section %d", s.id))
	}
	if err != nil {
		return nil, err
	}
	if r.remaining() != 0 {
		return nil, r.malformed("section %d: trailing bytes", s.id)
	}
	return dst, nil
}

// typeSection appends a () -> i32 type; survey found none to reuse.
func (rw *rewriter) typeSection(r *reader, dst []byte) ([]byte, error) {
	if r.remaining() > 0 {
		if _, err := r.count("types"); err != nil {
			return nil, err
		}
	}
	dst = appendU32(dst, rw.types+1)
	dst = append(dst, r.buf[r.pos:]...)
	r.pos = len(r.buf)
	return append(dst, 0x60, 0x00, 0x01, 0x7f), nil
}

// importSection appends the yield import after the existing imports, so it
// takes the first function index after the imported functions.
func (rw *rewriter) importSection(r *reader, dst []byte) ([]byte, error) {
	var n uint32
	if r.remaining() > 0 {
		var err error
		if n, err = r.count("imports"); err != nil {
			return nil, err
		}
	}
	dst = appendU32(dst, n+1)
	dst = append(dst, r.buf[r.pos:]...)
	r.pos = len(r.buf)
	dst = appendU32(dst, uint32(len(ImportModule)))
	dst = append(dst, ImportModule...)
	dst = appendU32(dst, uint32(len(ImportName)))
	dst = append(dst, ImportName...)
	dst = append(dst, 0x00)
	typ := rw.types
	if rw.haveYieldType {
		typ = rw.yieldType
	}
	return appendU32(dst, typ), nil
}

// globalSection remaps the initializers and appends the fuel counter, which
// takes the last global index so no other global moves.
func (rw *rewriter) globalSection(r *reader, dst []byte) ([]byte, error) {
	var n uint32
	if r.remaining() > 0 {
		var err error
		if n, err = r.count("globals"); err != nil {
			return nil, err
		}
	}
	dst = appendU32(dst, n+1)
	for range n {
		start := r.pos
		if err := r.globalType(); err != nil {
			return nil, err
		}
		dst = append(dst, r.buf[start:r.pos]...)
		var err error
		if dst, err = rw.expr(r, dst, false); err != nil {
			return nil, err
		}
	}
	dst = append(dst, 0x7f, 0x01, 0x41) // mutable i32, i32.const
	dst = appendS32(dst, int32(rw.quantum))
	return append(dst, 0x0b), nil
}

func (rw *rewriter) exportSection(r *reader, dst []byte) ([]byte, error) {
	var n uint32
	if r.remaining() > 0 {
		var err error
		if n, err = r.count("exports"); err != nil {
			return nil, err
		}
	}
	added := 0
	if rw.exportGlobals {
		added = len(rw.mutable) + 1 // and the fuel counter
	}
	dst = appendU32(dst, n+uint32(added))
	if rw.exportGlobals {
		for _, g := range append(rw.mutable, rw.globals) {
			name := GlobalExportPrefix + strconv.FormatUint(uint64(g), 10)
			rw.stats.Globals = append(rw.stats.Globals, name)
			dst = appendU32(dst, uint32(len(name)))
			dst = append(dst, name...)
			dst = append(dst, 0x03)
			dst = appendU32(dst, g)
		}
	}
	var err error
	for range n {
		start := r.pos
		if _, err = r.bytes("export name"); err != nil {
			return nil, err
		}
		kind, err := r.byte("export kind")
		if err != nil {
			return nil, err
		}
		dst = append(dst, r.buf[start:r.pos]...)
		switch kind {
		case 0x00:
			dst, err = rw.funcIndex(r, dst)
		case 0x03:
			start = r.pos
			err = rw.globalIndex(r)
			dst = append(dst, r.buf[start:r.pos]...)
		case 0x01, 0x02, 0x04: // table, memory, tag
			start = r.pos
			_, err = r.u32("export index")
			dst = append(dst, r.buf[start:r.pos]...)
		default:
			err = r.malformed("export kind 0x%02x", kind)
		}
		if err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// elementSection remaps the function indices of all eight segment forms:
// bit 0 of the flags means passive or declarative, bit 1 an explicit table
// (active) or declarative, bit 2 expressions rather than function indices.
func (rw *rewriter) elementSection(r *reader, dst []byte) ([]byte, error) {
	n, err := r.count("element segments")
	if err != nil {
		return nil, err
	}
	dst = appendU32(dst, n)
	for range n {
		start := r.pos
		flags, err := r.u32("element segment flags")
		if err != nil {
			return nil, err
		}
		if flags > 7 {
			return nil, r.malformed("element segment flags %d", flags)
		}
		if flags&0x03 == 0x02 {
			if _, err = r.u32("table index"); err != nil {
				return nil, err
			}
		}
		dst = append(dst, r.buf[start:r.pos]...)
		if flags&0x01 == 0 { // active: offset expression
			if dst, err = rw.expr(r, dst, false); err != nil {
				return nil, err
			}
		}
		start = r.pos
		if flags&0x03 != 0 { // element kind (0x00: funcref) or reference type
			kind, err := r.byte("element kind")
			if err != nil {
				return nil, err
			}
			if flags&0x04 == 0 && kind != 0x00 {
				return nil, r.malformed("element kind 0x%02x", kind)
			}
			if flags&0x04 != 0 && kind != 0x70 && kind != 0x6f {
				return nil, fmt.Errorf("%w: element reference type 0x%02x at offset %d", ErrUnsupported, kind, r.offset()-1)
			}
		}
		items, err := r.count("element items")
		if err != nil {
			return nil, err
		}
		dst = append(dst, r.buf[start:r.pos]...)
		for range items {
			if flags&0x04 == 0 {
				dst, err = rw.funcIndex(r, dst)
			} else {
				dst, err = rw.expr(r, dst, false)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return dst, nil
}

func (rw *rewriter) codeSection(r *reader, dst []byte) ([]byte, error) {
	n, err := r.count("function bodies")
	if err != nil {
		return nil, err
	}
	if n != rw.definedFuncs {
		return nil, fmt.Errorf("%w: %d function bodies for %d functions", ErrMalformed, n, rw.definedFuncs)
	}
	dst = appendU32(dst, n)
	var body []byte
	for range n {
		size, err := r.u32("function body size")
		if err != nil {
			return nil, err
		}
		if int64(size) > int64(r.remaining()) {
			return nil, r.truncated("function body")
		}
		br := &reader{buf: r.buf[r.pos : r.pos+int(size)], base: r.base + r.pos}
		r.pos += int(size)
		groups, err := br.count("local groups")
		if err != nil {
			return nil, err
		}
		for range groups {
			if _, err = br.u32("local count"); err != nil {
				return nil, err
			}
			if err = br.valType(); err != nil {
				return nil, err
			}
		}
		body = append(body[:0], br.buf[:br.pos]...)
		if body, err = rw.expr(br, body, true); err != nil {
			return nil, err
		}
		if br.remaining() != 0 {
			return nil, br.malformed("bytes after the end of a function body")
		}
		dst = appendU32(dst, uint32(len(body)))
		dst = append(dst, body...)
		rw.stats.Functions++
	}
	return dst, nil
}

// nameSection appends the "name" custom section with function indices
// remapped and a name for the yield import. Names only help debugging, and
// a subsection that cannot be remapped (unknown here, or unparseable) may
// hold function indices that would now be wrong, so it is dropped; when the
// subsections cannot even be told apart, so is the whole section. It
// reports false in that case.
func (rw *rewriter) nameSection(s section, dst []byte) ([]byte, bool) {
	r := &reader{buf: rw.in[s.start:s.end], base: s.start}
	start := r.pos
	if _, err := r.bytes("section name"); err != nil {
		return nil, false
	}
	dst = append(dst, r.buf[start:r.pos]...)
	var sub []byte
	for r.remaining() > 0 {
		id, _ := r.byte("name subsection id")
		size, err := r.u32("name subsection size")
		if err != nil || int64(size) > int64(r.remaining()) {
			return nil, false
		}
		sr := &reader{buf: r.buf[r.pos : r.pos+int(size)], base: r.base + r.pos}
		r.pos += int(size)
		switch {
		case id == 1: // function names
			sub, err = rw.functionNames(sr, sub[:0])
		case id == 2 || id == 3: // local names, label names: by function
			sub, err = rw.indirectNames(sr, sub[:0])
		case id <= 11: // module, type, table, memory, global, elem, data, field, tag
			sub = append(sub[:0], sr.buf...)
		default:
			err = errors.New("unknown")
		}
		if err != nil {
			rw.stats.DroppedSections = append(rw.stats.DroppedSections, fmt.Sprintf("name subsection %d", id))
			continue
		}
		dst = append(dst, id)
		dst = appendU32(dst, uint32(len(sub)))
		dst = append(dst, sub...)
	}
	return dst, true
}

const yieldName = ImportModule + "." + ImportName

func (rw *rewriter) functionNames(r *reader, dst []byte) ([]byte, error) {
	n, err := r.count("function names")
	if err != nil {
		return nil, err
	}
	dst = appendU32(dst, n+1)
	named := false
	for range n {
		idx, width, err := r.unsigned(32, "function index")
		if err != nil {
			return nil, err
		}
		if uint32(idx) >= rw.totalFuncs {
			return nil, r.malformed("function name index %d out of range", idx)
		}
		if !named && uint32(idx) >= rw.importedFuncs {
			dst = appendName(dst, rw.importedFuncs, yieldName)
			named = true
		}
		dst = appendU32Width(dst, rw.remap(uint32(idx)), width)
		start := r.pos
		if _, err = r.bytes("function name"); err != nil {
			return nil, err
		}
		dst = append(dst, r.buf[start:r.pos]...)
	}
	if !named {
		dst = appendName(dst, rw.importedFuncs, yieldName)
	}
	if r.remaining() != 0 {
		return nil, r.malformed("function names: trailing bytes")
	}
	return dst, nil
}

func appendName(dst []byte, idx uint32, name string) []byte {
	dst = appendU32(dst, idx)
	dst = appendU32(dst, uint32(len(name)))
	return append(dst, name...)
}

func (rw *rewriter) indirectNames(r *reader, dst []byte) ([]byte, error) {
	n, err := r.count("indirect names")
	if err != nil {
		return nil, err
	}
	dst = appendU32(dst, n)
	for range n {
		idx, width, err := r.unsigned(32, "function index")
		if err != nil {
			return nil, err
		}
		if uint32(idx) >= rw.totalFuncs {
			return nil, r.malformed("function index %d out of range", idx)
		}
		dst = appendU32Width(dst, rw.remap(uint32(idx)), width)
		start := r.pos
		names, err := r.count("names")
		if err != nil {
			return nil, err
		}
		for range names {
			if _, err = r.u32("index"); err != nil {
				return nil, err
			}
			if _, err = r.bytes("name"); err != nil {
				return nil, err
			}
		}
		dst = append(dst, r.buf[start:r.pos]...)
	}
	if r.remaining() != 0 {
		return nil, r.malformed("indirect names: trailing bytes")
	}
	return dst, nil
}
