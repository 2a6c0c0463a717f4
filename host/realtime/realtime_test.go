package realtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
)

const origin = "https://shop.example"

// clock is a settable time for expiries and rates.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newHub(t *testing.T, store storage.Store) (*Hub, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	h, err := New(Config{Store: store, Now: c.now, Buffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func sign(t *testing.T, h *Hub, inst, channel, origin string) string {
	t.Helper()
	tok, err := h.Sign(context.Background(), inst, channel, origin, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSubscriberGetsWhatIsPublishedToItsChannelOnly(t *testing.T) {
	h, _ := newHub(t, memstore.New())
	ctx := context.Background()
	a, err := h.Subscribe(ctx, sign(t, h, "inst1", "web:a", origin), origin, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Subscribe(ctx, sign(t, h, "inst1", "web:b", origin), origin, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Subscribe(ctx, sign(t, h, "inst2", "web:a", origin), origin, "10.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"one", "two"} {
		n, err := h.Publish(ctx, "inst1", "web:a", []byte(p))
		if err != nil || n != 1 {
			t.Fatalf("publish %d: %d, %v; want 1 subscriber", i, n, err)
		}
	}
	for _, want := range []string{"one", "two"} {
		if got := string(<-a.C); got != want {
			t.Errorf("a got %q, want %q (publish order)", got, want)
		}
	}
	if len(b.C) != 0 || len(other.C) != 0 {
		t.Errorf("another channel (%d) or installation (%d) got a payload", len(b.C), len(other.C))
	}
}

func TestTokensAreRefusedWhenForgedExpiredOrFromAnotherOrigin(t *testing.T) {
	store := memstore.New()
	h, clk := newHub(t, store)
	ctx := context.Background()
	tok := sign(t, h, "inst1", "web:a", origin)
	body, mac, _ := strings.Cut(strings.TrimPrefix(tok, tokenPrefix), ".")
	other := sign(t, h, "inst2", "web:a", origin)
	_, otherMAC, _ := strings.Cut(strings.TrimPrefix(other, tokenPrefix), ".")
	flipped := []byte(mac)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	cases := []struct {
		name, token, origin string
		want                error
	}{
		{"a MAC flipped", tokenPrefix + body + "." + string(flipped), origin, ErrToken},
		{"another installation's MAC", tokenPrefix + body + "." + otherMAC, origin, ErrToken},
		{"no MAC", tokenPrefix + body, origin, ErrToken},
		{"garbage", "rt1.%%%.x", origin, ErrToken},
		{"too long", tokenPrefix + strings.Repeat("a", MaxTokenLen) + ".b", origin, ErrToken},
		{"another origin", tok, "https://evil.example", ErrOrigin},
		{"no origin", tok, "", ErrOrigin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := h.Subscribe(ctx, c.token, c.origin, "10.0.0.1"); !errors.Is(err, c.want) {
				t.Errorf("Subscribe = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("a claim edited", func(t *testing.T) {
		edited := strings.Replace(tok, body, strings.Replace(body, body[len(body)-4:], "AAAA", 1), 1)
		if _, err := h.Subscribe(ctx, edited, origin, "10.0.0.1"); !errors.Is(err, ErrToken) {
			t.Errorf("Subscribe = %v, want ErrToken", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		clk.add(time.Minute)
		if _, err := h.Subscribe(ctx, tok, origin, "10.0.0.1"); !errors.Is(err, ErrToken) {
			t.Errorf("Subscribe = %v, want ErrToken", err)
		}
	})
	t.Run("installation purged", func(t *testing.T) {
		fresh := sign(t, h, "inst3", "web:a", origin)
		if err := store.Purge(ctx, "inst3"); err != nil {
			t.Fatal(err)
		}
		h.Forget("inst3")
		if _, err := h.Subscribe(ctx, fresh, origin, "10.0.0.1"); !errors.Is(err, ErrToken) {
			t.Errorf("Subscribe = %v, want ErrToken: the key went with the installation", err)
		}
	})
}

func TestNodesSharingAStoreVerifyEachOthersTokens(t *testing.T) {
	store := memstore.New()
	a, _ := newHub(t, store)
	b, _ := newHub(t, store)
	ctx := context.Background()
	// Both make the key at once: one wins, and both then use it.
	var wg sync.WaitGroup
	toks := make([]string, 2)
	for i, h := range []*Hub{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); toks[i] = sign(t, h, "inst1", "web:a", origin) }()
	}
	wg.Wait()
	for i, tok := range toks {
		for j, h := range []*Hub{a, b} {
			if _, err := h.Verify(ctx, tok); err != nil {
				t.Errorf("token of hub %d on hub %d: %v", i, j, err)
			}
		}
	}
}

func TestSignAndPublishRefuseWhatTheContractForbids(t *testing.T) {
	h, _ := newHub(t, memstore.New())
	ctx := context.Background()
	for _, c := range []struct {
		name            string
		channel, origin string
		ttl             time.Duration
	}{
		{"empty channel", "", origin, time.Minute},
		{"channel with a slash", "web/a", origin, time.Minute},
		{"origin with a path", "web:a", origin + "/x", time.Minute},
		{"no lifetime", "web:a", origin, 0},
		{"over an hour", "web:a", origin, time.Hour + time.Second},
	} {
		if _, err := h.Sign(ctx, "inst1", c.channel, c.origin, c.ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Sign = %v, want ErrInvalid", c.name, err)
		}
	}
	if _, err := h.Publish(ctx, "inst1", "web a", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Publish to a bad channel = %v, want ErrInvalid", err)
	}
}

func TestLimitsHold(t *testing.T) {
	ctx := context.Background()
	t.Run("payload size", func(t *testing.T) {
		h, _ := newHub(t, memstore.New())
		h.SetLimits(Limits{PayloadBytes: 10})
		if _, err := h.Publish(ctx, "inst1", "web:a", make([]byte, 10)); err != nil {
			t.Errorf("at the limit: %v", err)
		}
		if _, err := h.Publish(ctx, "inst1", "web:a", make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("over the limit: %v, want ErrTooLarge", err)
		}
	})
	t.Run("operations per second, signing and publishing together", func(t *testing.T) {
		h, clk := newHub(t, memstore.New())
		h.SetLimits(Limits{OperationsPerSecond: 3})
		sign(t, h, "inst1", "web:a", origin)
		for i := 0; i < 2; i++ {
			if _, err := h.Publish(ctx, "inst1", "web:a", nil); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		if _, err := h.Publish(ctx, "inst1", "web:a", nil); !errors.Is(err, ErrRate) {
			t.Errorf("fourth operation in a second: %v, want ErrRate", err)
		}
		if _, err := h.Publish(ctx, "inst2", "web:a", nil); err != nil {
			t.Errorf("another installation is not held back: %v", err)
		}
		clk.add(time.Second)
		if _, err := h.Publish(ctx, "inst1", "web:a", nil); err != nil {
			t.Errorf("a second later: %v", err)
		}
	})
	t.Run("subscribers per address and per installation", func(t *testing.T) {
		h, _ := newHub(t, memstore.New())
		h.SetLimits(Limits{SubscribersPerInstallation: 3, SubscribersPerAddress: 2})
		tok := sign(t, h, "inst1", "web:a", origin)
		var subs []*Subscription
		for i, addr := range []string{"10.0.0.1", "10.0.0.1"} {
			s, err := h.Subscribe(ctx, tok, origin, addr)
			if err != nil {
				t.Fatalf("subscriber %d: %v", i, err)
			}
			subs = append(subs, s)
		}
		if _, err := h.Subscribe(ctx, tok, origin, "10.0.0.1"); !errors.Is(err, ErrTooMany) {
			t.Errorf("third from one address: %v, want ErrTooMany", err)
		}
		s3, err := h.Subscribe(ctx, tok, origin, "10.0.0.2")
		if err != nil {
			t.Fatalf("another address: %v", err)
		}
		if _, err := h.Subscribe(ctx, tok, origin, "10.0.0.3"); !errors.Is(err, ErrTooMany) {
			t.Errorf("fourth of the installation: %v, want ErrTooMany", err)
		}
		other := sign(t, h, "inst2", "web:a", origin)
		if _, err := h.Subscribe(ctx, other, origin, "10.0.0.1"); err != nil {
			t.Errorf("another installation from the same address: %v", err)
		}
		subs[0].Close()
		subs[0].Close() // twice is harmless
		if _, err := h.Subscribe(ctx, tok, origin, "10.0.0.1"); err != nil {
			t.Errorf("after a close, a place is free: %v", err)
		}
		s3.Close()
		if got := h.Subscribers("inst1"); got != 2 {
			t.Errorf("Subscribers = %d, want 2", got)
		}
	})
}

func TestASubscriberThatFallsBehindIsDroppedAndOthersStillGetEverything(t *testing.T) {
	h, _ := newHub(t, memstore.New())
	ctx := context.Background()
	tok := sign(t, h, "inst1", "web:a", origin)
	slow, _ := h.Subscribe(ctx, tok, origin, "10.0.0.1")
	fast, _ := h.Subscribe(ctx, tok, origin, "10.0.0.2")
	var got []string
	publish := func(i int) {
		t.Helper()
		if _, err := h.Publish(ctx, "inst1", "web:a", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Both buffers (4) fill; fast reads its four, slow reads nothing.
	for i := 0; i < 4; i++ {
		publish(i)
	}
	for i := 0; i < 4; i++ {
		got = append(got, string(<-fast.C))
	}
	select {
	case <-slow.Done():
		t.Fatal("dropped before it fell behind")
	default:
	}
	publish(4)
	select {
	case <-slow.Done():
	default:
		t.Fatal("the subscriber that fell behind was not dropped")
	}
	got = append(got, string(<-fast.C))
	if strings.Join(got, ",") != "0,1,2,3,4" {
		t.Errorf("the reader got %v", got)
	}
	if h.Stats().Dropped.Load() != 1 {
		t.Errorf("Dropped = %d, want 1", h.Stats().Dropped.Load())
	}
}

func TestNothingPublishedIsStored(t *testing.T) {
	store := &countingStore{Store: memstore.New()}
	h, _ := newHub(t, store)
	ctx := context.Background()
	s, _ := h.Subscribe(ctx, sign(t, h, "inst1", "web:a", origin), origin, "10.0.0.1")
	before := store.writes
	if _, err := h.Publish(ctx, "inst1", "web:a", []byte("a customer's secret words")); err != nil {
		t.Fatal(err)
	}
	<-s.C
	if store.writes != before {
		t.Errorf("a publish wrote %d records", store.writes-before)
	}
	if before != 1 {
		t.Errorf("signing wrote %d records, want 1 (the signing key)", before)
	}
}

type countingStore struct {
	*memstore.Store
	writes int
}

func (s *countingStore) Set(ctx context.Context, inst string, sp storage.Keyspace, k string, v []byte, ttl time.Duration) error {
	s.writes++
	return s.Store.Set(ctx, inst, sp, k, v, ttl)
}

func (s *countingStore) Transact(ctx context.Context, inst string, ops []storage.TxnOp) error {
	s.writes++
	return s.Store.Transact(ctx, inst, ops)
}

func TestForgetEndsTheInstallationsSubscriptions(t *testing.T) {
	h, _ := newHub(t, memstore.New())
	ctx := context.Background()
	s, _ := h.Subscribe(ctx, sign(t, h, "inst1", "web:a", origin), origin, "10.0.0.1")
	keep, _ := h.Subscribe(ctx, sign(t, h, "inst2", "web:a", origin), origin, "10.0.0.1")
	h.Forget("inst1")
	select {
	case <-s.Done():
	default:
		t.Error("the subscription is still open")
	}
	select {
	case <-keep.Done():
		t.Error("another installation's subscription ended")
	default:
	}
}

// Subscribing, publishing and closing from many goroutines at once keeps
// the counts right (run with -race).
func TestHubHammer(t *testing.T) {
	h, _ := newHub(t, memstore.New())
	h.SetLimits(Limits{SubscribersPerInstallation: 1000, SubscribersPerAddress: 1000})
	ctx := context.Background()
	tok := sign(t, h, "inst1", "web:a", origin)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				s, err := h.Subscribe(ctx, tok, origin, fmt.Sprint("10.0.0.", i))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = h.Publish(ctx, "inst1", "web:a", []byte("x"))
				s.Close()
			}
		}()
	}
	wg.Wait()
	if n := h.Subscribers("inst1"); n != 0 {
		t.Errorf("Subscribers = %d after every close, want 0", n)
	}
}
