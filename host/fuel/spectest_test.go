package fuel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// The WebAssembly spec test suite that ships with wazero's module source:
// thousands of modules (loops of every block type, SIMD, tail calls, every
// element segment form) with the calls that exercise them.
var specDirs = []string{"v2", "tail-call", "extended-const", "threads"}

const specFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesThreads

var wazeroDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		return "", fmt.Errorf("locating wazero's source: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// specFiles returns the spec test JSON files, or skips tb when wazero's
// source is not in the module cache.
func specFiles(tb testing.TB) []string {
	dir, err := wazeroDir()
	if err != nil {
		tb.Skip(err)
	}
	var files []string
	for _, d := range specDirs {
		m, _ := filepath.Glob(filepath.Join(dir, "internal/integration_test/spectest", d, "testdata/*.json"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Skipf("no spec tests under %s", dir)
	}
	return files
}

type specScript struct {
	Commands []specCommand `json:"commands"`
}

type specCommand struct {
	Type       string      `json:"type"`
	Line       int         `json:"line"`
	Filename   string      `json:"filename"`
	Name       string      `json:"name"`
	As         string      `json:"as"`
	ModuleType string      `json:"module_type"`
	Action     *specAction `json:"action"`
}

type specAction struct {
	Type   string      `json:"type"`
	Module string      `json:"module"`
	Field  string      `json:"field"`
	Args   []specValue `json:"args"`
}

type specValue struct {
	Type     string          `json:"type"`
	LaneType string          `json:"lane_type"`
	Value    json.RawMessage `json:"value"`
}

// encode returns v as wazero's stack values, or false for a value the
// runner does not pass (a non-null funcref).
func (v specValue) encode() ([]uint64, bool) {
	if v.Type == "v128" {
		var lanes []string
		if json.Unmarshal(v.Value, &lanes) != nil {
			return nil, false
		}
		bits := map[string]int{"i8": 8, "i16": 16, "i32": 32, "f32": 32, "i64": 64, "f64": 64}[v.LaneType]
		if bits == 0 || bits*len(lanes) != 128 {
			return nil, false
		}
		var lo, hi uint64
		for i, l := range lanes {
			x, err := strconv.ParseUint(l, 10, bits)
			if err != nil {
				return nil, false
			}
			shift := uint(i*bits) % 64
			if i*bits < 64 {
				lo |= x << shift
			} else {
				hi |= x << shift
			}
		}
		return []uint64{lo, hi}, true
	}
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return nil, false
	}
	switch v.Type {
	case "i32", "i64", "f32", "f64":
		x, err := strconv.ParseUint(s, 10, 64)
		return []uint64{x}, err == nil
	case "externref":
		if s == "null" {
			return []uint64{0}, true
		}
		x, err := strconv.ParseUint(s, 10, 64)
		return []uint64{x + 1}, err == nil // 0 is null in wazero
	case "funcref":
		return []uint64{0}, s == "null"
	}
	return nil, false
}

// side is one of the two worlds a spec script runs in: the original modules
// or the rewritten ones.
type side struct {
	r       wazero.Runtime
	named   map[string]api.Module
	current api.Module
}

func newSide(t *testing.T, spectestWasm []byte, withFuel bool) *side {
	quantum := uint32(0)
	if withFuel {
		quantum = 5 // yield often
	}
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(specFeatures), quantum, nil)
	if _, err := r.InstantiateWithConfig(context.Background(), spectestWasm, wazero.NewModuleConfig().WithName("spectest")); err != nil {
		t.Fatal(err)
	}
	return &side{r: r, named: map[string]api.Module{}}
}

// outcome is what an action did, comparable between the two sides.
type outcome struct {
	values []uint64
	trap   bool
}

func (s *side) do(a *specAction, args []uint64) (outcome, bool) {
	m := s.current
	if a.Module != "" {
		m = s.named[a.Module]
	}
	if m == nil {
		return outcome{}, false
	}
	ctx := context.Background()
	switch a.Type {
	case "get":
		g := m.ExportedGlobal(a.Field)
		if g == nil {
			return outcome{}, false
		}
		return outcome{values: []uint64{g.Get()}}, true
	case "invoke":
		fn := m.ExportedFunction(a.Field)
		if fn == nil {
			return outcome{}, false
		}
		res, err := fn.Call(ctx, args...)
		if err != nil {
			return outcome{trap: true}, true
		}
		// A funcref is a pointer into its own runtime: compare nullness.
		for i, typ := range fn.Definition().ResultTypes() {
			if typ == valueTypeFuncref && res[i] != 0 {
				res[i] = 1
			}
		}
		return outcome{values: res}, true
	}
	return outcome{}, false
}

// slowUnderRace are the scripts that deep recursion or big memory loops
// make slow on wazero's interpreter when it is instrumented by -race.
var slowUnderRace = map[string]bool{
	"tail-call/return_call":          true,
	"tail-call/return_call_indirect": true,
	"v2/skip-stack-guard-page":       true,
	"v2/memory_grow":                 true,
	"v2/memory_copy":                 true,
	"v2/memory_fill":                 true,
}

func TestRewrite_SpecTestModulesBehaveTheSame(t *testing.T) {
	files := specFiles(t)
	spectestWasm, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(files[0]))), "testdata", "spectest.wasm"))
	if err != nil {
		t.Fatalf("wazero's spec test data (module cache): %v", err)
	}
	var modules, actions int
	for _, file := range files {
		name := filepath.Base(filepath.Dir(filepath.Dir(file))) + "/" + strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			if raceEnabled && slowUnderRace[name] {
				t.Skip("takes seconds on the instrumented interpreter; runs without -race")
			}
			m, a := runSpecScript(t, file, spectestWasm)
			modules += m
			actions += a
		})
	}
	t.Logf("%d modules rewritten, %d actions compared", modules, actions)
	if !raceEnabled && (modules < 1000 || actions < 10000) {
		t.Errorf("only %d modules and %d actions: the runner skipped most of the suite", modules, actions)
	}
}

func runSpecScript(t *testing.T, file string, spectestWasm []byte) (modules, actions int) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var script specScript
	if err := json.Unmarshal(raw, &script); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orig, rew := newSide(t, spectestWasm, false), newSide(t, spectestWasm, true)
	for i := 0; i < len(script.Commands); i++ {
		c := &script.Commands[i]
		where := fmt.Sprintf("%s:%d", filepath.Base(file), c.Line)
		switch c.Type {
		case "module":
			wasm, err := os.ReadFile(filepath.Join(filepath.Dir(file), c.Filename))
			if err != nil {
				t.Fatal(err)
			}
			registered := ""
			if i+1 < len(script.Commands) && script.Commands[i+1].Type == "register" {
				registered = script.Commands[i+1].As
				i++
			}
			orig.current, rew.current = nil, nil
			om, err := orig.r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(registered))
			if err != nil {
				continue // wazero does not run this one: nothing to compare
			}
			rewritten, err := fuel.Rewrite(wasm, fuel.Config{})
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			rm, err := rew.r.InstantiateWithConfig(ctx, rewritten, wazero.NewModuleConfig().WithName(registered))
			if err != nil {
				t.Errorf("%s: the rewritten module does not instantiate: %v", where, err)
				continue
			}
			orig.current, rew.current = om, rm
			if c.Name != "" {
				orig.named[c.Name], rew.named[c.Name] = om, rm
			}
			modules++
		case "assert_return", "assert_trap", "assert_exhaustion", "action":
			var args []uint64
			ok := true
			for _, v := range c.Action.Args {
				enc, good := v.encode()
				args, ok = append(args, enc...), ok && good
			}
			if !ok {
				continue
			}
			want, ok := orig.do(c.Action, args)
			if !ok {
				continue
			}
			got, ok := rew.do(c.Action, args)
			if !ok {
				t.Errorf("%s: %s %s is missing from the rewritten module", where, c.Action.Type, c.Action.Field)
				continue
			}
			if got.trap != want.trap || !slices.Equal(got.values, want.values) {
				t.Errorf("%s: %s %s%v = %+v, original %+v", where, c.Action.Type, c.Action.Field, args, got, want)
			}
			actions++
		case "assert_invalid", "assert_malformed", "assert_unlinkable", "assert_uninstantiable":
			if c.ModuleType == "text" {
				continue
			}
			wasm, err := os.ReadFile(filepath.Join(filepath.Dir(file), c.Filename))
			if err != nil {
				t.Fatal(err)
			}
			// Rewrite may refuse these or not; it must not panic, and
			// what wazero rejects before it must stay rejected after.
			out, err := fuel.Rewrite(wasm, fuel.Config{})
			if err != nil {
				var sentinel bool
				for _, s := range sentinels {
					sentinel = sentinel || errors.Is(err, s)
				}
				if !sentinel {
					t.Errorf("%s: error %v wraps no sentinel", where, err)
				}
				continue
			}
			if c.Type == "assert_invalid" || c.Type == "assert_malformed" {
				if _, err := orig.r.CompileModule(ctx, wasm); err != nil {
					if _, err := rew.r.CompileModule(ctx, out); err == nil {
						t.Errorf("%s: a module wazero rejects compiles after the rewrite", where)
					}
				}
			}
		}
	}
	return modules, actions
}

var sentinels = []error{
	fuel.ErrNotModule, fuel.ErrTruncated, fuel.ErrMalformed, fuel.ErrUnknownOpcode,
	fuel.ErrUnsupported, fuel.ErrAlreadyInstrumented,
}

// valueTypeFuncref is funcref, which wazero's api does not name.
const valueTypeFuncref api.ValueType = 0x70
