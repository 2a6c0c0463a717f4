package capability

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/realtime"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Realtime is the hub behind chatbridge:plugin/realtime (host/realtime).
type Realtime interface {
	// Publish hands payload to channel's subscribers connected now.
	Publish(ctx context.Context, installation, channel string, payload []byte) (int, error)
	// Sign returns a subscription token for channel, accepted from origin
	// until ttl passes.
	Sign(ctx context.Context, installation, channel, origin string, ttl time.Duration) (string, error)
}

// registerRealtime provides chatbridge:plugin/realtime: Forge Realtime.
func (h *host) registerRealtime(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// publish(channel-ptr, channel-len, payload-ptr, payload-len) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.realtimePublish(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])))
	}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncRealtimePublish)
	// sign-token(channel-ptr, channel-len, origin-ptr, origin-len, ttl-seconds: u32) -> s64 (pending token)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.realtimeSign(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4])))
	}), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncRealtimeSignToken)
}

// realtimeCode maps the hub's refusals to the contract's codes.
func realtimeCode(c *Call, op string, err error) abi.Code {
	switch {
	case errors.Is(err, realtime.ErrInvalid):
		return abi.InvalidArgument
	case errors.Is(err, realtime.ErrTooLarge), errors.Is(err, realtime.ErrRate):
		return abi.LimitExceeded
	}
	return codeOf(c, op, err)
}

func (h *host) realtimePublish(ctx context.Context, m api.Module, cp, cn, pp, pn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityRealtime) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if cn == 0 || cn > abi.MaxRealtimeChannelLen {
		return abi.Result(abi.InvalidArgument, 0)
	}
	if pn > abi.MaxRealtimePayloadLen {
		return abi.Result(abi.LimitExceeded, 0)
	}
	if h.deps.Realtime == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	channel := readString(m, cp, cn)
	start := time.Now()
	_, err := h.deps.Realtime.Publish(ctx, c.Installation, channel, read(m, pp, pn))
	code := realtimeCode(c, "realtime.publish", err)
	// The channel names a conversation: the trace gets the operation only.
	h.trace(c, Event{Kind: "realtime", Op: "publish", Outcome: outcome(code), Duration: time.Since(start)})
	return abi.Result(code, 0)
}

func (h *host) realtimeSign(ctx context.Context, m api.Module, cp, cn, op, on, ttl uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityRealtime) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if cn == 0 || cn > abi.MaxRealtimeChannelLen || on > abi.MaxRealtimeOriginLen || ttl > abi.MaxRealtimeTokenTTL {
		return abi.Result(abi.InvalidArgument, 0)
	}
	if h.deps.Realtime == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	if ttl == 0 {
		ttl = abi.DefaultRealtimeTokenTTL
	}
	start := time.Now()
	tok, err := h.deps.Realtime.Sign(ctx, c.Installation, readString(m, cp, cn), readString(m, op, on), time.Duration(ttl)*time.Second)
	code := realtimeCode(c, "realtime.sign-token", err)
	h.trace(c, Event{Kind: "realtime", Op: "sign-token", Outcome: outcome(code), Duration: time.Since(start)})
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	// The token goes to the module only, never to a log or a trace.
	return pend(c, []byte(tok))
}
