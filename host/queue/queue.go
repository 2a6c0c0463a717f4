package queue

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Message is one delivery to a consumer.
type Message struct {
	ID           string
	Installation string
	Queue        string
	// OrderKey is the push's order key; messages sharing one are consumed
	// one at a time in push order.
	OrderKey string
	Payload  []byte
	Attempt  int // 1 on the first delivery
	// MaxAttempts is Config.MaxAttempts: the attempt equal to it is the last.
	MaxAttempts int
}

// Consumer handles a message. A positive retryAfter or an error asks for
// another attempt.
type Consumer func(ctx context.Context, m Message) (retryAfter time.Duration, err error)

// Config configures a Queue. The zero value is usable.
type Config struct {
	// MaxAttempts bounds deliveries of one message before it becomes a dead
	// letter. Default 40: with the default back-off, or the bridge's own
	// (5 s doubling to 5 minutes), about three hours of retries, longer than
	// a typical Jira or messenger outage.
	MaxAttempts int
	// BaseBackoff is the first retry's delay when the consumer names none; it
	// doubles each attempt up to MaxBackoff, with jitter. Default 1 s.
	BaseBackoff time.Duration
	// MaxBackoff caps the delay between two attempts. Default 5 minutes.
	MaxBackoff time.Duration
	// Workers is how many messages are consumed at once. Default 8.
	Workers int
	// Retention is the expiry of a pending message's record, a safety net
	// for records nothing will consume. Default 7 days.
	Retention time.Duration
	// DeadLetterRetention is how long a dead letter is kept for replay.
	// Default 7 days.
	DeadLetterRetention time.Duration
	// Cluster, when set, shares the store's messages with other host nodes:
	// each lane is consumed by the one node that claims it. Nil: this
	// process is the store's only consumer.
	Cluster *Cluster
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 40
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.DeadLetterRetention <= 0 {
		c.DeadLetterRetention = 7 * 24 * time.Hour
	}
	return c
}

var (
	// ErrClosed is returned by Push after Close.
	ErrClosed = errors.New("queue: closed")
	// ErrNotFound is returned for a dead letter that does not exist.
	ErrNotFound = errors.New("queue: no such dead letter")
)

// DeadLetter describes a message that ran out of attempts. It carries no
// payload and no order key: both may hold customer data.
type DeadLetter struct {
	ID           string    `json:"id"`
	Installation string    `json:"installation"`
	Queue        string    `json:"queue"`
	Attempts     int       `json:"attempts"`
	Pushed       time.Time `json:"pushed"`
	FailedAt     time.Time `json:"failedAt"`
	LastError    string    `json:"lastError"`
}

// Stats are the queue's counters, for metrics.
type Stats struct {
	// Pending counts messages waiting or in flight, retries included.
	Pending int64 `json:"pending"`
	// Delivered, Retried and DeadLettered count since the process started.
	Delivered    int64 `json:"delivered"`
	Retried      int64 `json:"retried"`
	DeadLettered int64 `json:"deadLettered"`
	// DeadLetters counts dead letters kept for replay now.
	DeadLetters int64 `json:"deadLetters"`
}

// Queue is the host's durable queue. Every message is a sealed record in
// its installation's Queue keyspace from the moment Push returns until it
// is consumed or buried; the schedule in memory is rebuilt from the
// records when the queue opens, or, on a cluster, when this node claims a
// lane.
type Queue struct {
	cfg     Config
	store   storage.Store
	consume Consumer
	log     *slog.Logger
	// cluster is nil when this process is the only consumer of store.
	cluster *clustered

	// mu guards everything below it; cond waits on it for runnable lanes.
	mu       sync.Mutex
	cond     *sync.Cond
	started  bool
	closed   bool
	seq      uint64
	lanes    map[string]*lane // by laneKey; on a cluster, the lanes this node claims
	runnable []*lane
	dead     map[string]DeadLetter

	wg sync.WaitGroup
	// pending is the number of items of the lanes in lanes, kept with
	// every change to them under mu: a lane dropped while a worker holds
	// its first message is uncounted whole, whatever that attempt does next.
	pending                          atomic.Int64
	delivered, retried, deadLettered atomic.Int64
}

// lane holds the messages that must be consumed one at a time, in Seq
// order: those of one order key, or the keyless messages of one queue. Its
// first message blocks the rest until it is consumed or buried, through all
// of its retries.
type lane struct {
	key          string // laneKey
	installation string
	id           string // laneOf its records
	// name is the lane's claim on a cluster: Store's fingerprint of it.
	name string
	// fence is the claim's (Fencing), set when the lane is made: the
	// consumer's and the queue's writes for the lane are made under it.
	fence storage.Fence
	items []*record // by Seq
	// queued is set while the lane is on the runnable list or held by a worker.
	queued bool
	// held is set while a worker consumes items[0]; stop cancels that
	// attempt (on a cluster, when this node's claims lapse).
	held  bool
	stop  context.CancelFunc
	timer *time.Timer
}

func laneKey(installation, id string) string { return installation + "\x00" + id }

// has reports whether the lane holds message id.
func (l *lane) has(id string) bool {
	for _, r := range l.items {
		if r.ID == id {
			return true
		}
	}
	return false
}

// Open reads the pending messages and dead letters of installations from
// store. Consumption begins with Start. With Config.Cluster, nothing is read
// here: Start sweeps the store for lanes no node consumes.
func Open(ctx context.Context, store storage.Store, installations []string, cfg Config, consume Consumer, log *slog.Logger) (*Queue, error) {
	q := &Queue{cfg: cfg.withDefaults(), store: store, consume: consume, log: log,
		lanes: map[string]*lane{}, dead: map[string]DeadLetter{}}
	q.cond = sync.NewCond(&q.mu)
	if cfg.Cluster != nil {
		c, err := newClustered(q, *cfg.Cluster)
		if err != nil {
			return nil, err
		}
		q.cluster = c
		return q, nil
	}
	n := 0
	for _, in := range installations {
		c, err := q.load(ctx, in)
		if err != nil {
			return nil, err
		}
		n += c
	}
	if n > 0 || len(q.dead) > 0 {
		log.Info("queue resumed", "pending", n, "dead_letters", len(q.dead))
	}
	return q, nil
}

// load reads one installation's records.
func (q *Queue) load(ctx context.Context, installation string) (int, error) {
	pending, err := q.records(ctx, installation, pendingPrefix)
	if err != nil {
		return 0, fmt.Errorf("queue: resume installation %s: %w", installation, err)
	}
	if err := q.loadDead(ctx, installation); err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, r := range pending {
		if _, buried := q.dead[r.ID]; buried {
			// Buried by a process that died before deleting the pending record.
			_ = q.store.Delete(ctx, installation, storage.Queue, r.key)
			continue
		}
		q.seq = max(q.seq, r.Seq)
		q.insertLocked(q.laneLocked(installation, laneOf(r), ""), r)
		n++
	}
	for _, l := range q.lanes {
		if l.installation == installation {
			if err := q.resumeHead(ctx, l); err != nil {
				return 0, fmt.Errorf("queue: resume installation %s: %w", installation, err)
			}
		}
	}
	return n, nil
}

// loadDead reads an installation's dead letters.
func (q *Queue) loadDead(ctx context.Context, installation string) error {
	dead, err := q.records(ctx, installation, deadPrefix)
	if err != nil {
		return fmt.Errorf("queue: dead letters of installation %s: %w", installation, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range dead {
		q.dead[r.ID] = r.deadLetter()
	}
	return nil
}

// resumeHead counts an attempt for a due lane head that may have been in
// flight when the process that held it died, so that the consumer knows an
// earlier attempt may have had effects it did not record, and a message
// that kills the process every time still ends as a dead letter.
func (q *Queue) resumeHead(ctx context.Context, l *lane) error {
	if len(l.items) == 0 || l.held {
		return nil
	}
	head := l.items[0]
	if head.Due.After(time.Now()) {
		return nil
	}
	head.Attempt++
	head.LastError = "resumed after a restart"
	return q.store.Set(ctx, l.installation, storage.Queue, head.key, head.encode(), q.cfg.Retention)
}

// records reads every record of an installation under prefix. A pending
// record still at its pre-lane key is moved to its lane's.
func (q *Queue) records(ctx context.Context, installation, prefix string) ([]*record, error) {
	var out []*record
	cursor := ""
	for {
		page, err := q.store.Query(ctx, installation, storage.Queue, prefix, cursor, storage.MaxQueryLimit)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Entries {
			r := &record{}
			if err := r.decode(e.Value); err != nil {
				q.log.Error("queue: damaged record skipped", "installation", installation)
				continue
			}
			r.Installation, r.key = installation, e.Key
			if prefix == pendingPrefix && r.key != r.pendingKey() {
				if err := q.move(ctx, r); err != nil {
					return nil, err
				}
			}
			out = append(out, r)
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// move rewrites a pending record found at an older key to its lane's key.
func (q *Queue) move(ctx context.Context, r *record) error {
	old := r.key
	r.key = r.pendingKey()
	if err := q.store.Set(ctx, r.Installation, storage.Queue, r.key, r.encode(), q.cfg.Retention); err != nil {
		return err
	}
	return q.store.Delete(ctx, r.Installation, storage.Queue, old)
}

// Start begins consuming. It is safe to call more than once.
func (q *Queue) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.closed {
		return
	}
	q.started = true
	for range q.cfg.Workers {
		q.wg.Add(1)
		go q.work()
	}
	if q.cluster != nil {
		q.wg.Add(1)
		go q.cluster.run()
	}
}

func newID() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// nextSeqLocked returns a Seq above every one this process has seen. It
// follows the clock, so that on a cluster it also lands above those of
// other nodes' earlier pushes. q.mu must be held.
func (q *Queue) nextSeqLocked(atLeast uint64) uint64 {
	q.seq = max(q.seq+1, uint64(time.Now().UnixNano()), atLeast)
	return q.seq
}

// Push stores payload for the consumer of queue, due after delay. When it
// returns nil the message is durable: it survives a crash of the process.
func (q *Queue) Push(ctx context.Context, installation, queue, orderKey string, payload []byte, delay time.Duration) error {
	now := time.Now()
	r := &record{ID: newID(), Installation: installation, Queue: queue, OrderKey: orderKey,
		Payload: append([]byte(nil), payload...), Attempt: 1, Pushed: now, Due: now.Add(delay)}
	if err := q.enqueue(ctx, r); err != nil {
		return fmt.Errorf("queue: push: %w", err)
	}
	return nil
}

// enqueue gives r the next Seq of its lane, stores it, and hands it to the
// lane's consumer: this process, or on a cluster the node that claims the
// lane.
func (q *Queue) enqueue(ctx context.Context, r *record) error {
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	id := laneOf(r)
	var (
		floor  uint64
		stored []*record
	)
	if q.cluster != nil {
		// Other nodes may have stored messages of this lane that this node
		// has not seen yet: order after every one, so that a push made after
		// another node's push returned is consumed after it.
		var err error
		if stored, err = q.laneRecords(ctx, r.Installation, id); err != nil {
			return err
		}
		for _, s := range stored {
			floor = max(floor, s.Seq+1)
		}
	}
	q.mu.Lock()
	r.Seq = q.nextSeqLocked(floor)
	q.mu.Unlock()
	r.key = r.pendingKey()
	if err := q.store.Set(ctx, r.Installation, storage.Queue, r.key, r.encode(), q.cfg.Retention); err != nil {
		return err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil // stored: consumed when a queue opens again
	}
	if q.cluster == nil {
		q.insertLocked(q.laneLocked(r.Installation, id, ""), r)
		q.mu.Unlock()
		return nil
	}
	if l := q.lanes[laneKey(r.Installation, id)]; l != nil {
		// This node consumes the lane: what the read found comes first,
		// unless this node consumed it meanwhile (goneSet remembers).
		for _, s := range stored {
			if _, buried := q.dead[s.ID]; !buried {
				q.insertLocked(l, s)
			}
		}
		q.insertLocked(l, r)
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	q.cluster.offer(ctx, r.Installation, id)
	return nil
}

// laneRecords reads the pending records of one lane, oldest first.
func (q *Queue) laneRecords(ctx context.Context, installation, id string) ([]*record, error) {
	recs, err := q.records(ctx, installation, lanePrefix(id))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(a.Seq, b.Seq) })
	return recs, nil
}

// laneLocked returns the lane, making it when it is new. q.mu must be held.
func (q *Queue) laneLocked(installation, id, name string) *lane {
	key := laneKey(installation, id)
	l := q.lanes[key]
	if l == nil {
		l = &lane{key: key, installation: installation, id: id, name: name}
		q.lanes[key] = l
	}
	return l
}

// insertLocked puts r into l in Seq order, never ahead of a message a
// worker holds, unless l already has it. q.mu must be held.
func (q *Queue) insertLocked(l *lane, r *record) {
	if l.has(r.ID) || (q.cluster != nil && q.cluster.gone.has(r.ID)) {
		return
	}
	i := len(l.items)
	for i > 0 && l.items[i-1].Seq > r.Seq && !(i == 1 && l.held) {
		i--
	}
	l.items = slices.Insert(l.items, i, r)
	q.pending.Add(1)
	q.wakeLocked(l)
}

// wakeLocked makes an idle lane runnable when its first message is due, or
// sets a timer for when it will be. An empty lane is dropped; on a cluster
// its claim is given up after Cluster.Linger. q.mu must be held.
func (q *Queue) wakeLocked(l *lane) {
	if l.queued || q.closed || q.lanes[l.key] != l {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.items) == 0 {
		if q.cluster == nil {
			delete(q.lanes, l.key)
			return
		}
		l.timer = time.AfterFunc(q.cluster.cfg.Linger, func() { q.cluster.release(l) })
		return
	}
	wait := time.Until(l.items[0].Due)
	if wait <= 0 {
		l.queued = true
		q.runnable = append(q.runnable, l)
		q.cond.Signal()
		return
	}
	l.timer = time.AfterFunc(wait, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.wakeLocked(l)
	})
}

func (q *Queue) work() {
	defer q.wg.Done()
	for {
		l, r, ok := q.next()
		if !ok {
			return
		}
		q.handle(l, r)
		q.mu.Lock()
		l.held, l.queued = false, false
		q.wakeLocked(l)
		q.mu.Unlock()
	}
}

// next waits for a runnable lane and holds its first message; false once closed.
func (q *Queue) next() (*lane, *record, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for len(q.runnable) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			return nil, nil, false
		}
		l := q.runnable[0]
		q.runnable = q.runnable[1:]
		if q.lanes[l.key] != l || len(l.items) == 0 || time.Until(l.items[0].Due) > 0 {
			// Forgotten, or an earlier message with a delay went ahead.
			l.queued = false
			q.wakeLocked(l)
			continue
		}
		l.held = true
		return l, l.items[0], true
	}
}

// handle consumes the first message of l, then deletes it, schedules its
// retry, or buries it after its last attempt.
//
// On a cluster the attempt and the queue's writes after it are made under
// the lane's fence: once this node's claim is lost they fail with
// storage.ErrFenced, and the lane is left to its new consumer. When this
// node learns that its claims lapsed, the attempt is cancelled too.
func (q *Queue) handle(l *lane, r *record) {
	ctx := storage.WithFence(context.Background(), l.fence)
	m := Message{ID: r.ID, Installation: r.Installation, Queue: r.Queue, OrderKey: r.OrderKey, Payload: r.Payload, Attempt: r.Attempt, MaxAttempts: q.cfg.MaxAttempts}
	attempt := ctx
	if q.cluster != nil {
		var stop context.CancelFunc
		attempt, stop = context.WithCancel(ctx)
		q.mu.Lock()
		l.stop = stop
		q.mu.Unlock()
		defer func() {
			q.mu.Lock()
			l.stop = nil
			q.mu.Unlock()
			stop()
		}()
	}
	retry, err := q.consume(attempt, m)
	q.log.Debug("queue: attempt", "lane", l.name, "message", r.ID, "seq", r.Seq, "attempt", r.Attempt, "retry", retry, "failed", err != nil)
	if err == nil && retry <= 0 {
		if err := q.deleteConsumed(ctx, r); err != nil {
			if q.fencedOut(l, r, err) {
				return
			}
			// Delivered again after a restart; the consumer is idempotent.
			q.log.Warn("queue: consumed message not deleted", "installation", r.Installation, "err", err)
		}
		q.delivered.Add(1)
		q.drop(l, r)
		return
	}
	if q.forgotten(l) {
		// Uninstalled meanwhile: its records are gone, keep it that way.
		// Or, on a cluster, this node's claims lapsed: the record stays for
		// the lane's next consumer, which may be this node again, so the
		// message is not remembered as gone.
		q.release(l, r)
		return
	}
	why := "retry requested"
	if err != nil {
		why = truncate(err.Error(), 200)
	}
	if r.Attempt >= q.cfg.MaxAttempts {
		q.bury(ctx, l, r, why)
		return
	}
	if retry <= 0 {
		retry = q.backoff(r.Attempt)
	}
	next := *r
	next.Attempt++
	next.Due = time.Now().Add(retry)
	next.LastError = why
	if err := q.store.Set(ctx, r.Installation, storage.Queue, r.key, next.encode(), q.cfg.Retention); err != nil {
		if q.fencedOut(l, r, err) {
			return
		}
		// The stored record keeps the older attempt: a restart retries sooner.
		q.log.Warn("queue: retry not recorded", "installation", r.Installation, "err", err)
	}
	q.retried.Add(1)
	q.mu.Lock()
	if len(l.items) > 0 && l.items[0] == r {
		l.items[0] = &next
	}
	q.mu.Unlock()
}

// deleteConsumed deletes a consumed message's record, trying a few times
// over a few seconds: a record left behind is delivered again. A fenced
// delete is not tried again: it cannot succeed.
func (q *Queue) deleteConsumed(ctx context.Context, r *record) error {
	var err error
	for wait := 100 * time.Millisecond; wait < 5*time.Second; wait *= 2 {
		if err = q.store.Delete(ctx, r.Installation, storage.Queue, r.key); err == nil || errors.Is(err, storage.ErrFenced) {
			return err
		}
		time.Sleep(wait)
	}
	return err
}

// fencedOut reports whether err is a write for l that failed because this
// node's claim of l is lost (storage.ErrFenced); if so it forgets the lane
// and its held message r, whose record stays for the lane's new consumer,
// and asks for a sweep, which claims the lane again if no node did.
func (q *Queue) fencedOut(l *lane, r *record, err error) bool {
	if !errors.Is(err, storage.ErrFenced) {
		return false
	}
	q.log.Warn("queue: this node's claim of a lane is lost; its message is left to the lane's next consumer", "installation", r.Installation, "lane", l.name)
	q.mu.Lock()
	if q.lanes[l.key] == l {
		q.dropLanesLocked(func(x *lane) bool { return x == l })
		if q.cluster != nil {
			delete(q.cluster.byName, l.name)
		}
	}
	q.mu.Unlock()
	q.release(l, r)
	if q.cluster != nil {
		q.cluster.requestSweep()
	}
	return true
}

func (q *Queue) forgotten(l *lane) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lanes[l.key] != l
}

// backoff is BaseBackoff doubling per attempt up to MaxBackoff, the upper
// half of it jittered so that retries of many messages spread out.
func (q *Queue) backoff(attempt int) time.Duration {
	d := q.cfg.MaxBackoff
	if attempt < 32 {
		d = min(q.cfg.BaseBackoff<<(attempt-1), q.cfg.MaxBackoff)
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// bury turns r into a dead letter: kept, sealed, for replay.
func (q *Queue) bury(ctx context.Context, l *lane, r *record, why string) {
	d := *r
	d.FailedAt, d.LastError = time.Now(), why
	if err := q.store.Set(ctx, r.Installation, storage.Queue, deadKey(r.ID), d.encode(), q.cfg.DeadLetterRetention); err != nil {
		if q.fencedOut(l, r, err) {
			return
		}
		q.log.Error("queue: dead letter not recorded; the message stays pending", "installation", r.Installation, "err", err)
		return
	}
	if err := q.store.Delete(ctx, r.Installation, storage.Queue, r.key); err != nil {
		if q.fencedOut(l, r, err) {
			// Buried, and pending for the lane's next consumer: the
			// burial's record is not read back as pending, and a replay
			// finds the message gone or delivers it again (at least once).
			return
		}
		q.log.Warn("queue: buried message's pending record not deleted", "installation", r.Installation, "err", err)
	}
	q.log.Warn("queue: message dead-lettered after its last attempt", "installation", r.Installation, "queue", r.Queue, "message", r.ID, "attempts", r.Attempt)
	q.deadLettered.Add(1)
	q.mu.Lock()
	q.dead[r.ID] = d.deadLetter()
	q.mu.Unlock()
	q.drop(l, r)
}

// drop removes a held message from its lane once it is no longer pending.
func (q *Queue) drop(l *lane, r *record) {
	q.release(l, r)
	if q.cluster != nil {
		q.mu.Lock()
		q.cluster.gone.add(r.ID)
		q.mu.Unlock()
	}
}

// release removes a held message from its lane without remembering it as
// gone: its record may still be pending, for another consumer. A lane
// forgotten meanwhile was uncounted whole when it was dropped.
func (q *Queue) release(l *lane, r *record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(l.items) > 0 && l.items[0].ID == r.ID {
		l.items = l.items[1:]
		if q.lanes[l.key] == l {
			q.pending.Add(-1)
		}
	}
}

func (r *record) deadLetter() DeadLetter {
	return DeadLetter{ID: r.ID, Installation: r.Installation, Queue: r.Queue, Attempts: r.Attempt,
		Pushed: r.Pushed, FailedAt: r.FailedAt, LastError: r.LastError}
}

// DeadLetters lists the dead letters, oldest failure first.
func (q *Queue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	list := make([]DeadLetter, 0, len(q.dead))
	for _, d := range q.dead {
		list = append(list, d)
	}
	q.mu.Unlock()
	slices.SortFunc(list, func(a, b DeadLetter) int {
		return cmp.Or(a.FailedAt.Compare(b.FailedAt), cmp.Compare(a.ID, b.ID))
	})
	return list
}

// Replay queues a dead letter again, with a fresh set of attempts, behind
// whatever its lane holds now. On a cluster, a dead letter another node
// buried is found in the store.
func (q *Queue) Replay(ctx context.Context, id string) error {
	if err := q.learnDead(ctx, id); err != nil {
		return fmt.Errorf("queue: replay: %w", err)
	}
	q.mu.Lock()
	d, ok := q.dead[id]
	if ok {
		// Claimed, so that two replays of one letter cannot both succeed.
		delete(q.dead, id)
	}
	q.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	restore := func(err error) error {
		q.mu.Lock()
		q.dead[id] = d
		q.mu.Unlock()
		return fmt.Errorf("queue: replay: %w", err)
	}
	v, err := q.store.Get(ctx, d.Installation, storage.Queue, deadKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound // replayed or discarded by another node
	}
	if err != nil {
		return restore(err)
	}
	r := &record{}
	if err := r.decode(v); err != nil {
		return restore(err)
	}
	r.Installation, r.Attempt, r.Due, r.FailedAt, r.LastError = d.Installation, 1, time.Now(), time.Time{}, ""
	if err := q.enqueue(ctx, r); err != nil {
		return restore(err)
	}
	if err := q.store.Delete(ctx, d.Installation, storage.Queue, deadKey(id)); err != nil {
		q.log.Warn("queue: replayed dead letter not deleted", "installation", d.Installation, "err", err)
	}
	q.log.Info("queue: dead letter replayed", "installation", d.Installation, "queue", d.Queue, "message", id)
	return nil
}

// Discard deletes a dead letter for good, on a cluster also one another
// node buried.
func (q *Queue) Discard(ctx context.Context, id string) error {
	if err := q.learnDead(ctx, id); err != nil {
		return fmt.Errorf("queue: discard: %w", err)
	}
	q.mu.Lock()
	d, ok := q.dead[id]
	q.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	if err := q.store.Delete(ctx, d.Installation, storage.Queue, deadKey(id)); err != nil {
		return fmt.Errorf("queue: discard: %w", err)
	}
	q.mu.Lock()
	delete(q.dead, id)
	q.mu.Unlock()
	return nil
}

// Forget drops everything in memory of an installation whose records were
// purged (uninstalled). A message a worker holds finishes its attempt.
func (q *Queue) Forget(installation string) {
	q.mu.Lock()
	dropped := q.dropLanesLocked(func(l *lane) bool { return l.installation == installation })
	for id, d := range q.dead {
		if d.Installation == installation {
			delete(q.dead, id)
		}
	}
	q.mu.Unlock()
	if q.cluster != nil {
		q.cluster.releaseAll(dropped)
	}
}

// dropLanesLocked forgets the lanes that match, and returns them. A message
// a worker holds finishes its attempt. q.mu must be held.
func (q *Queue) dropLanesLocked(match func(*lane) bool) []*lane {
	var dropped []*lane
	for key, l := range q.lanes {
		if !match(l) {
			continue
		}
		if l.timer != nil {
			l.timer.Stop()
		}
		q.pending.Add(-int64(len(l.items)))
		delete(q.lanes, key)
		dropped = append(dropped, l)
	}
	return dropped
}

// Stats reports the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	dead := int64(len(q.dead))
	q.mu.Unlock()
	return Stats{Pending: q.pending.Load(), Delivered: q.delivered.Load(), Retried: q.retried.Load(),
		DeadLettered: q.deadLettered.Load(), DeadLetters: dead}
}

// Pending reports messages not yet consumed, including those waiting to retry.
func (q *Queue) Pending() int64 { return q.pending.Load() }

// Close stops consuming and waits for the messages in flight. Pending
// messages stay stored and resume when the queue is opened again.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	for _, l := range q.lanes {
		if l.timer != nil {
			l.timer.Stop()
		}
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	if q.cluster != nil {
		q.cluster.stop()
	}
	q.wg.Wait()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
