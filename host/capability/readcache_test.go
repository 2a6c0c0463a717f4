package capability

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// cacheWitness is a store that notes, per key, whether a Get allowed the
// read cache.
type cacheWitness struct {
	storage.Store
	allowed map[string]bool
}

func (w *cacheWitness) Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error) {
	w.allowed[key] = storage.ReadCacheAllowed(ctx)
	return w.Store.Get(ctx, inst, space, key)
}

// TestStorageGet_AllowsTheReadCacheOnlyForCachedKeys: a module's get of a
// key under Deps.CachedKeys may be answered from the read cache; any other
// key, and any key when CachedKeys is empty, is read from the store itself.
func TestStorageGet_AllowsTheReadCacheOnlyForCachedKeys(t *testing.T) {
	h, m := fuzzHost(t)
	w := &cacheWitness{Store: memstore.New(), allowed: map[string]bool{}}
	h.deps = Deps{Store: w, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CachedKeys: []string{"config:", "chat:"}}
	ctx := WithCall(context.Background(), &Call{Installation: "inst", Log: h.deps.Logger})
	want := map[string]bool{"config:SUP": true, "chat:SUP:tg:1": true, "dedupe:tg:SUP:1": false, "configs": false}
	for key := range want {
		m.Memory().Write(0, []byte(key))
		if code, _ := abi.SplitResult(h.storageGet(ctx, m, 0, uint32(len(key)))); code != abi.NotFound {
			t.Fatalf("get %s: %v", key, code)
		}
	}
	for key, allowed := range want {
		if w.allowed[key] != allowed {
			t.Errorf("get %s: read cache allowed %v, want %v", key, w.allowed[key], allowed)
		}
	}
	h.deps.CachedKeys = nil
	m.Memory().Write(0, []byte("config:SUP"))
	h.storageGet(ctx, m, 0, uint32(len("config:SUP")))
	if w.allowed["config:SUP"] {
		t.Error("without CachedKeys a get allowed the read cache")
	}
}
