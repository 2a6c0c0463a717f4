package fuel_test

// A tiny WebAssembly binary writer for hand-made test modules.

func u32(v uint32) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// vec is a vector: its length, then the items.
func vec(items ...[]byte) []byte { return cat(u32(uint32(len(items))), cat(items...)) }

func str(s string) []byte { return cat(u32(uint32(len(s))), []byte(s)) }

func section(id byte, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat([]byte{id}, u32(uint32(len(p))), p)
}

func custom(name string, payload ...[]byte) []byte {
	return section(0, str(name), cat(payload...))
}

func module(sections ...[]byte) []byte {
	return cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}, cat(sections...))
}

const (
	i32 = 0x7f
	i64 = 0x7e
)

func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, u32(uint32(len(params))), params, u32(uint32(len(results))), results)
}

// body is a function body: local groups (count, type pairs), then code,
// which must end with 0x0b.
func body(locals [][2]byte, code ...byte) []byte {
	var l [][]byte
	for _, g := range locals {
		l = append(l, []byte{g[0], g[1]})
	}
	b := cat(vec(l...), code)
	return cat(u32(uint32(len(b))), b)
}

func importFunc(mod, name string, typ uint32) []byte {
	return cat(str(mod), str(name), []byte{0x00}, u32(typ))
}

func exportOf(name string, kind byte, idx uint32) []byte {
	return cat(str(name), []byte{kind}, u32(idx))
}
