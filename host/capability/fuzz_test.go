package capability

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// memoryModule is the smallest guest: one page of memory and nothing else.
var memoryModule = []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 5, 3, 1, 0, 1}

type allowAll struct{}

func (allowAll) HasCapability(string) bool        { return true }
func (allowAll) EgressAllowedAt(string, int) bool { return false } // fuzzing must never reach a network
func (allowAll) HasQueue(string) bool             { return true }
func (allowAll) HasScope(string) bool             { return true }

// fuzzHost is a capability host over an in-memory store and a guest with
// one page of memory, whose contents and pointers the fuzzer chooses.
func fuzzHost(tb testing.TB) (*host, api.Module) {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { _ = r.Close(ctx) })
	m, err := r.Instantiate(ctx, memoryModule)
	if err != nil {
		tb.Fatal(err)
	}
	deps := Deps{Store: memstore.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &host{deps: deps, limits: deps.Limits.withDefaults(), policy: allowAll{}}, m
}

// FuzzHostFunctions calls every host function that reads guest memory with
// arbitrary memory and arguments. The only panic allowed is the deliberate
// out-of-bounds trap; every other outcome is a result code.
func FuzzHostFunctions(f *testing.F) {
	f.Add([]byte("chat:1\x00value"), uint8(0), uint32(0), uint32(6), uint32(7), uint32(5), uint32(10))
	f.Add((&abi.Request{Method: "GET", URL: "https://api.telegram.org/bot{{secret:t}}/getMe"}).Append(nil), uint8(9), uint32(0), uint32(60), uint32(0), uint32(0), uint32(0))
	f.Add(abi.AppendHeaders(nil, []abi.Header{{Name: "token", Value: "x"}}), uint8(11), uint32(0), uint32(3), uint32(0), uint32(12), uint32(0))
	f.Add([]byte{}, uint8(3), uint32(65530), uint32(100), uint32(1<<31), uint32(1<<31), uint32(1))
	h, m := fuzzHost(f)
	f.Fuzz(func(t *testing.T, mem []byte, fn uint8, a, b, c, d, e uint32) {
		if len(mem) > 65536 {
			mem = mem[:65536]
		}
		m.Memory().Write(0, make([]byte, 65536))
		m.Memory().Write(0, mem)
		call := &Call{Installation: "fuzz", Log: h.deps.Logger}
		ctx := WithCall(context.Background(), call)
		defer func() {
			if r := recover(); r != nil {
				err, ok := r.(error)
				if !ok || !errors.Is(err, errOutOfBounds) {
					t.Fatalf("host function %d panicked with %v", fn%15, r)
				}
			}
		}()
		var res int64
		switch fn % 15 {
		case 0:
			res = h.storageGet(ctx, m, a, b)
		case 1:
			res = h.storageSet(ctx, m, a, b, c, d, e)
		case 2:
			res = h.storageDelete(ctx, m, a, b)
		case 3:
			res = h.storageQuery(ctx, m, a, b, c, d, e)
		case 4:
			res = h.secretsSet(ctx, m, a, b, c, d)
		case 5:
			res = h.secretsDelete(ctx, m, a, b)
		case 6:
			res = h.secretsCompare(ctx, m, a, b, c, d)
		case 7:
			res = h.secretsVerifyHMAC(ctx, m, a, b, c, d, e, a, c)
		case 8:
			res = h.queuePush(ctx, m, a, b, c, d, e, a, e%1000)
		case 9:
			res = h.fetch(ctx, m, a, b)
		case 10:
			res = h.jira(ctx, m, a, b)
		case 11:
			h.logWrite(ctx, m, int32(c), a, b, d, e)
		case 13:
			h.deps.Uploads = &fakeUploads{}
			res = h.uploadLink(ctx, m, a, b%64, c, d%300, e, a%200, d, e%300, b, c%2000)
		case 14:
			h.deps.Uploads = &fakeUploads{}
			res = h.uploadResult(ctx, m, a, b)
		case 12:
			call.Output = nil
			call.pending = mem
			write(m, a, call.pending)
		}
		if code, n := abi.SplitResult(res); code == abi.OK && int(n) != len(call.pending) && n > 1 {
			t.Fatalf("host function %d reported %d pending bytes but holds %d", fn%15, n, len(call.pending))
		}
	})
}
