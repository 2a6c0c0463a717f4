package host_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/realtime"
)

const shop = "https://shop.example"

// The realtime capability from a real module: a token the module signs
// subscribes, its publishes arrive, and the probe manifest's app.realtime
// limits (payload 1024, 20 operations a second, 4 subscribers an address,
// 6 an installation) hold.
func TestRealtimeFromARealModuleDeliversAndHoldsItsLimits(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")
	other := f.install(t, "https://other.atlassian.net")
	ctx := context.Background()
	hub := f.host.Realtime()

	r := f.probe(t, in, map[string]any{"op": "realtime.sign", "key": "web:s1", "value": shop, "ttl": 60})
	if !r.OK || r.Value == "" {
		t.Fatalf("sign: %+v", r)
	}
	token := r.Value
	sub, err := hub.Subscribe(ctx, token, shop, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.probe(t, in, map[string]any{"op": "realtime.publish", "key": "web:s1", "value": "first"}); !r.OK {
		t.Fatalf("publish: %+v", r)
	}
	if got := string(<-sub.C); got != "first" {
		t.Errorf("got %q", got)
	}
	// Another installation's channel of the same name is another channel.
	if r := f.probe(t, other, map[string]any{"op": "realtime.publish", "key": "web:s1", "value": "theirs"}); !r.OK {
		t.Fatalf("publish: %+v", r)
	}
	if r := f.probe(t, in, map[string]any{"op": "realtime.publish", "key": "web:s1", "value": "second"}); !r.OK {
		t.Fatalf("publish: %+v", r)
	}
	if got := string(<-sub.C); got != "second" {
		t.Errorf("got %q, want the installation's own second payload", got)
	}

	for _, c := range []struct {
		name string
		op   map[string]any
		code string
	}{
		{"a payload over app.realtime.payloadBytes", map[string]any{"op": "realtime.publish", "key": "web:s1", "n": 1025}, "limit-exceeded"},
		{"a channel with a space", map[string]any{"op": "realtime.publish", "key": "web s1", "value": "x"}, "invalid-argument"},
		{"an origin with a path", map[string]any{"op": "realtime.sign", "key": "web:s1", "value": shop + "/x"}, "invalid-argument"},
		{"a token for over an hour", map[string]any{"op": "realtime.sign", "key": "web:s1", "ttl": 3601}, "invalid-argument"},
	} {
		if r := f.probe(t, in, c.op); r.Code != c.code {
			t.Errorf("%s: %+v, want %s", c.name, r, c.code)
		}
	}

	// Another origin, and the token of one installation for another's key.
	if _, err := hub.Subscribe(ctx, token, "https://evil.example", "10.0.0.1"); !errors.Is(err, realtime.ErrOrigin) {
		t.Errorf("another origin: %v", err)
	}
	// Subscribers: 4 an address, 6 the installation.
	for i := 0; i < 3; i++ {
		if _, err := hub.Subscribe(ctx, token, shop, "10.0.0.1"); err != nil {
			t.Fatalf("subscriber %d: %v", i+2, err)
		}
	}
	if _, err := hub.Subscribe(ctx, token, shop, "10.0.0.1"); !errors.Is(err, realtime.ErrTooMany) {
		t.Errorf("fifth from one address: %v, want ErrTooMany", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := hub.Subscribe(ctx, token, shop, "10.0.0.2"); err != nil {
			t.Fatalf("from another address: %v", err)
		}
	}
	if _, err := hub.Subscribe(ctx, token, shop, "10.0.0.3"); !errors.Is(err, realtime.ErrTooMany) {
		t.Errorf("seventh of the installation: %v, want ErrTooMany", err)
	}

	// A flood of publishes meets the rate limit (20 a second) as an error
	// code, and the host serves on.
	refused := false
	for i := 0; i < 500 && !refused; i++ {
		r := f.probe(t, in, map[string]any{"op": "realtime.publish", "key": "web:flood", "value": "x"})
		switch {
		case r.Code == "limit-exceeded":
			refused = true
		case !r.OK:
			t.Fatalf("publish %d: %+v", i, r)
		}
	}
	if !refused {
		t.Error("500 publishes in a row were never refused for the rate")
	}

	// Uninstalling ends the subscriptions and voids the tokens.
	if _, err := f.host.Uninstall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Done():
	default:
		t.Error("a subscription outlived its installation")
	}
	if _, err := hub.Verify(ctx, token); !errors.Is(err, realtime.ErrToken) {
		t.Errorf("a token of an uninstalled installation: %v, want ErrToken", err)
	}
}
