package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is a consumer that fails the first failures attempts of each
// message and records every delivery.
type recorder struct {
	mu       sync.Mutex
	got      []Message
	failures int
	retry    time.Duration
}

func (r *recorder) consume(_ context.Context, m Message) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	if m.Attempt <= r.failures {
		if r.retry > 0 {
			return r.retry, nil
		}
		return 0, errors.New("consumer failed")
	}
	return 0, nil
}

func (r *recorder) deliveries() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAPushedMessageReachesTheConsumerAfterItsDelay(t *testing.T) {
	r := &recorder{}
	q := NewMemory(Config{}, r.consume, quiet)
	defer q.Close()
	start := time.Now()
	if err := q.Push(context.Background(), "inst", "deliveries", []byte("p"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(r.deliveries()) == 1 })
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("delivered after %v, before its 50 ms delay", took)
	}
	m := r.deliveries()[0]
	if m.Installation != "inst" || m.Queue != "deliveries" || string(m.Payload) != "p" || m.Attempt != 1 || m.ID == "" {
		t.Fatalf("delivered %+v", m)
	}
	waitUntil(t, func() bool { return q.Pending() == 0 })
}

func TestAFailedDeliveryIsRetriedWithTheSameIDUntilItSucceeds(t *testing.T) {
	r := &recorder{failures: 2}
	q := NewMemory(Config{BaseBackoff: time.Millisecond}, r.consume, quiet)
	defer q.Close()
	_ = q.Push(context.Background(), "inst", "q", []byte("x"), 0)
	waitUntil(t, func() bool { return q.Pending() == 0 })
	got := r.deliveries()
	if len(got) != 3 || got[0].ID != got[2].ID || got[2].Attempt != 3 {
		t.Fatalf("deliveries %+v, want 3 attempts of one message", got)
	}
	if q.Dropped() != 0 {
		t.Fatalf("dropped %d", q.Dropped())
	}
}

func TestAConsumerAskingForARetryGetsItAfterTheDelayItNamed(t *testing.T) {
	r := &recorder{failures: 1, retry: 80 * time.Millisecond}
	q := NewMemory(Config{}, r.consume, quiet)
	defer q.Close()
	_ = q.Push(context.Background(), "inst", "q", []byte("x"), 0)
	waitUntil(t, func() bool { return len(r.deliveries()) == 2 })
	if gap := r.deliveries()[1].Attempt; gap != 2 {
		t.Fatalf("second delivery is attempt %d", gap)
	}
}

func TestAMessageIsDroppedAfterItsLastAttempt(t *testing.T) {
	r := &recorder{failures: 100}
	q := NewMemory(Config{MaxAttempts: 3, BaseBackoff: time.Millisecond}, r.consume, quiet)
	defer q.Close()
	_ = q.Push(context.Background(), "inst", "q", []byte("x"), 0)
	waitUntil(t, func() bool { return q.Dropped() == 1 })
	if n := len(r.deliveries()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if q.Pending() != 0 {
		t.Fatalf("pending %d after the drop", q.Pending())
	}
}

func TestPushAfterCloseIsRefused(t *testing.T) {
	q := NewMemory(Config{}, (&recorder{}).consume, quiet)
	q.Close()
	if err := q.Push(context.Background(), "i", "q", nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	q.Close() // twice is fine
}

func TestOneInstallationsQueueIsConsumedOneMessageAtATimeInOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	runningA, overlap := 0, false
	consume := func(_ context.Context, m Message) (time.Duration, error) {
		mu.Lock()
		if m.Installation == "a" {
			runningA++
			overlap = overlap || runningA > 1
		}
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		if m.Installation == "a" {
			runningA--
		}
		if m.Installation == "a" {
			order = append(order, string(m.Payload))
		}
		mu.Unlock()
		return 0, nil
	}
	q := NewMemory(Config{Workers: 4}, consume, quiet)
	defer q.Close()
	var want []string
	for i := range 20 {
		p := string(rune('a' + i))
		want = append(want, p)
		_ = q.Push(context.Background(), "a", "inbound", []byte(p), 0)
		_ = q.Push(context.Background(), "b", "inbound", []byte(p), 0) // another installation runs beside it
	}
	waitUntil(t, func() bool { return q.Pending() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, "") != strings.Join(want, "") {
		t.Fatalf("consumed %v, pushed %v", order, want)
	}
	if overlap {
		t.Fatal("two messages of one installation's queue were consumed at once")
	}
}
