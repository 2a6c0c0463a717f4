package capability

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// registerQueue provides chatbridge:plugin/queue: Forge async events to the
// plugin's own declared consumers.
func (h *host) registerQueue(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// push(queue-ptr, queue-len, order-key-ptr, order-key-len, payload-ptr, payload-len, delay-seconds: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.queuePush(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4]), u32(s[5]), u32(s[6])))
	}), []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncQueuePush)
}

// MaxOrderKeyLen bounds a push's order key.
const MaxOrderKeyLen = 256

func (h *host) queuePush(ctx context.Context, m api.Module, qp, qn, kp, kn, pp, pn, delay uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityQueue) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if h.deps.Queue == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	if qn > 64 || kn > MaxOrderKeyLen {
		return abi.Result(abi.InvalidArgument, 0)
	}
	if pn > uint32(h.limits.QueuePayloadBytes) {
		if h.deps.Counters != nil {
			h.deps.Counters.QueueTooLarge.Add(1)
		}
		return abi.Result(abi.LimitExceeded, 0)
	}
	d := time.Duration(delay) * time.Second
	if d > h.limits.QueueDelay {
		return abi.Result(abi.InvalidArgument, 0)
	}
	q := readString(m, qp, qn)
	if !h.policy.HasQueue(q) {
		return abi.Result(abi.InvalidArgument, 0)
	}
	start := time.Now()
	err := h.deps.Queue.Push(ctx, c.Installation, q, readString(m, kp, kn), read(m, pp, pn), d)
	code := codeOf(c, "queue.push", err)
	h.trace(c, Event{Kind: "queue", Op: "push", Key: q, Outcome: outcome(code), Duration: time.Since(start)})
	return abi.Result(code, 0)
}
