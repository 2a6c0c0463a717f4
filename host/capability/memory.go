package capability

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// errOutOfBounds traps the guest: a pointer it passed is outside its memory.
var errOutOfBounds = errors.New("capability: guest pointer out of bounds")

// read copies n bytes at ptr out of guest memory; out of bounds traps.
func read(m api.Module, ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%w: read %d bytes at %#x", errOutOfBounds, n, ptr))
	}
	return append([]byte(nil), b...)
}

// readString is read as a string.
func readString(m api.Module, ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%w: read %d bytes at %#x", errOutOfBounds, n, ptr))
	}
	return string(b)
}

// write copies b into guest memory at ptr; out of bounds traps.
func write(m api.Module, ptr uint32, b []byte) {
	if len(b) == 0 {
		return
	}
	if !m.Memory().Write(ptr, b) {
		panic(fmt.Errorf("%w: write %d bytes at %#x", errOutOfBounds, len(b), ptr))
	}
}

func u32(v uint64) uint32 { return api.DecodeU32(v) }
