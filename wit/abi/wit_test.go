package abi

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// witFunc is one function parsed from the WIT file, lowered to core types.
type witFunc struct {
	iface   string
	name    string
	params  []string
	results []string
}

var (
	ifaceRE = regexp.MustCompile(`^\s*interface\s+([a-z0-9-]+)\s*\{`)
	funcRE  = regexp.MustCompile(`^\s*([a-z0-9-]+):\s*func\((.*)\)\s*(->\s*(.+))?;`)
	enumRE  = regexp.MustCompile(`^\s*enum\s+error-code\s*\{`)
	caseRE  = regexp.MustCompile(`^\s*([a-z0-9-]+),\s*$`)
)

// parseWIT reads the functions and the error-code enum of wit/chatbridge.wit.
// It knows only the subset of WIT the contract uses, and fails on anything
// in a func signature it cannot lower.
func parseWIT(t *testing.T) (funcs []witFunc, codes []string) {
	t.Helper()
	src, err := os.ReadFile("../chatbridge.wit")
	if err != nil {
		t.Fatal(err)
	}
	iface, inEnum := "", false
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		if m := ifaceRE.FindStringSubmatch(line); m != nil {
			iface = m[1]
			continue
		}
		if enumRE.MatchString(line) {
			inEnum = true
			continue
		}
		if inEnum {
			if m := caseRE.FindStringSubmatch(line); m != nil {
				codes = append(codes, m[1])
				continue
			}
			if strings.Contains(line, "}") {
				inEnum = false
			}
			continue
		}
		m := funcRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := witFunc{iface: iface, name: m[1]}
		for _, p := range splitParams(m[2]) {
			typ := strings.TrimSpace(p[strings.Index(p, ":")+1:])
			core, ok := lowerParam(typ)
			if !ok {
				t.Fatalf("chatbridge.wit:%d: cannot lower parameter type %q", i+1, typ)
			}
			f.params = append(f.params, core...)
		}
		switch res := strings.TrimSpace(m[4]); {
		case res == "":
		case strings.HasPrefix(res, "result<"):
			f.results = []string{"i64"}
		case res == "error-code":
			f.results = []string{"i32"}
		default:
			t.Fatalf("chatbridge.wit:%d: cannot lower result type %q", i+1, res)
		}
		funcs = append(funcs, f)
	}
	return funcs, codes
}

// splitParams splits "a: list<tuple<x, y>>, b: u32" at top-level commas.
func splitParams(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// lowerParam maps a WIT parameter type to core wasm types: strings, lists and
// records travel as (pointer, length); small scalars and enums as one i32.
func lowerParam(typ string) ([]string, bool) {
	switch {
	case typ == "string", strings.HasPrefix(typ, "list<"), typ == "http-request":
		return []string{"i32", "i32"}, true
	case typ == "u32", typ == "s32", typ == "hash", typ == "level":
		return []string{"i32"}, true
	}
	return nil, false
}

func moduleOf(iface string) string { return "chatbridge:plugin/" + iface + "@" + Version }

func TestWITMatchesImports(t *testing.T) {
	funcs, _ := parseWIT(t)
	var fromWIT []Func
	for _, f := range funcs {
		if f.iface == "handlers" {
			continue
		}
		fromWIT = append(fromWIT, Func{moduleOf(f.iface), f.name, f.params, f.results})
	}
	if len(fromWIT) != len(Imports) {
		t.Errorf("WIT declares %d imports, abi.Imports has %d", len(fromWIT), len(Imports))
	}
	for _, w := range fromWIT {
		i := slices.IndexFunc(Imports, func(f Func) bool { return f.Module == w.Module && f.Name == w.Name })
		if i < 0 {
			t.Errorf("WIT import %s.%s is missing from abi.Imports", w.Module, w.Name)
			continue
		}
		if got := Imports[i]; !slices.Equal(got.Params, w.Params) || !slices.Equal(got.Results, w.Results) {
			t.Errorf("%s.%s: abi says (%v)->%v, WIT lowers to (%v)->%v", w.Module, w.Name, got.Params, got.Results, w.Params, w.Results)
		}
	}
}

func TestWITMatchesExports(t *testing.T) {
	funcs, _ := parseWIT(t)
	var n int
	for _, f := range funcs {
		if f.iface != "handlers" {
			continue
		}
		n++
		i := slices.IndexFunc(Exports, func(e Func) bool { return e.Name == f.name })
		if i < 0 {
			t.Errorf("WIT export %s is missing from abi.Exports", f.name)
			continue
		}
		if got := Exports[i]; !slices.Equal(got.Params, f.params) || !slices.Equal(got.Results, f.results) {
			t.Errorf("export %s: abi says (%v)->%v, WIT lowers to (%v)->%v", f.name, got.Params, got.Results, f.params, f.results)
		}
	}
	if n != len(Exports) {
		t.Errorf("WIT declares %d exports, abi.Exports has %d", n, len(Exports))
	}
}

func TestWITErrorCodesMatchCode(t *testing.T) {
	_, codes := parseWIT(t)
	if !slices.Equal(codes, CodeNames()) {
		t.Errorf("WIT error-code cases %v, abi.Code names %v", codes, CodeNames())
	}
}

func TestEveryImportModuleIsACapabilityOrTheABI(t *testing.T) {
	for _, f := range Imports {
		if CapabilityOf(f.Module) == "" && f.Module != ModuleABI {
			t.Errorf("import module %s maps to no capability", f.Module)
		}
	}
}
