package waitfor

import (
	"testing"
	"time"
)

// Bound is how long Until waits when given no bound of its own.
const Bound = 60 * time.Second

// Until polls cond until it returns "" (done), then returns; when within
// (Bound if 0) has passed, it fails tb with what and cond's last answer.
// It polls every 5 ms at first, backing off to every 100 ms.
func Until(tb testing.TB, within time.Duration, what string, cond func() string) {
	tb.Helper()
	if within <= 0 {
		within = Bound
	}
	deadline := time.Now().Add(within)
	step := 5 * time.Millisecond
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not within %v: %s: %s", within, what, why)
		}
		time.Sleep(step)
		step = min(2*step, 100*time.Millisecond)
	}
}

// True adapts a condition that only says yes or no.
func True(cond func() bool) func() string {
	return func() string {
		if cond() {
			return ""
		}
		return "not yet"
	}
}
