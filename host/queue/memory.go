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

	// mu guards closed and timers.
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]struct{}

	ready   chan Message
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
	pending atomic.Int64
	dead    atomic.Int64
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
	q := &Memory{cfg: cfg, consume: consume, log: log, timers: map[*time.Timer]struct{}{}, ready: make(chan Message, 1024), done: make(chan struct{})}
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
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		q.mu.Lock()
		_, live := q.timers[t]
		delete(q.timers, t)
		closed := q.closed
		q.mu.Unlock()
		if !live || closed {
			return
		}
		select {
		case q.ready <- m:
		case <-q.done:
		}
	})
	q.timers[t] = struct{}{}
	return true
}

func (q *Memory) work() {
	defer q.wg.Done()
	for {
		var m Message
		select {
		case m = <-q.ready:
		case <-q.done:
			return
		}
		retry, err := q.consume(context.Background(), m)
		if err == nil && retry <= 0 {
			q.pending.Add(-1)
			continue
		}
		if m.Attempt >= q.cfg.MaxAttempts {
			q.pending.Add(-1)
			q.dead.Add(1)
			q.log.Warn("queue message dropped after its last attempt", "queue", m.Queue, "installation", m.Installation, "attempts", m.Attempt)
			continue
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
	q.mu.Unlock()
	close(q.done)
	q.wg.Wait()
}
