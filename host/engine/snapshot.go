package engine

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// snapshot is an instance's whole mutable state right after _initialize:
// its linear memory and its mutable globals. A Go wasip1 module keeps
// nothing else (its tables are fixed at instantiation), so restoring both
// makes an instance indistinguishable from a fresh one, at the cost of a
// memory copy instead of an instantiation.
type snapshot struct {
	memory  []byte
	globals []uint64
}

var errSnapshot = errors.New("engine: instance does not match the snapshot")

// exportedGlobals looks up the mutable globals the rewrite exported.
func exportedGlobals(mod api.Module, names []string) ([]api.MutableGlobal, error) {
	out := make([]api.MutableGlobal, len(names))
	for i, name := range names {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return nil, fmt.Errorf("%w: no mutable global %s", errSnapshot, name)
		}
		out[i] = g
	}
	return out, nil
}

func takeSnapshot(mod api.Module, globals []api.MutableGlobal) *snapshot {
	mem := mod.Memory()
	b, _ := mem.Read(0, mem.Size())
	s := &snapshot{memory: append([]byte(nil), b...), globals: make([]uint64, len(globals))}
	for i, g := range globals {
		s.globals[i] = g.Get()
	}
	return s
}

// zeros is written over memory an instance grew past the snapshot.
var zeros = make([]byte, 64<<10)

// restore puts s back into mod. Memory the instance grew stays (wasm memory
// never shrinks) but is zeroed, so nothing of the previous key survives.
func (s *snapshot) restore(mod api.Module, globals []api.MutableGlobal) error {
	if len(globals) != len(s.globals) {
		return errSnapshot
	}
	mem := mod.Memory()
	size := mem.Size()
	if size < uint32(len(s.memory)) || !mem.Write(0, s.memory) {
		return errSnapshot
	}
	for off := uint32(len(s.memory)); off < size; off += uint32(len(zeros)) {
		n := min(uint32(len(zeros)), size-off)
		if !mem.Write(off, zeros[:n]) {
			return errSnapshot
		}
	}
	for i, g := range globals {
		g.Set(s.globals[i])
	}
	return nil
}
