package capability

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// checkSignature compares a function's core signature with the contract's.
func checkSignature(t *testing.T, side, what string, def api.FunctionDefinition, want abi.Func) {
	t.Helper()
	if got := typeNames(def.ParamTypes()); !slices.Equal(got, want.Params) {
		t.Errorf("%s params: %s %v, contract %v", what, side, got, want.Params)
	}
	if got := typeNames(def.ResultTypes()); !slices.Equal(got, want.Results) {
		t.Errorf("%s results: %s %v, contract %v", what, side, got, want.Results)
	}
}

func typeNames(ts []api.ValueType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, api.ValueTypeName(t))
	}
	return out
}

// TestHostProvidesExactlyTheWITImports ties the host's side of the contract
// to wit/abi, whose own tests tie it to wit/chatbridge.wit.
func TestHostProvidesExactlyTheWITImports(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	deps := Deps{Store: memstore.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := Register(ctx, r, deps, allowAll{}); err != nil {
		t.Fatal(err)
	}
	provided := 0
	for _, module := range []string{abi.ModuleStorage, abi.ModuleSecrets, abi.ModuleFetch, abi.ModuleJira, abi.ModuleQueue, abi.ModuleRealtime, abi.ModuleLog, abi.ModuleABI} {
		m := r.Module(module)
		if m == nil {
			t.Fatalf("host module %s is not registered", module)
		}
		for name, def := range m.ExportedFunctionDefinitions() {
			provided++
			i := slices.IndexFunc(abi.Imports, func(f abi.Func) bool { return f.Module == module && f.Name == name })
			if i < 0 {
				t.Errorf("host provides %s.%s, which the contract does not declare", module, name)
				continue
			}
			checkSignature(t, "host", module+"."+name, def, abi.Imports[i])
		}
	}
	if provided != len(abi.Imports) {
		t.Errorf("host provides %d functions, the contract declares %d", provided, len(abi.Imports))
	}
}

// TestGuestSDKImportsMatchTheWIT compiles a real plugin and checks every
// import and export of the binary against the contract.
func TestGuestSDKImportsMatchTheWIT(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter()) // decode only
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, bundletest.Module(t, "./plugin/examples/probe"))
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range cm.ImportedFunctions() {
		module, name, _ := def.Import()
		if module == "wasi_snapshot_preview1" {
			continue
		}
		i := slices.IndexFunc(abi.Imports, func(f abi.Func) bool { return f.Module == module && f.Name == name })
		if i < 0 {
			t.Errorf("guest imports %s.%s, which the contract does not declare", module, name)
			continue
		}
		checkSignature(t, "guest", module+"."+name, def, abi.Imports[i])
	}
	exports := cm.ExportedFunctions()
	for _, want := range abi.Exports {
		def, ok := exports[want.Name]
		if !ok {
			t.Errorf("the SDK does not export %s", want.Name)
			continue
		}
		checkSignature(t, "guest", "export "+want.Name, def, want)
	}
}

func TestCheckImportsRefusesUndeclaredAndUnknownModules(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter()) // decode only
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, bundletest.Module(t, "./plugin/examples/probe"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckImports(cm.ImportedFunctions(), allowAll{}, "wasi_snapshot_preview1"); err != nil {
		t.Fatalf("all granted: %v", err)
	}
	err = CheckImports(cm.ImportedFunctions(), only{"storage", "log"}, "wasi_snapshot_preview1")
	if err == nil || !strings.Contains(err.Error(), "needs capability") {
		t.Fatalf("storage and log only: got %v", err)
	}
	if err := CheckImports(cm.ImportedFunctions(), allowAll{}); err == nil || !strings.Contains(err.Error(), "unknown import module") {
		t.Fatalf("WASI not allowed: got %v", err)
	}
}

type only []string

func (o only) HasCapability(c string) bool    { return slices.Contains(o, c) }
func (only) EgressAllowedAt(string, int) bool { return false }
func (only) HasQueue(string) bool             { return false }
func (only) HasScope(string) bool             { return false }
