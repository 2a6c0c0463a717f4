package bunt

import (
	"sync"
	"sync/atomic"
)

// syncer is group commit: a writer whose BuntDB transaction has reached the
// file waits for an fsync that started after that; one waiter runs it for
// everyone waiting, so concurrent writers share one fsync.
type syncer struct {
	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond // signalled when an fsync finishes
	started uint64     // fsyncs started
	done    uint64     // highest fsync finished
	running bool
	err     error // first fsync error; sticky
}

func newSyncer() *syncer {
	s := &syncer{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// wait returns once an fsync that started after the call has finished, running
// it with do when no other caller is. Everything written to the file before
// the call is then durable, unless an error is returned.
func (s *syncer) wait(do func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.started + 1
	for s.done < target && s.err == nil {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		gen := s.started
		s.mu.Unlock()
		err := do()
		s.mu.Lock()
		s.running = false
		s.done = gen
		if err != nil && s.err == nil {
			s.err = err
		}
		s.cond.Broadcast()
	}
	return s.err
}

// pendingSet holds the keys of writes that are in BuntDB (and visible to
// readers) but not yet durable. A reader that sees one waits for the next
// fsync, so nothing it returns can be undone by a crash.
type pendingSet struct {
	n    atomic.Int64 // len of keys, counted with repeats: the lock-free fast path
	mu   sync.Mutex   // guards keys
	keys map[string]int
}

func (p *pendingSet) add(keys []string) {
	p.mu.Lock()
	if p.keys == nil {
		p.keys = map[string]int{}
	}
	for _, k := range keys {
		p.keys[k]++
	}
	p.n.Add(int64(len(keys)))
	p.mu.Unlock()
}

func (p *pendingSet) remove(keys []string) {
	p.mu.Lock()
	for _, k := range keys {
		if p.keys[k] <= 1 {
			delete(p.keys, k)
		} else {
			p.keys[k]--
		}
	}
	p.n.Add(-int64(len(keys)))
	p.mu.Unlock()
}

func (p *pendingSet) has(key string) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[key] > 0
}

// hasRange reports a pending key k with from <= k and k < to (to == "": no
// bound), or k <= to when inclusive.
func (p *pendingSet) hasRange(from, to string, inclusive bool) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		if k < from {
			continue
		}
		if to == "" || k < to || (inclusive && k == to) {
			return true
		}
	}
	return false
}
