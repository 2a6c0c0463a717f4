package proxy

import (
	"math"
	"net"
	"strconv"
	"sync"
	"time"
)

// limiter is a set of token buckets keyed by string, bounded in size.
// Keys are route ids and installation ids that passed Backend.Lookup, so an
// attacker cannot mint new keys at will; the bound protects memory anyway.
// Keys with a client address in them (downloads, subscriptions, a trigger's
// per-address bucket) can be minted by whoever has addresses: the bound and
// eviction keep them from growing the map.
type limiter struct {
	rate  float64 // tokens per second, unless allowAt names its own
	burst float64
	max   int // most buckets kept

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
}

type bucket struct {
	tokens      float64
	last        time.Time
	rate, burst float64 // the bucket's own, set when it was made
}

func newLimiter(rate float64, burst, max int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: max, buckets: make(map[string]*bucket)}
}

// allow takes one token from key's bucket. When none is left it returns
// false and how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	return l.allowAt(key, l.rate, l.burst, now)
}

// allowAt is allow for a bucket of its own rate and burst, which key
// keeps from when it was made (until evicted): a key must name what fixes
// its rate.
func (l *limiter) allowAt(key string, rate, burst float64, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: burst, last: now, rate: rate, burst: burst}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	return false, wait
}

// evict makes room: it drops every bucket that has refilled (forgetting it
// changes nothing), and if none has, an arbitrary eighth of them, which at
// worst hands those keys a fresh burst. Called with mu held.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	n := l.max/8 + 1
	for k := range l.buckets {
		if n == 0 {
			break
		}
		delete(l.buckets, k)
		n--
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as the
// Retry-After header needs.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// addressBucket keys a route's bucket for one client address: the route,
// the limit (a new bundle may change it, and a bucket keeps the rate it
// was made with) and the address, an IPv6 one cut to its /64, since one
// subscriber line commonly gets a whole /64 and could otherwise mint a
// fresh bucket per request.
func addressBucket(route string, l AddressLimit, ip net.IP) string {
	b := make([]byte, 0, len(route)+48)
	b = append(b, route...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.Every), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.Burst), 10)
	b = append(b, ' ')
	if v4 := ip.To4(); v4 != nil {
		return string(append(b, v4.String()...))
	}
	return string(append(b, ip.Mask(net.CIDRMask(64, 128)).String()...))
}
