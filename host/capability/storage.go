package capability

import (
	"context"
	"errors"
	"strings"
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

	// transact(ops-ptr, ops-len: u32) -> s64 (1 applied, 0 a condition failed)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.storageTransact(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncStorageTransact)
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
	v, err := h.deps.Store.Get(storage.WithReadCache(ctx, h.cachedKey(k)), c.Installation, storage.KVS, k)
	code = codeOf(c, "storage.get", err)
	h.trace(c, Event{Kind: "storage", Op: "get", Key: k, Outcome: outcome(code), Duration: time.Since(start)})
	if err != nil {
		return abi.Result(code, 0)
	}
	return pend(c, v)
}

// cachedKey reports whether a read of k may come from the read cache.
func (h *host) cachedKey(k string) bool {
	for _, p := range h.deps.CachedKeys {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
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

// maxTxnBytes bounds an encoded transaction: Forge's 4 MB per transaction.
const maxTxnBytes = 4 << 20

func (h *host) storageTransact(ctx context.Context, m api.Module, p, n uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityStorage) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if n > maxTxnBytes {
		return abi.Result(abi.LimitExceeded, 0)
	}
	var txn abi.Txn
	if err := txn.Decode(read(m, p, n)); err != nil {
		return abi.Result(abi.InvalidArgument, 0)
	}
	start := time.Now()
	applied, err := Transact(ctx, h.deps.Store, c.Installation, txn)
	code := codeOf(c, "storage.transact", err)
	key := ""
	if len(txn) > 0 {
		key = txn[0].Key
	}
	out := outcome(code)
	if code == abi.OK && !applied {
		out = "conflict"
	}
	h.trace(c, Event{Kind: "storage", Op: "transact", Key: key, Outcome: out, Duration: time.Since(start)})
	if err != nil {
		return abi.Result(code, 0)
	}
	if applied {
		return abi.Result(abi.OK, 1)
	}
	return abi.Result(abi.OK, 0)
}

// Transact applies a module's transaction to the installation's kvs
// keyspace of store: applied is false when a condition failed (nothing was
// written). A store without transactions refuses it as internal.
func Transact(ctx context.Context, store storage.Store, installation string, txn abi.Txn) (applied bool, err error) {
	tx, ok := store.(storage.Transactor)
	if !ok {
		return false, abi.Internal
	}
	ops := make([]storage.TxnOp, len(txn))
	for i, op := range txn {
		ops[i] = storage.TxnOp{Kind: storage.TxnKind(op.Kind), Space: storage.KVS, Key: op.Key, Value: op.Value,
			TTL: time.Duration(op.TTLSeconds) * time.Second, Cond: storage.Condition(op.Condition), Expect: op.Expect}
	}
	err = tx.Transact(ctx, installation, ops)
	if errors.Is(err, storage.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
