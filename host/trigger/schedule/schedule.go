package schedule

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// Runtime is what the schedule fires into; ForHost makes one of a host.
type Runtime interface {
	// Triggers returns the running bundle's scheduled triggers: none while
	// no bundle is loaded.
	Triggers() []bundle.ScheduledTrigger
	// Installations returns the ids of the installations this node knows.
	Installations() []string
	// Scheduled invokes a scheduled trigger for an installation.
	Scheduled(ctx context.Context, installation, trigger string) error
}

// Claimer is the part of a cluster's claims the schedule uses
// (host/cluster.Node): a claim is held by one node at a time.
type Claimer interface {
	Claim(ctx context.Context, name string) (bool, error)
	Release(ctx context.Context, name string) error
}

// Config configures a Scheduler. Runtime and Store are required.
type Config struct {
	Runtime Runtime
	// Store keeps the record of each trigger's last firing.
	Store storage.Store
	// Claims, when set, makes the nodes that share Store fire each
	// interval once in total: a node fires a trigger only under its claim.
	// Store must then be a storage.Fingerprinter. Nil: one node.
	Claims Claimer
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Workers is how many firings run at once. Default 4.
	Workers int
	// Rescan is how often the installations and the bundle's triggers are
	// read again, so that a new installation or a reloaded bundle fires
	// within it. Default 5 s.
	Rescan time.Duration
	// Intervals replaces the length of manifest intervals by name, such as
	// {"hour": time.Second}. For tests and development only: it makes a
	// host fire more often than the manifest says. Default: none, every
	// interval is Forge's (bundle.IntervalPeriod).
	Intervals map[string]time.Duration
	// Observe, when set, is told of every firing once it is recorded; for
	// tests and metrics. Firings call it from several goroutines; it must
	// not block. Default: none.
	Observe func(Firing)
}

// Firing is one firing of a scheduled trigger.
type Firing struct {
	Installation string
	Trigger      string
	// Slot is the start of the interval the firing is for: the previous
	// firing's slot plus the interval, or the time it fired when it is the
	// first or follows downtime.
	Slot time.Time
	// Err is the invocation's error. A failed firing is not retried.
	Err error
}

// Stats counts what a Scheduler did since Start.
type Stats struct {
	// Fired counts invocations made and recorded.
	Fired uint64
	// NotDue counts records read and found not due: the interval fired
	// already, on this node or another, before this run or in it.
	NotDue uint64
	// Busy counts triggers found claimed by another node.
	Busy uint64
	// Deferred counts firings put off to try again shortly: the store or
	// the claims unavailable, the installation or the bundle gone.
	Deferred uint64
}

// record is what the store keeps of a trigger's last firing.
type record struct {
	Slot   int64 `json:"s"` // Unix nanoseconds of the interval fired
	Period int64 `json:"p"` // the interval's length in nanoseconds
}

// Scheduler fires the scheduled triggers of one node. Stop it with Stop.
type Scheduler struct {
	cfg Config
	log *slog.Logger
	fp  storage.Fingerprinter

	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when run returns
	results  chan result   // capacity Workers: a firing never blocks on it
	stopOnce sync.Once
	firings  sync.WaitGroup
	// fireCtx is every firing's context; cancelled when Stop gives up waiting.
	fireCtx context.Context
	cancel  context.CancelFunc

	fired, notDue, busy, deferred atomic.Uint64
}

// Start validates cfg and starts firing.
func Start(cfg Config) (*Scheduler, error) {
	if cfg.Runtime == nil || cfg.Store == nil {
		return nil, errors.New("schedule: Config.Runtime and Config.Store are required")
	}
	fp, ok := cfg.Store.(storage.Fingerprinter)
	if cfg.Claims != nil && !ok {
		return nil, errors.New("schedule: Config.Claims needs a Store that is a storage.Fingerprinter")
	}
	for name, d := range cfg.Intervals {
		if _, ok := bundle.IntervalPeriod(name); !ok || d <= 0 {
			return nil, fmt.Errorf("schedule: Config.Intervals[%q] = %v: want a manifest interval and a positive length", name, d)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = 5 * time.Second
	}
	s := &Scheduler{cfg: cfg, log: cfg.Logger, fp: fp, stop: make(chan struct{}), done: make(chan struct{}),
		results: make(chan result, cfg.Workers)}
	s.fireCtx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Stop stops firing and waits for the firings under way to finish. When
// ctx ends first, it cancels them, waits for them to return, and returns
// ctx's error; a firing cut short is not recorded and fires again.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	idle := make(chan struct{})
	go func() {
		s.firings.Wait()
		close(idle)
	}()
	defer s.cancel()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-idle
		return ctx.Err()
	}
}

// Stats returns what the scheduler did so far.
func (s *Scheduler) Stats() Stats {
	return Stats{Fired: s.fired.Load(), NotDue: s.notDue.Load(), Busy: s.busy.Load(), Deferred: s.deferred.Load()}
}

// slotKey names one installation's trigger.
type slotKey struct{ installation, trigger string }

// item is one installation's trigger as the run loop keeps it; only the
// run loop touches it.
type item struct {
	key    slotKey
	period time.Duration
	next   time.Time // when to look at it again; zero: at once
	index  int       // in the due heap; -1 while it fires
	gone   bool      // dropped by a scan while it fired
}

// result is what a firing tells the run loop.
type result struct {
	it     *item
	period time.Duration // the period it fired with
	next   time.Time
}

// dueHeap orders the items that are not firing by when they fall due.
type dueHeap []*item

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

// run hands due triggers to firings, at most Workers at once, and scans
// for installations and triggers every Rescan, until Stop.
func (s *Scheduler) run() {
	defer close(s.done)
	items := map[slotKey]*item{}
	due := &dueHeap{}
	inflight := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	var scanned time.Time
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.results:
			inflight--
			it := r.it
			if it.gone {
				break
			}
			it.next = r.next
			if it.period != r.period {
				it.next = time.Time{} // the interval changed while it fired
			}
			heap.Push(due, it)
		case <-timer.C:
		}
		now := time.Now()
		if now.Sub(scanned) >= s.cfg.Rescan {
			s.scan(items, due)
			scanned = now
		}
		for due.Len() > 0 && inflight < s.cfg.Workers && !(*due)[0].next.After(now) {
			it := heap.Pop(due).(*item)
			inflight++
			s.firings.Add(1)
			go func(k slotKey, period time.Duration) {
				defer s.firings.Done()
				s.results <- result{it: it, period: period, next: s.fire(k, period)}
			}(it.key, it.period)
		}
		wake := scanned.Add(s.cfg.Rescan)
		if due.Len() > 0 && inflight < s.cfg.Workers && (*due)[0].next.Before(wake) {
			wake = (*due)[0].next
		}
		timer.Reset(time.Until(wake))
	}
}

// scan brings items in line with the runtime's installations and triggers.
func (s *Scheduler) scan(items map[slotKey]*item, due *dueHeap) {
	want := map[slotKey]time.Duration{}
	if triggers := s.cfg.Runtime.Triggers(); len(triggers) > 0 {
		ids := s.cfg.Runtime.Installations()
		for _, t := range triggers {
			period := t.Period()
			if d, ok := s.cfg.Intervals[t.Interval]; ok {
				period = d
			}
			if period <= 0 {
				continue // not from a validated manifest
			}
			for _, id := range ids {
				want[slotKey{id, t.Key}] = period
			}
		}
	}
	for k, it := range items {
		period, ok := want[k]
		switch {
		case !ok:
			if it.index >= 0 {
				heap.Remove(due, it.index)
			}
			it.gone = true
			delete(items, k)
		case period != it.period:
			it.period, it.next = period, time.Time{}
			if it.index >= 0 {
				heap.Fix(due, it.index)
			}
		}
	}
	for k, period := range want {
		if items[k] == nil {
			it := &item{key: k, period: period}
			items[k] = it
			heap.Push(due, it)
		}
	}
}

// fire looks at one installation's trigger that fell due: under its claim
// on a cluster, it reads the record, invokes the trigger if its interval
// has not fired, and records the firing. It returns when to look again.
func (s *Scheduler) fire(k slotKey, period time.Duration) time.Time {
	ctx := s.fireCtx
	now := time.Now()
	soon := now.Add(min(period/2, 10*time.Second))
	key := storage.SchedulePrefix + k.trigger
	log := s.log.With("installation", k.installation, "trigger", k.trigger)
	if s.cfg.Claims != nil {
		name, err := s.fp.Fingerprint(ctx, k.installation, storage.Dedupe, key)
		ok := false
		if err == nil {
			ok, err = s.cfg.Claims.Claim(ctx, name)
		}
		if err != nil {
			log.Warn("schedule: trigger not claimed; trying again shortly", "err", err)
			s.deferred.Add(1)
			return soon
		}
		if !ok {
			s.busy.Add(1) // another node is firing it
			return soon
		}
		defer func() {
			if err := s.cfg.Claims.Release(context.WithoutCancel(ctx), name); err != nil {
				log.Warn("schedule: claim not released; it lapses with this node's session", "err", err)
			}
		}()
	}
	last, err := s.read(ctx, k.installation, key, period)
	if err != nil {
		log.Warn("schedule: last firing not read; trying again shortly", "err", err)
		s.deferred.Add(1)
		return soon
	}
	slot := now
	if !last.IsZero() {
		next := last.Add(period)
		if now.Before(next) {
			s.notDue.Add(1)
			return next
		}
		if now.Before(next.Add(period)) {
			slot = next // on time: keep the phase
		} // else missed intervals: fire once, and start again from now
	}
	err = s.cfg.Runtime.Scheduled(ctx, k.installation, k.trigger)
	switch {
	case ctx.Err() != nil:
		return soon // Stop cut it short: not recorded, it fires again
	case errors.Is(err, host.ErrNoBundle), errors.Is(err, host.ErrNoTrigger), errors.Is(err, tenant.ErrNotFound):
		log.Debug("schedule: nothing to fire into; trying again shortly", "err", err)
		s.deferred.Add(1)
		return soon
	case err != nil:
		log.Info("schedule: scheduled trigger failed; not retried until its next interval", "err", err)
	}
	if werr := s.write(ctx, k.installation, key, slot, period); werr != nil {
		log.Warn("schedule: firing not recorded; its interval may fire again", "err", werr)
	}
	s.fired.Add(1)
	if s.cfg.Observe != nil {
		s.cfg.Observe(Firing{Installation: k.installation, Trigger: k.trigger, Slot: slot, Err: err})
	}
	return slot.Add(period)
}

// read returns the slot of the trigger's last firing, or zero when it has
// none at this period.
func (s *Scheduler) read(ctx context.Context, installation, key string, period time.Duration) (time.Time, error) {
	raw, err := s.cfg.Store.Get(ctx, installation, storage.Dedupe, key)
	if errors.Is(err, storage.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil || r.Period != int64(period) {
		return time.Time{}, nil // another interval: it starts again, as on Forge
	}
	return time.Unix(0, r.Slot), nil
}

// write records a firing, trying a failover's unavailability out: a
// firing that is not recorded may fire again.
func (s *Scheduler) write(ctx context.Context, installation, key string, slot time.Time, period time.Duration) error {
	v, err := json.Marshal(record{Slot: slot.UnixNano(), Period: int64(period)})
	if err != nil {
		return err
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = s.cfg.Store.Set(ctx, installation, storage.Dedupe, key, v, 2*period+time.Minute)
		if err == nil || !errors.Is(err, storage.ErrUnavailable) || attempt == 5 {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}
