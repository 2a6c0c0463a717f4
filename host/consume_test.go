package host_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// A queued message of an installation this host does not know yet (another
// host sharing the store made it since this one last read the registry) is
// retried, not dropped; one of an installation the store no longer holds is
// dropped.
func TestAMessageOfAnInstallationNotYetLoadedIsKeptUntilTheStoreSaysItIsGone(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	ctx := context.Background()
	// A second host on the same store, loaded before the install.
	other, err := host.New(ctx, host.Config{Store: f.store, Trust: bundletest.Trust(t), Engine: engine.Config{CacheDir: cacheDir},
		Logger: slog.New(slog.DiscardHandler), Queue: queue.Config{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close(ctx) })
	if err := other.Load(ctx, bundletest.Probe(t, nil)); err != nil {
		t.Fatal(err)
	}
	in := f.install(t, "https://example.atlassian.net")
	if err := other.Queue().Push(ctx, in.ID, "deliveries", "k", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the condition", waitfor.True(func() bool { return other.Queue().Stats().Retried >= 1 }))
	if s := other.Queue().Stats(); s.Delivered != 0 || s.Pending != 1 {
		t.Fatalf("the message of an installation not loaded here was dropped: %+v", s)
	}

	// Uninstalled for good: the store has no record, and the message goes.
	if _, err := f.host.Uninstall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the condition", waitfor.True(func() bool { return other.Queue().Pending() == 0 }))
	if s := other.Queue().Stats(); s.Delivered != 1 {
		t.Fatalf("stats after the uninstall: %+v", s)
	}
}
