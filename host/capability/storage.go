package capability

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// registerStorage provides chatbridge:plugin/storage: Forge KVS in the
// installation's kvs keyspace.
func (h *host) registerStorage(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64

	// get(key-ptr, key-len: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.storageGet(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncStorageGet)

	// set(key-ptr, key-len, value-ptr, value-len, ttl-seconds: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.storageSet(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4])))
	}), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncStorageSet)

	// delete(key-ptr, key-len: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.storageDelete(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncStorageDelete)

	// query(prefix-ptr, prefix-len, cursor-ptr, cursor-len, limit: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.storageQuery(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4])))
	}), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncStorageQuery)
}

// key reads a key, refusing an over-long one before copying it.
func key(m api.Module, ptr, n uint32) (string, abi.Code) {
	if n > abi.MaxKeyLen {
		return "", abi.InvalidArgument
	}
	k := readString(m, ptr, n)
	if abi.KeyProblem(k) != "" {
		return "", abi.InvalidArgument
	}
	return k, abi.OK
}

func (h *host) storageGet(ctx context.Context, m api.Module, kp, kn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityStorage) {
		return abi.Result(abi.AccessDenied, 0)
	}
	k, code := key(m, kp, kn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	start := time.Now()
	v, err := h.deps.Store.Get(ctx, c.Installation, storage.KVS, k)
	code = codeOf(c, "storage.get", err)
	h.trace(c, Event{Kind: "storage", Op: "get", Key: k, Outcome: outcome(code), Duration: time.Since(start)})
	if err != nil {
		return abi.Result(code, 0)
	}
	return pend(c, v)
}

func (h *host) storageSet(ctx context.Context, m api.Module, kp, kn, vp, vn, ttl uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityStorage) {
		return abi.Result(abi.AccessDenied, 0)
	}
	k, code := key(m, kp, kn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	if vn > abi.MaxValueLen {
		return abi.Result(abi.LimitExceeded, 0)
	}
	v := read(m, vp, vn)
	start := time.Now()
	err := h.deps.Store.Set(ctx, c.Installation, storage.KVS, k, v, time.Duration(ttl)*time.Second)
	code = codeOf(c, "storage.set", err)
	h.trace(c, Event{Kind: "storage", Op: "set", Key: k, Outcome: outcome(code), Duration: time.Since(start)})
	return abi.Result(code, 0)
}

func (h *host) storageDelete(ctx context.Context, m api.Module, kp, kn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityStorage) {
		return abi.Result(abi.AccessDenied, 0)
	}
	k, code := key(m, kp, kn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	start := time.Now()
	err := h.deps.Store.Delete(ctx, c.Installation, storage.KVS, k)
	code = codeOf(c, "storage.delete", err)
	h.trace(c, Event{Kind: "storage", Op: "delete", Key: k, Outcome: outcome(code), Duration: time.Since(start)})
	return abi.Result(code, 0)
}

func (h *host) storageQuery(ctx context.Context, m api.Module, pp, pn, cp, cn, limit uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityStorage) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if pn > abi.MaxKeyLen || cn > 4*abi.MaxKeyLen || limit > abi.MaxQueryLimit {
		return abi.Result(abi.InvalidArgument, 0)
	}
	prefix, cursor := readString(m, pp, pn), readString(m, cp, cn)
	start := time.Now()
	p, err := h.deps.Store.Query(ctx, c.Installation, storage.KVS, prefix, cursor, int(limit))
	code := codeOf(c, "storage.query", err)
	h.trace(c, Event{Kind: "storage", Op: "query", Key: prefix + "*", Outcome: outcome(code), Duration: time.Since(start)})
	if err != nil {
		return abi.Result(code, 0)
	}
	page := abi.Page{NextCursor: p.NextCursor, Entries: make([]abi.Entry, len(p.Entries))}
	for i, e := range p.Entries {
		page.Entries[i] = abi.Entry{Key: e.Key, Value: e.Value}
	}
	return pend(c, page.Append(nil))
}
