package resolver

import (
	"context"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Call runs the resolver function of installation id with payload and
// returns its answer.
func Call(ctx context.Context, h *host.Host, id, function string, payload []byte) ([]byte, error) {
	return h.Invoke(ctx, host.Invocation{
		Installation: id, Kind: bundle.KindFunction, Export: abi.ExportHandleResolver, Op: "resolver " + function,
		Encode: func(c abi.Context) []byte {
			rc := abi.ResolverCall{Context: c, Function: function, Payload: payload}
			return rc.Append(nil)
		},
	})
}
