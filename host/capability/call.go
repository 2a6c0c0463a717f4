package capability

import (
	"context"
	"log/slog"
)

// Call is the host's state of one invocation: who is calling, the input
// and output of the export, and a pending result. One instance serves one
// call at a time, so a Call is never shared between goroutines.
type Call struct {
	Installation string
	InvocationID string
	Input        []byte
	Output       []byte
	// Log is the invocation's logger, already tagged with its ids.
	Log *slog.Logger

	pending []byte   // result of the last import, collected with result-read
	fetches int      // outbound requests made so far
	used    [][]byte // secret values substituted into requests, redacted from logs
	// fenced is set once a storage write failed with storage.ErrFenced: the
	// queue lane this call consumes is another node's now, and send refuses
	// every further outbound request of the call.
	fenced bool
}

type callKey struct{}

// WithCall returns ctx carrying c for the host functions.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// callOf returns the Call in ctx. A host function without one is a host bug.
func callOf(ctx context.Context) *Call {
	c, ok := ctx.Value(callKey{}).(*Call)
	if !ok {
		panic("capability: host function called outside an invocation")
	}
	return c
}
