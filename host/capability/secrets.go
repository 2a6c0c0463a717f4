package capability

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// maxSecretBytes bounds a secret value; tokens and keys are far smaller.
const maxSecretBytes = 16 << 10

// registerSecrets provides chatbridge:plugin/secrets. Secrets live in the
// installation's secret keyspace, which queries never return; the module can
// only write, delete and use them by reference.
func (h *host) registerSecrets(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64

	// set(name-ptr, name-len, value-ptr, value-len: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.secretsSet(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])))
	}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncSecretsSet)

	// delete(name-ptr, name-len: u32) -> s64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.secretsDelete(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncSecretsDelete)

	// compare(name-ptr, name-len, candidate-ptr, candidate-len: u32) -> s64 (0 or 1)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.secretsCompare(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])))
	}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncSecretsCompare)

	// verify-hmac(name-ptr, name-len, hash, data-ptr, data-len, mac-ptr, mac-len: u32) -> s64 (0 or 1)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.secretsVerifyHMAC(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4]), u32(s[5]), u32(s[6])))
	}), []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncSecretsVerifyHMAC)
}

// secretName reads a secret's name; the host's own names are off limits.
func secretName(m api.Module, ptr, n uint32) (string, abi.Code) {
	name, code := key(m, ptr, n)
	if code != abi.OK {
		return "", code
	}
	if strings.HasPrefix(name, storage.HostSecretPrefix) {
		return "", abi.AccessDenied
	}
	return name, abi.OK
}

func (h *host) secretsSet(ctx context.Context, m api.Module, np, nn, vp, vn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilitySecrets) {
		return abi.Result(abi.AccessDenied, 0)
	}
	name, code := secretName(m, np, nn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	if vn > maxSecretBytes {
		return abi.Result(abi.LimitExceeded, 0)
	}
	err := h.deps.Store.Set(ctx, c.Installation, storage.Secret, name, read(m, vp, vn), 0)
	return abi.Result(codeOf(c, "secrets.set", err), 0)
}

func (h *host) secretsDelete(ctx context.Context, m api.Module, np, nn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilitySecrets) {
		return abi.Result(abi.AccessDenied, 0)
	}
	name, code := secretName(m, np, nn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	err := h.deps.Store.Delete(ctx, c.Installation, storage.Secret, name)
	return abi.Result(codeOf(c, "secrets.delete", err), 0)
}

// secret loads a secret for use by reference.
func (h *host) secret(ctx context.Context, c *Call, name string) ([]byte, abi.Code) {
	v, err := h.deps.Store.Get(ctx, c.Installation, storage.Secret, name)
	if err != nil {
		return nil, codeOf(c, "secrets.get", err)
	}
	return v, abi.OK
}

func boolResult(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (h *host) secretsCompare(ctx context.Context, m api.Module, np, nn, cp, cn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilitySecrets) {
		return abi.Result(abi.AccessDenied, 0)
	}
	name, code := secretName(m, np, nn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	if cn > maxSecretBytes {
		return boolResult(false)
	}
	candidate := read(m, cp, cn)
	v, code := h.secret(ctx, c, name)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	return boolResult(subtle.ConstantTimeCompare(v, candidate) == 1)
}

func (h *host) secretsVerifyHMAC(ctx context.Context, m api.Module, np, nn, alg, dp, dn, mp, mn uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilitySecrets) {
		return abi.Result(abi.AccessDenied, 0)
	}
	name, code := secretName(m, np, nn)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	var fn func() hash.Hash
	switch alg {
	case abi.HashSHA256:
		fn = sha256.New
	case abi.HashSHA1:
		fn = sha1.New
	default:
		return abi.Result(abi.InvalidArgument, 0)
	}
	if dn > uint32(h.limits.RequestBytes) {
		return abi.Result(abi.LimitExceeded, 0)
	}
	data, mac := read(m, dp, dn), read(m, mp, mn)
	v, code := h.secret(ctx, c, name)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	mh := hmac.New(fn, v)
	mh.Write(data)
	return boolResult(hmac.Equal(mh.Sum(nil), mac))
}
