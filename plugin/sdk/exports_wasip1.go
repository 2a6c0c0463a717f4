package sdk

import (
	"unsafe"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// input reads the current call's input of n bytes.
func input(n uint32) []byte {
	if n == 0 {
		return nil
	}
	buf := make([]byte, n)
	inputRead(unsafe.Pointer(&buf[0]))
	return buf
}

func output(b []byte) {
	if len(b) == 0 {
		return
	}
	outputWrite(unsafe.Pointer(&b[0]), uint32(len(b)))
}

//go:wasmexport init
func exportInit() uint32 {
	if registered.Init == nil {
		return uint32(abi.OK)
	}
	return uint32(CodeOf(registered.Init(env)))
}

//go:wasmexport handle-web-trigger
func exportWebTrigger(n uint32) uint32 {
	if registered.WebTrigger == nil {
		return uint32(CodeOf(errNoHandler))
	}
	var req abi.WebTriggerRequest
	if err := req.Decode(input(n)); err != nil {
		return uint32(abi.InvalidArgument)
	}
	resp, err := registered.WebTrigger(env, &req)
	if err != nil {
		return uint32(CodeOf(err))
	}
	if resp == nil {
		resp = &abi.Response{Status: 204}
	}
	output(resp.Append(nil))
	return uint32(abi.OK)
}

//go:wasmexport handle-event
func exportEvent(n uint32) uint32 {
	if registered.Event == nil {
		return uint32(CodeOf(errNoHandler))
	}
	var ev abi.Event
	if err := ev.Decode(input(n)); err != nil {
		return uint32(abi.InvalidArgument)
	}
	return uint32(CodeOf(registered.Event(env, &ev)))
}

//go:wasmexport handle-queue
func exportQueue(n uint32) uint32 {
	if registered.Queue == nil {
		return uint32(CodeOf(errNoHandler))
	}
	var m abi.QueueMessage
	if err := m.Decode(input(n)); err != nil {
		return uint32(abi.InvalidArgument)
	}
	res, err := registered.Queue(env, &m)
	if err != nil {
		return uint32(CodeOf(err))
	}
	if res.RetryAfterSeconds != 0 {
		output(res.Append(nil))
	}
	return uint32(abi.OK)
}

//go:wasmexport handle-scheduled
func exportScheduled(n uint32) uint32 {
	if registered.Scheduled == nil {
		return uint32(CodeOf(errNoHandler))
	}
	var c abi.ScheduledCall
	if err := c.Decode(input(n)); err != nil {
		return uint32(abi.InvalidArgument)
	}
	return uint32(CodeOf(registered.Scheduled(env, &c)))
}

//go:wasmexport handle-resolver
func exportResolver(n uint32) uint32 {
	if registered.Resolver == nil {
		return uint32(CodeOf(errNoHandler))
	}
	var c abi.ResolverCall
	if err := c.Decode(input(n)); err != nil {
		return uint32(abi.InvalidArgument)
	}
	out, err := registered.Resolver(env, &c)
	if err != nil {
		return uint32(CodeOf(err))
	}
	output(out)
	return uint32(abi.OK)
}
