package queue

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one delivery to a consumer.
type Message struct {
	ID           string
	Installation string
	Queue        string
	Payload      []byte
	Attempt      int // 1 on the first delivery
}

// Consumer handles a message. A positive retryAfter or an error asks for
// another attempt.
type Consumer func(ctx context.Context, m Message) (retryAfter time.Duration, err error)

// Config configures a Memory queue. The zero value is usable.
type Config struct {
	// MaxAttempts bounds deliveries of one message. Default 5 (Forge: one try and 4 retries).
	MaxAttempts int
	// BaseBackoff is the first retry's delay when the consumer names none; it
	// doubles each attempt, with jitter. Default 1 s.
	BaseBackoff time.Duration
	// Workers is how many messages are consumed at once. Default 4.
	Workers int
}

// ErrClosed is returned by Push after Close.
var ErrClosed = errors.New("queue: closed")

// Memory is an in-process queue.
type Memory struct {
	cfg     Config
	consume Consumer
	log     *slog.Logger

	// mu guards closed, timers, lanes and runnable; cond waits on it.
	mu       sync.Mutex
	cond     *sync.Cond
	closed   bool
	timers   map[*time.Timer]struct{}
	lanes    map[string]*lane // by installation and queue
	runnable []*lane          // lanes with messages and no worker, oldest first

	wg      sync.WaitGroup
	pending atomic.Int64
	dead    atomic.Int64
}

// lane is one installation's queue: its due messages are consumed one at a
// time, in the order they became due, so two deliveries of one queue never
// run at once (the bridge's per-chat steps assume it). Different
// installations and queues run in parallel.
type lane struct {
	key   string
	items []Message
	busy  bool // on runnable or held by a worker
}

// NewMemory starts a queue that hands messages to consume.
func NewMemory(cfg Config, consume Consumer, log *slog.Logger) *Memory {
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	q := &Memory{cfg: cfg, consume: consume, log: log, timers: map[*time.Timer]struct{}{}, lanes: map[string]*lane{}}
	q.cond = sync.NewCond(&q.mu)
	for range cfg.Workers {
		q.wg.Add(1)
		go q.work()
	}
	return q
}

func newID() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Push schedules payload for the consumer of queue after delay.
func (q *Memory) Push(_ context.Context, installation, queue string, payload []byte, delay time.Duration) error {
	m := Message{ID: newID(), Installation: installation, Queue: queue, Payload: append([]byte(nil), payload...), Attempt: 1}
	q.pending.Add(1)
	if !q.schedule(m, delay) {
		q.pending.Add(-1)
		return ErrClosed
	}
	return nil
}

func (q *Memory) schedule(m Message, delay time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if delay <= 0 {
		// Due now: straight into its lane, so pushes keep their order.
		q.enqueueLocked(m)
		return true
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.closed {
			return
		}
		if _, live := q.timers[t]; !live {
			return
		}
		delete(q.timers, t)
		q.enqueueLocked(m)
	})
	q.timers[t] = struct{}{}
	return true
}

// enqueueLocked appends a due message to its lane. q.mu must be held.
func (q *Memory) enqueueLocked(m Message) {
	key := m.Installation + "\x00" + m.Queue
	l := q.lanes[key]
	if l == nil {
		l = &lane{key: key}
		q.lanes[key] = l
	}
	l.items = append(l.items, m)
	if !l.busy {
		l.busy = true
		q.runnable = append(q.runnable, l)
		q.cond.Signal()
	}
}

func (q *Memory) work() {
	defer q.wg.Done()
	for {
		l, m, ok := q.next()
		if !ok {
			return
		}
		q.handle(m)
		q.mu.Lock()
		if len(l.items) > 0 {
			q.runnable = append(q.runnable, l)
			q.cond.Signal()
		} else {
			l.busy = false
			delete(q.lanes, l.key)
		}
		q.mu.Unlock()
	}
}

// next waits for a runnable lane and takes its first message; false once closed.
func (q *Memory) next() (*lane, Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.runnable) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, Message{}, false
	}
	l := q.runnable[0]
	q.runnable = q.runnable[1:]
	m := l.items[0]
	l.items = l.items[1:]
	return l, m, true
}

// handle consumes one message and schedules its retry, or drops it after
// its last attempt.
func (q *Memory) handle(m Message) {
	retry, err := q.consume(context.Background(), m)
	if err == nil && retry <= 0 {
		q.pending.Add(-1)
		return
	}
	if m.Attempt >= q.cfg.MaxAttempts {
		q.pending.Add(-1)
		q.dead.Add(1)
		q.log.Warn("queue message dropped after its last attempt", "queue", m.Queue, "installation", m.Installation, "attempts", m.Attempt)
		return
	}
	if retry <= 0 {
		backoff := q.cfg.BaseBackoff << (m.Attempt - 1)
		retry = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
	}
	m.Attempt++
	if !q.schedule(m, retry) {
		q.pending.Add(-1)
	}
}

// Pending reports messages not yet consumed, including those waiting to retry.
func (q *Memory) Pending() int64 { return q.pending.Load() }

// Dropped reports messages that ran out of attempts.
func (q *Memory) Dropped() int64 { return q.dead.Load() }

// Close stops scheduling, drops waiting messages and waits for the workers.
func (q *Memory) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	for t := range q.timers {
		t.Stop()
	}
	q.timers = nil
	q.cond.Broadcast()
	q.mu.Unlock()
	q.wg.Wait()
}
