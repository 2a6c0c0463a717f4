package proxy

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	t.Run("a burst passes, the next request waits for a token", func(t *testing.T) {
		l := newLimiter(2, 3, 10)
		for i := range 3 {
			if ok, _ := l.allow("k", t0); !ok {
				t.Fatalf("request %d of the burst refused", i)
			}
		}
		ok, wait := l.allow("k", t0)
		if ok || wait != 500*time.Millisecond {
			t.Errorf("after the burst: ok=%v wait=%v, want refused for 500ms", ok, wait)
		}
		if ok, _ := l.allow("k", t0.Add(500*time.Millisecond)); !ok {
			t.Error("refused after a token refilled")
		}
	})
	t.Run("keys do not share buckets", func(t *testing.T) {
		l := newLimiter(1, 1, 10)
		l.allow("a", t0)
		if ok, _ := l.allow("b", t0); !ok {
			t.Error("b refused because of a")
		}
	})
	t.Run("a refill never exceeds the burst", func(t *testing.T) {
		l := newLimiter(100, 2, 10)
		l.allow("k", t0)
		later := t0.Add(time.Hour)
		n := 0
		for {
			if ok, _ := l.allow("k", later); !ok {
				break
			}
			n++
		}
		if n != 2 {
			t.Errorf("%d requests after an hour idle, want the burst of 2", n)
		}
	})
	t.Run("the map stays bounded, forgetting refilled buckets first", func(t *testing.T) {
		l := newLimiter(1, 5, 100)
		l.allow("busy", t0)
		l.allow("busy", t0) // 3 left: not refilled, so kept
		for i := range 1000 {
			l.allow(fmt.Sprint("k", i), t0.Add(time.Duration(i)*time.Minute))
			if n := l.len(); n > 100 {
				t.Fatalf("%d buckets, bound is 100", n)
			}
		}
	})
	t.Run("when nothing has refilled, an eighth is dropped", func(t *testing.T) {
		l := newLimiter(0.001, 1, 80)
		for i := range 80 {
			l.allow(fmt.Sprint("k", i), t0)
		}
		l.allow("new", t0)
		if n := l.len(); n > 80 || n < 60 {
			t.Errorf("%d buckets after eviction", n)
		}
	})
	t.Run("concurrent use is safe and exact", func(t *testing.T) {
		l := newLimiter(1e-9, 1000, 10)
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 500 {
					if ok, _ := l.allow("k", t0); ok {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if allowed != 1000 {
			t.Errorf("%d allowed, want exactly the burst of 1000", allowed)
		}
	})
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := retryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
