package ratelimit

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"sync"
	"time"
)

// Pace is the rate one key allows.
type Pace struct {
	// Every is the spacing between requests at the sustained rate. Zero: no
	// pace; only blocks learned from the destination's answers apply.
	Every time.Duration
	// Burst is how many requests may go at once after a quiet spell.
	// Default 1: requests are spaced Every apart.
	Burst int
}

// Key is one thing a request counts against: a bot, a chat, a site. It is
// identified by a truncated SHA-256 of the installation and the parts that
// name it, so the limiter keeps no token, chat id or other name.
type Key struct {
	id   [16]byte
	pace Pace
}

// NewKey returns the key of installation and parts, paced by pace.
func NewKey(pace Pace, installation string, parts ...string) Key {
	return newKey(pace, installation, nil, parts)
}

// newKey hashes installation, then the parts of each list in turn: one
// length-prefixed sequence, as NewKey(pace, installation, a..., b...).
func newKey(pace Pace, installation string, a, b []string) Key {
	buf := make([]byte, 0, 512)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(installation)))
	buf = append(buf, installation...)
	for _, list := range [2][]string{a, b} {
		for _, p := range list {
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(p)))
			buf = append(buf, p...)
		}
	}
	sum := sha256.Sum256(buf)
	k := Key{pace: pace}
	copy(k.id[:], sum[:])
	return k
}

// Config tunes a Limiter. The zero value means the defaults.
type Config struct {
	// MaxWait is the longest Wait sleeps; a request that would wait longer
	// is refused with a *WaitError instead. Default 2 s.
	MaxWait time.Duration
	// Idle is how long a key nobody used, with no pace or block pending,
	// is kept. Default 1 minute.
	Idle time.Duration
	// MaxKeys caps the keys held; beyond it the least recently used key is
	// dropped even if a pace or block is pending. Default 100 000.
	MaxKeys int
	// MaxBlock caps a block learned from an answer (a hostile or broken
	// Retry-After must not silence a destination for good). Default 15
	// minutes, the longest queue delay.
	MaxBlock time.Duration
	// Nodes, when set, is how many nodes share every paced key, read at
	// each request (cluster.Members.Count: a count a watch keeps, no I/O).
	// Each node then paces a key at its share, Every x n apart with bursts
	// of Burst / n (at least 1), so that n nodes together keep the key's
	// rate; when a node leaves, the others' shares grow. Default: 1, this
	// node alone.
	Nodes func() int
}

func (c Config) withDefaults() Config {
	if c.MaxWait == 0 {
		c.MaxWait = 2 * time.Second
	}
	if c.Idle == 0 {
		c.Idle = time.Minute
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 100_000
	}
	if c.MaxBlock == 0 {
		c.MaxBlock = 15 * time.Minute
	}
	return c
}

// WaitError refuses a request that would have to wait longer than MaxWait.
type WaitError struct {
	// Wait is how long the request would have to wait from now.
	Wait time.Duration
}

func (e *WaitError) Error() string {
	return "ratelimit: wait of " + e.Wait.String() + " exceeds the maximum"
}

// Seconds is Wait in whole seconds, rounded up, at least 1: what a
// Retry-After that keeps the caller from coming back early says.
func (e *WaitError) Seconds() int {
	s := int((e.Wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Stats are the limiter's counters since it was made.
type Stats struct {
	Keys    int   // keys held now
	Delayed int64 // requests that slept before going out
	Refused int64 // requests refused with a *WaitError
	Blocks  int64 // blocks learned from answers
	Evicted int64 // keys dropped
}

// Limiter paces requests per key. It is safe for concurrent use; a nil
// *Limiter lets everything through.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu    sync.Mutex // guards keys, lru and stats
	keys  map[[16]byte]*list.Element
	lru   *list.List // of *entry, most recently used first
	stats Stats
}

// entry is the state of one key, GCRA style: tat is the theoretical
// arrival time of the next request at the sustained rate.
type entry struct {
	id      [16]byte
	tat     time.Time
	blocked time.Time // no request before this
	used    time.Time
}

// New returns a limiter configured by cfg.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), now: time.Now, keys: make(map[[16]byte]*list.Element), lru: list.New()}
}

// MaxWait is the configured MaxWait.
func (l *Limiter) MaxWait() time.Duration { return l.cfg.MaxWait }

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Keys = len(l.keys)
	return s
}

// Wait takes a turn on every key of d, sleeping until the turn comes when
// that is at most MaxWait away. A longer wait takes nothing and returns a
// *WaitError; a canceled ctx returns its error. Turns are reserved in call
// order, so concurrent callers of one key go out in the order they asked.
// A block learned while sleeping is honoured before returning.
func (l *Limiter) Wait(ctx context.Context, d Destination) error {
	if l == nil || len(d.keys) == 0 {
		return nil
	}
	start := l.now()
	deadline := start.Add(l.cfg.MaxWait)
	wait, ok := l.reserve(start, d.keys)
	if !ok {
		return &WaitError{Wait: wait}
	}
	if wait > 0 {
		l.count(func(s *Stats) { s.Delayed++ })
	}
	for wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		now := l.now()
		wait = l.blockedFor(now, d.keys)
		if wait > 0 && now.Add(wait).After(deadline) {
			l.count(func(s *Stats) { s.Refused++ })
			return &WaitError{Wait: wait}
		}
	}
	return ctx.Err()
}

// reserve takes a turn on every key at the earliest time all allow, if
// that is at most MaxWait from now, and returns how long until then.
func (l *Limiter) reserve(now time.Time, keys []Key) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := now
	nodes := l.nodes()
	entries := make([]*entry, len(keys))
	for i, k := range keys {
		e := l.entry(now, k.id)
		entries[i] = e
		if e.blocked.After(at) {
			at = e.blocked
		}
		if p := k.pace.share(nodes); p.Every > 0 {
			tolerance := time.Duration(p.Burst-1) * p.Every
			if t := e.tat.Add(-tolerance); t.After(at) {
				at = t
			}
		}
	}
	l.evict(now)
	wait := at.Sub(now)
	if wait > l.cfg.MaxWait {
		l.stats.Refused++
		return wait, false
	}
	for i, k := range keys {
		p := k.pace.share(nodes)
		if p.Every <= 0 {
			continue
		}
		e := entries[i]
		if at.After(e.tat) {
			e.tat = at
		}
		e.tat = e.tat.Add(p.Every)
	}
	return wait, true
}

// nodes is how many nodes share the keys now, at least 1.
func (l *Limiter) nodes() int {
	if l.cfg.Nodes == nil {
		return 1
	}
	return max(l.cfg.Nodes(), 1)
}

// share is one of n nodes' share of p: n times the spacing, an n-th of the
// burst (at least 1), so that n nodes together send at most what p allows
// in any window (bar the bursts when Burst < n: see RATIONALE.md).
func (p Pace) share(n int) Pace {
	burst := max(p.Burst, 1)
	if n <= 1 || p.Every <= 0 {
		p.Burst = burst
		return p
	}
	return Pace{Every: p.Every * time.Duration(n), Burst: max(burst/n, 1)}
}

// blockedFor is how long from now a learned block holds any of keys.
func (l *Limiter) blockedFor(now time.Time, keys []Key) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if el, ok := l.keys[k.id]; ok {
			wait = max(wait, el.Value.(*entry).blocked.Sub(now))
		}
	}
	return wait
}

// block keeps every request of k back until until.
func (l *Limiter) block(k Key, until time.Time) {
	now := l.now()
	until = minTime(until, now.Add(l.cfg.MaxBlock))
	if !until.After(now) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(now, k.id)
	if until.After(e.blocked) {
		e.blocked = until
	}
	l.stats.Blocks++
	l.evict(now)
}

// entry returns the key's entry, made when missing, as the most recently used.
func (l *Limiter) entry(now time.Time, id [16]byte) *entry {
	if el, ok := l.keys[id]; ok {
		l.lru.MoveToFront(el)
		e := el.Value.(*entry)
		e.used = now
		return e
	}
	e := &entry{id: id, used: now}
	l.keys[id] = l.lru.PushFront(e)
	return e
}

// evict drops keys from the least recently used end while they are quiet,
// and any key beyond MaxKeys. Each call does work in proportion to what it
// drops, so memory follows the keys in use.
func (l *Limiter) evict(now time.Time) {
	for {
		el := l.lru.Back()
		if el == nil {
			return
		}
		e := el.Value.(*entry)
		quiet := now.Sub(e.used) >= l.cfg.Idle && !e.tat.After(now) && !e.blocked.After(now)
		if !quiet && l.lru.Len() <= l.cfg.MaxKeys {
			return
		}
		l.lru.Remove(el)
		delete(l.keys, e.id)
		l.stats.Evicted++
	}
}

func (l *Limiter) count(f func(*Stats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// String shows a key's hash prefix and pace, never what it was made of.
func (k Key) String() string {
	return strconv.FormatUint(binary.BigEndian.Uint64(k.id[:8]), 16) + "/" + k.pace.Every.String()
}
