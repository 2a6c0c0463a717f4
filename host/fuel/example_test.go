package fuel_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// A host rewrites a verified module once, provides the yield import, and
// gives every call its own deadline.
func ExampleRewrite() {
	ctx := context.Background()
	var verified []byte // a module whose signature the host has checked

	module, err := fuel.Rewrite(verified, fuel.Config{})
	if err != nil {
		panic(err)
	}
	r := wazero.NewRuntime(ctx) // no WithCloseOnContextDone
	defer r.Close(ctx)

	const exitTimeout = 124
	yield := func(ctx context.Context, mod api.Module, stack []uint64) {
		if ctx.Err() != nil { // the call's deadline passed: end it as proc_exit does
			_ = mod.CloseWithExitCode(ctx, exitTimeout)
			panic(sys.NewExitError(exitTimeout))
		}
		stack[0] = api.EncodeU32(fuel.DefaultQuantum)
	}
	_, err = r.NewHostModuleBuilder(fuel.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yield), nil, []api.ValueType{api.ValueTypeI32}).
		Export(fuel.ImportName).
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}

	mod, err := r.Instantiate(ctx, module)
	if err != nil {
		panic(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = mod.ExportedFunction("handle").Call(callCtx)
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == exitTimeout {
		log.Print("the guest ran past its deadline; its instance is closed: discard it")
	}
}
