package fuel_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
)

// FuzzRewrite checks that Rewrite never panics, never modifies its input,
// fails only with its sentinel errors, and that whatever wazero compiles
// before the rewrite it rewrites and compiles after it.
func FuzzRewrite(f *testing.F) {
	for _, seed := range [][]byte{
		sinkModule(), tailModule(), envModule(), module(),
		oneFunc(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b),
		oneFunc(0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b, 0x0b),
	} {
		f.Add(seed)
	}
	// Small modules of the spec test suite make good starting points.
	if dir, err := wazeroDir(); err == nil {
		for _, d := range specDirs {
			files, _ := filepath.Glob(filepath.Join(dir, "internal/integration_test/spectest", d, "testdata/*.wasm"))
			for i, file := range files {
				if b, err := os.ReadFile(file); err == nil && len(b) < 2048 && i%8 == 0 {
					f.Add(b)
				}
			}
		}
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(specFeatures))
	defer r.Close(ctx)

	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, stats, err := fuel.RewriteWithStats(in, fuel.Config{Quantum: 5})
		if !bytes.Equal(in, orig) {
			t.Fatal("Rewrite modified its input")
		}
		// wazero allocates what a count or size declares before it reads
		// the elements, so an input declaring gigabytes crashes the fuzzer.
		// Rewrite checks every count it reads against the bytes left; the
		// guards below keep wazero away from the rest.
		if err != nil {
			if out != nil {
				t.Error("Rewrite returned a module with its error")
			}
			if !wrapsSentinel(err) {
				t.Fatalf("error %q wraps no sentinel error", err)
			}
			if errors.Is(err, fuel.ErrTruncated) || strings.Contains(err.Error(), "do not fit") ||
				exhaustsWazero(in) || hasLargeLEB128(in) {
				return
			}
			// What wazero compiles Rewrite must rewrite, unless it already
			// imports the fuel module or uses a proposal Rewrite refuses.
			if ok, _ := compiles(ctx, r, in); ok && !errors.Is(err, fuel.ErrAlreadyInstrumented) && !errors.Is(err, fuel.ErrUnsupported) {
				t.Fatalf("Rewrite refused a module that wazero compiles: %v", err)
			}
			return
		}
		if exhaustsWazero(in) || len(stats.DroppedSections) > 0 {
			t.Skip("wazero could run out of memory compiling this")
		}
		inputCompiles, inputErr := compiles(ctx, r, in)
		if ok, outErr := compiles(ctx, r, out); inputCompiles && !ok {
			t.Fatalf("the rewritten module does not compile: %v", outErr)
		} else if !inputCompiles && ok && !strings.Contains(inputErr.Error(), "custom section") &&
			!strings.Contains(inputErr.Error(), "section custom") {
			// Custom sections aside: wazero fails on an empty one at the
			// very end of a module, which the rewrite may append sections
			// after, and on a broken "name" section, which it drops.
			t.Fatalf("a module wazero rejects (%v) compiles after the rewrite", inputErr)
		}
	})
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// compiles reports whether wazero compiles wasm; a panic in wazero counts
// as a refusal.
func compiles(ctx context.Context, r wazero.Runtime, wasm []byte) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
		}
	}()
	c, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return false, err
	}
	c.Close(ctx)
	return true, nil
}

// exhaustsWazero reports whether wazero would allocate far more memory than
// wasm's size to decode it: it allocates a vector's elements from the
// declared count before reading them, and a byte per declared local. Such
// inputs crash the fuzzer; Rewrite itself reads counts without allocating.
func exhaustsWazero(wasm []byte) bool {
	if len(wasm) < 8 {
		return false
	}
	r := bytes.NewReader(wasm[8:])
	for r.Len() > 0 {
		id, _ := r.ReadByte()
		size, _ := readU32(r)
		if int64(size) > int64(r.Len()) {
			return false
		}
		payload := make([]byte, size)
		_, _ = r.Read(payload)
		if id == 0 || id == 8 || id == 12 {
			continue
		}
		p := bytes.NewReader(payload)
		n, _ := readU32(p)
		if int64(n) > int64(size) {
			return true
		}
		if id == 11 && dataExhausts(p, n) {
			return true
		}
		if id != 10 {
			continue
		}
		for range n {
			bodySize, _ := readU32(p)
			if int64(bodySize) > int64(p.Len()) {
				return false
			}
			b := make([]byte, bodySize)
			_, _ = p.Read(b)
			br := bytes.NewReader(b)
			groups, _ := readU32(br)
			var total uint64
			for range min(groups, bodySize) {
				n, _ := readU32(br)
				_, _ = br.ReadByte()
				total += uint64(n)
			}
			if total > 1<<16 {
				return true
			}
		}
	}
	return false
}

// dataExhausts reports whether a data segment declares more bytes than its
// section holds. Offset expressions are skipped roughly (a constant or a
// global.get, then end), which is enough for a fuzzing guard.
func dataExhausts(p *bytes.Reader, n uint32) bool {
	for range n {
		flags, _ := readU32(p)
		if flags == 2 {
			readU32(p)
		}
		if flags != 1 {
			for p.Len() > 0 {
				op, _ := p.ReadByte()
				if op == 0x0b {
					break
				}
				if op == 0x41 || op == 0x42 || op == 0x23 {
					readU32(p)
				}
			}
		}
		size, _ := readU32(p)
		if int64(size) > int64(p.Len()) {
			return true
		}
		_, _ = p.Seek(int64(size), 1)
	}
	return false
}

// hasLargeLEB128 reports whether any offset of wasm starts an unsigned
// LEB128 of 2^24 or more: a count that could make wazero allocate
// gigabytes wherever it hides.
func hasLargeLEB128(wasm []byte) bool {
	for i := range wasm {
		v, n := readU32(bytes.NewReader(wasm[i:min(i+5, len(wasm))]))
		if n >= 4 && v >= 1<<24 {
			return true
		}
	}
	return false
}
