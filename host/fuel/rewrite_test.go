package fuel_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// call is one call of an export and what it must return.
type call struct {
	export string
	args   []uint64
	want   []uint64
	trap   bool
}

var sinkCalls = []call{
	{export: "f0", want: []uint64{1}},
	{export: "callslot", args: []uint64{0}, want: []uint64{1}}, // element segment flags 0
	{export: "callslot", args: []uint64{1}, want: []uint64{2}}, // flags 2
	{export: "callslot", args: []uint64{2}, want: []uint64{3}}, // flags 4
	{export: "callslot", args: []uint64{3}, want: []uint64{1}}, // flags 6
	{export: "callslot", args: []uint64{4}, trap: true},        // never set
	{export: "init"}, // table.init from flags 1 and 5
	{export: "callslot", args: []uint64{5}, want: []uint64{2}}, // flags 1
	{export: "callslot", args: []uint64{6}, want: []uint64{3}}, // flags 1
	{export: "callslot", args: []uint64{7}, want: []uint64{2}}, // flags 5
	{export: "viaref", want: []uint64{2}},                      // ref.func in code
	{export: "viaglobal", want: []uint64{3}},                   // ref.func in a global
	{export: "callimp", want: []uint64{107}},                   // call of an import
	{export: "count", args: []uint64{25}, want: []uint64{25}},  // loop
	{export: "getg", want: []uint64{42}},                       // set by the start function
	{export: "mv", args: []uint64{10}, want: []uint64{15}},     // loop with a parameter
	{export: "mv", args: []uint64{0}, want: []uint64{5}},       //
	{export: "simd", want: []uint64{6}},                        // SIMD inside a loop
	{export: "bulk", want: []uint64{0x6c6c6568 + 0x21}},        // bulk memory
}

var tailCalls = []call{
	{export: "sum", args: []uint64{0, 0}, want: []uint64{0}},
	{export: "sum", args: []uint64{10, 0}, want: []uint64{55}},
	{export: "sumi", args: []uint64{100_000, 0}, want: []uint64{uint64(100_000*100_001/2) % (1 << 32)}},
}

// run instantiates wasm (after env when withEnv) and checks calls in
// order. It returns the number of yields.
func run(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, withEnv bool, quantum uint32, calls []call) int64 {
	t.Helper()
	ctx := context.Background()
	var yields atomic.Int64
	r := newRuntime(t, cfg, quantum, &yields)
	if withEnv {
		if _, err := r.InstantiateWithConfig(ctx, envModule(), wazero.NewModuleConfig().WithName("env")); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("m"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		got, err := mod.ExportedFunction(c.export).Call(ctx, c.args...)
		switch {
		case c.trap && err == nil:
			t.Errorf("%s%v = %v, want a trap", c.export, c.args, got)
		case !c.trap && err != nil:
			t.Errorf("%s%v: %v", c.export, c.args, err)
		case !c.trap && !slices.Equal(got, c.want):
			t.Errorf("%s%v = %v, want %v", c.export, c.args, got, c.want)
		}
	}
	return yields.Load()
}

func engines() map[string]wazero.RuntimeConfig {
	features := api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall
	return map[string]wazero.RuntimeConfig{
		"interpreter": wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(features),
		"compiler":    wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features),
	}
}

func TestRewrite_HandMadeModulesBehaveTheSame(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		withEnv bool
		calls   []call
	}{
		{"every function index form", sinkModule(), true, sinkCalls},
		{"tail calls, no imports, no globals, no () -> i32 type", tailModule(), false, tailCalls},
	}
	for _, tt := range tests {
		rewritten, err := fuel.Rewrite(tt.wasm, fuel.Config{Quantum: 3})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for engine, cfg := range engines() {
			t.Run(tt.name+"/"+engine+"/original", func(t *testing.T) {
				run(t, cfg, tt.wasm, tt.withEnv, 0, tt.calls)
			})
			t.Run(tt.name+"/"+engine+"/rewritten", func(t *testing.T) {
				run(t, cfg, rewritten, tt.withEnv, 3, tt.calls)
			})
		}
	}
}

func TestRewrite_YieldsOncePerQuantumOfLoopIterations(t *testing.T) {
	tests := []struct {
		name    string
		quantum uint32
		n       uint64
		want    int64
	}{
		// count(n) passes its loop header n+1 times.
		{"quantum 3", 3, 25, 26 / 3},
		{"quantum 1", 1, 10, 11},
		{"zero means the default", 0, 25_000, 25_001 / fuel.DefaultQuantum},
		{"quantum above MaxInt32", 1 << 31, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rewritten, err := fuel.Rewrite(sinkModule(), fuel.Config{Quantum: tt.quantum})
			if err != nil {
				t.Fatal(err)
			}
			hostQuantum := tt.quantum
			if hostQuantum == 0 {
				hostQuantum = fuel.DefaultQuantum
			}
			calls := []call{{export: "count", args: []uint64{tt.n}, want: []uint64{tt.n}}}
			got := run(t, wazero.NewRuntimeConfigInterpreter(), rewritten, true, hostQuantum, calls)
			if got != tt.want {
				t.Errorf("yield called %d times, want %d", got, tt.want)
			}
		})
	}
}

func TestRewrite_RemapsTheNameSection(t *testing.T) {
	rewritten, err := fuel.Rewrite(sinkModule(), fuel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, rewritten)
	if err != nil {
		t.Fatal(err)
	}
	if got := compiled.Name(); got != "sink" {
		t.Errorf("module name %q, want sink", got)
	}
	names := map[uint32]string{}
	for _, d := range compiled.ImportedFunctions() {
		names[d.Index()] = d.Name()
	}
	exports := compiled.ExportedFunctions()
	for _, name := range []string{"f0", "callslot", "count", "mv"} {
		names[exports[name].Index()] = exports[name].Name()
	}
	want := map[uint32]string{
		0:              "imp",
		1:              fuel.ImportModule + "." + fuel.ImportName,
		fnF0 + 1:       "f0",
		fnCallSlot + 1: "callslot",
		fnCount + 1:    "count",
		fnMV + 1:       "mv",
	}
	for idx, name := range want {
		if names[idx] != name {
			t.Errorf("function %d is named %q, want %q", idx, names[idx], name)
		}
	}
	if got := exports["count"].ParamNames(); !slices.Equal(got, []string{"n"}) {
		t.Errorf("count's parameters are named %q, want [n]", got)
	}
	if got := exports["mv"].ParamNames(); !slices.Equal(got, []string{"x"}) {
		t.Errorf("mv's parameters are named %q, want [x]", got)
	}
}

func TestRewrite_KeepsCustomSectionsButDropsCodeOffsets(t *testing.T) {
	rewritten, stats, err := fuel.RewriteWithStats(sinkModule(), fuel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCustomSections(true))
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, rewritten)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range compiled.CustomSections() {
		got = append(got, s.Name())
		if s.Name() == "keep" && !bytes.Equal(s.Data(), []byte{1, 2, 3}) {
			t.Errorf("custom section keep holds %v, want [1 2 3]", s.Data())
		}
	}
	if !slices.Equal(got, []string{"keep"}) {
		t.Errorf("custom sections %q, want [keep]", got)
	}
	if !slices.Equal(stats.DroppedSections, []string{".debug_info"}) {
		t.Errorf("Stats.DroppedSections = %q, want [.debug_info]", stats.DroppedSections)
	}
}

func TestRewrite_ReportsWhatItChanged(t *testing.T) {
	tests := []struct {
		name      string
		wasm      []byte
		functions int
		loops     int
	}{
		{"every function index form", sinkModule(), 14, 3},
		{"tail calls", tailModule(), 2, 0},
		{"empty module", module(), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stats, err := fuel.RewriteWithStats(tt.wasm, fuel.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Functions != tt.functions || stats.Loops != tt.loops {
				t.Errorf("Stats = %+v, want %d functions and %d loops", stats, tt.functions, tt.loops)
			}
		})
	}
}

func TestRewrite_AddsTheImportAndReusesOrAddsItsType(t *testing.T) {
	tests := []struct {
		name      string
		wasm      []byte
		wantIndex uint32 // of the yield import
	}{
		{"module with an import and a () -> i32 type", sinkModule(), 1},
		{"module without imports or a () -> i32 type", tailModule(), 0},
		{"empty module", module(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rewritten, err := fuel.Rewrite(tt.wasm, fuel.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, engines()["interpreter"])
			defer r.Close(ctx)
			compiled, err := r.CompileModule(ctx, rewritten)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range compiled.ImportedFunctions() {
				mod, name, _ := d.Import()
				if mod != fuel.ImportModule || name != fuel.ImportName {
					continue
				}
				found = true
				if d.Index() != tt.wantIndex {
					t.Errorf("yield has index %d, want %d", d.Index(), tt.wantIndex)
				}
				if len(d.ParamTypes()) != 0 || !slices.Equal(d.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
					t.Errorf("yield has type %v -> %v, want () -> i32", d.ParamTypes(), d.ResultTypes())
				}
			}
			if !found {
				t.Errorf("no import %s.%s", fuel.ImportModule, fuel.ImportName)
			}
		})
	}
}

func TestRewrite_LeavesItsInputAlone(t *testing.T) {
	in := sinkModule()
	orig := bytes.Clone(in)
	if _, err := fuel.Rewrite(in, fuel.Config{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, orig) {
		t.Error("Rewrite modified its input")
	}
}

// oneFunc is a module with one () -> () function whose body is code.
func oneFunc(code ...byte) []byte {
	return module(
		section(1, vec(t2)),
		section(3, vec(u32(0))),
		section(10, vec(body(nil, code...))),
	)
}

func TestRewrite_RefusesWhatItCannotRewriteSafely(t *testing.T) {
	already, err := fuel.Rewrite(sinkModule(), fuel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		wasm    []byte
		want    error
		message string // a part of the error message
	}{
		{"not a module", []byte("hello, world"), fuel.ErrNotModule, ""},
		{"a future binary version", cat([]byte("\x00asm\x02\x00\x00\x00")), fuel.ErrNotModule, ""},
		{"unknown opcode", oneFunc(0x01, 0xff, 0x0b), fuel.ErrUnknownOpcode, "0xff at offset 24"},
		{"unknown SIMD opcode", oneFunc(0xfd, 0x9a, 0x01, 0x0b), fuel.ErrUnknownOpcode, "0xfd 0x9a at offset 23"},
		{"unknown 0xfc opcode", oneFunc(0xfc, 0x12, 0x0b), fuel.ErrUnknownOpcode, "0xfc 18 at offset 23"},
		{"unknown atomic opcode", oneFunc(0xfe, 0x05, 0x0b), fuel.ErrUnknownOpcode, "0xfe 0x5 at offset 23"},
		{"exception handling", oneFunc(0x06, 0x40, 0x0b, 0x0b), fuel.ErrUnsupported, "exception handling"},
		{"typed function references", oneFunc(0x14, 0x00, 0x0b), fuel.ErrUnsupported, "typed function references"},
		{"garbage collection", oneFunc(0xfb, 0x00, 0x0b), fuel.ErrUnsupported, "garbage collection"},
		{"tag section", module(section(13, vec([]byte{0x00, 0x00}))), fuel.ErrUnsupported, "tag section"},
		{"module that already imports the fuel module",
			module(section(1, vec(t2)), section(2, vec(importFunc(fuel.ImportModule, "other", 0)))),
			fuel.ErrAlreadyInstrumented, ""},
		{"module rewritten twice", already, fuel.ErrAlreadyInstrumented, ""},
		{"section longer than the module", module([]byte{0x01, 0x10, 0x01, 0x60}), fuel.ErrTruncated, ""},
		{"body without its end", oneFunc(0x01), fuel.ErrTruncated, "instruction"},
		{"bytes after a body's end", oneFunc(0x0b, 0x01), fuel.ErrMalformed, "after the end"},
		{"call of a function that does not exist", oneFunc(0x10, 0x05, 0x0b), fuel.ErrMalformed, "function index 5 out of range"},
		// Out-of-range global and type indices would name the added global
		// or type; for the global, a guest could refill its own fuel.
		{"global.set of the global the rewrite adds", oneFunc(0x41, 0x00, 0x24, 0x00, 0x0b), fuel.ErrMalformed, "global index 0 out of range"},
		{"export of the global the rewrite adds", module(section(7, vec(exportOf("g", 0x03, 0)))), fuel.ErrMalformed, "global index 0 out of range"},
		{"call_indirect of the type the rewrite adds", oneFunc(0x41, 0x00, 0x11, 0x01, 0x00, 0x0b), fuel.ErrMalformed, "type index 1 out of range"},
		{"block of the type the rewrite adds", oneFunc(0x02, 0x01, 0x0b, 0x0b), fuel.ErrMalformed, "type index 1 out of range"},
		{"export of a function that does not exist", module(section(7, vec(exportOf("f", 0x00, 0)))), fuel.ErrMalformed, "out of range"},
		{"sections out of order", module(section(3, vec()), section(1, vec())), fuel.ErrMalformed, "out of order"},
		{"repeated section", module(section(1, vec()), section(1, vec())), fuel.ErrMalformed, "out of order"},
		{"unknown section", module(section(14, nil)), fuel.ErrMalformed, "unknown section id 14"},
		{"overlong LEB128", oneFunc(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b), fuel.ErrMalformed, "too large"},
		{"loop with a negative type index", oneFunc(0x03, 0x7f-0x20, 0x0b, 0x0b), fuel.ErrMalformed, ""},
		{"function bodies without functions", module(section(1, vec(t2)), section(10, vec(body(nil, 0x0b)))), fuel.ErrMalformed, "1 function bodies for 0 functions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := fuel.Rewrite(tt.wasm, fuel.Config{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Rewrite() error = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Error("Rewrite() returned a module with its error")
			}
			if !strings.HasPrefix(err.Error(), "fuel: ") || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Rewrite() error %q, want it to start with %q and contain %q", err, "fuel: ", tt.message)
			}
		})
	}
}

func TestRewrite_RefusesEveryTruncation(t *testing.T) {
	wasm := sinkModule()
	// Cutting at a section boundary leaves a shorter valid module.
	boundaries := map[int]bool{}
	for pos := 8; pos < len(wasm); {
		boundaries[pos] = true
		r := bytes.NewReader(wasm[pos+1:])
		size, n := readU32(r)
		pos += 1 + n + int(size)
	}
	for cut := 0; cut < len(wasm); cut++ {
		_, err := fuel.Rewrite(wasm[:cut], fuel.Config{})
		switch {
		case cut < 8 && !errors.Is(err, fuel.ErrNotModule):
			t.Errorf("cut at %d: error %v, want %v", cut, err, fuel.ErrNotModule)
		case cut >= 8 && boundaries[cut] && err != nil:
			t.Errorf("cut at section boundary %d: %v", cut, err)
		case cut >= 8 && !boundaries[cut] && !errors.Is(err, fuel.ErrTruncated):
			t.Errorf("cut at %d: error %v, want %v", cut, err, fuel.ErrTruncated)
		}
	}
}

func readU32(r *bytes.Reader) (v uint32, n int) {
	for shift := 0; ; shift += 7 {
		b, _ := r.ReadByte()
		n++
		v |= uint32(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, n
		}
	}
}
