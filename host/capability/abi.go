package capability

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// pend makes b the pending result of the current import and returns the
// import's value: its length.
func pend(c *Call, b []byte) int64 {
	c.pending = b
	return abi.Result(abi.OK, uint32(len(b)))
}

func registerABI(b wazero.HostModuleBuilder) {
	i32 := api.ValueTypeI32
	// input-read(ptr: u32): copy the export's input into guest memory.
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		write(m, u32(s[0]), callOf(ctx).Input)
	}), []api.ValueType{i32}, nil).Export(abi.FuncInputRead)

	// output-write(ptr: u32, len: u32): take the export's output.
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		callOf(ctx).Output = read(m, u32(s[0]), u32(s[1]))
	}), []api.ValueType{i32, i32}, nil).Export(abi.FuncOutputWrite)

	// result-read(ptr: u32): hand over the pending result of the last import.
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		c := callOf(ctx)
		write(m, u32(s[0]), c.pending)
		c.pending = nil
	}), []api.ValueType{i32}, nil).Export(abi.FuncResultRead)
}
