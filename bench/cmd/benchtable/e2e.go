package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bench/stack"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// e2e is what rows 1 and 2 measure of one stack.
type e2e struct {
	accepted  stack.Result  // closed loop: webhook answers
	drain     time.Duration // after the closed loop, until the queue was empty
	sustained float64       // updates through to Jira per second
	fixed     stack.Result  // open loop at the fixed rate
	requests  int           // Jira requests opened, a check that work reached Jira
	comments  int
	etcdCPU   time.Duration // rows 10 and 12: the etcd members' CPU time over the closed loop and drain
}

// chatsPerRun spreads updates over this many chats: the first update of each
// opens a request, the others become comments, and the queue consumes the
// chats in parallel (one chat's messages in order).
const chatsPerRun = 400

// measureE2E starts a stack in mode and loads it: a short warm-up, the
// closed loop (then the queue drained), the open loop at o.rate.
func measureE2E(ctx context.Context, a *artifacts, mode stack.Mode, o options) (m e2e, err error) {
	// The stack's goroutines inherit the label, so a CPU profile
	// (-cpuprofile) splits by stack: go tool pprof -tagfocus stack=wasm.
	pprof.Do(ctx, pprof.Labels("stack", mode.String()), func(ctx context.Context) {
		m, err = measureStack(ctx, a, mode, o)
	})
	return m, err
}

func measureStack(ctx context.Context, a *artifacts, mode stack.Mode, o options) (e2e, error) {
	var m e2e
	dir := filepath.Join(a.work, "e2e-"+mode.String())
	if err := os.RemoveAll(dir); err != nil {
		return m, err
	}
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Mode: mode,
		Module: a.moduleBytes, Manifest: a.mBts, Engine: engine.Config{CacheDir: a.cache, MaxPerKey: o.perKey}})
	if err != nil {
		return m, err
	}
	defer s.Close()
	u := stack.NewUpdates(s, chatsPerRun)
	drain := func() (time.Duration, error) {
		t := time.Now()
		dctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		err := s.Drain(dctx)
		return time.Since(t), err
	}
	if _, err := stack.Closed(ctx, s.Client, u.Request, 8, time.Second); err != nil {
		return m, fmt.Errorf("warm-up: %w", err)
	}
	if _, err := drain(); err != nil {
		return m, err
	}
	if m.accepted, err = stack.Closed(ctx, s.Client, u.Request, o.conns, o.phase); err != nil {
		return m, err
	}
	if m.drain, err = drain(); err != nil {
		return m, err
	}
	m.sustained = float64(m.accepted.OK) / (m.accepted.Elapsed + m.drain).Seconds()
	if m.fixed, err = stack.Open(ctx, s.Client, u.Request, o.rate, o.phase, 4096); err != nil {
		return m, err
	}
	if _, err := drain(); err != nil {
		return m, err
	}
	m.requests, m.comments, err = s.JiraTotals()
	engineCounters(mode, s, m.requests+m.comments)
	if err == nil && m.requests == 0 {
		err = errors.New("no request reached the Jira simulator")
	}
	return m, err
}

// endToEnd is rows 1 and 2, each figure the better of two rounds.
func endToEnd(ctx context.Context, a *artifacts, o options) ([]row, error) {
	// Two rounds, alternating wasm and native, keep each mode's better
	// round: the machine is often shared, and a neighbour's burst should
	// not decide the ratio.
	var w, n e2e
	for range 2 {
		wr, err := measureE2E(ctx, a, stack.Wasm, o)
		if err != nil {
			return nil, fmt.Errorf("wasm: %w", err)
		}
		nr, err := measureE2E(ctx, a, stack.InProcess, o)
		if err != nil {
			return nil, fmt.Errorf("native: %w", err)
		}
		if wr.sustained > w.sustained {
			w = wr
		}
		if nr.sustained > n.sustained {
			n = nr
		}
	}
	fig := func(m e2e) string {
		return fmt.Sprintf("%.0f upd/s to Jira (webhook %.0f/s, p50 %s, p99 %s)", m.sustained, m.accepted.Rate(), ms(m.accepted.Quantile(0.5)), ms(m.accepted.Quantile(0.99)))
	}
	fixed := func(m e2e) string {
		return fmt.Sprintf("p50 %s, p99 %s", ms(m.fixed.Quantile(0.5)), ms(m.fixed.Quantile(0.99)))
	}
	slow := n.sustained / w.sustained
	return []row{
		{id: "1", what: fmt.Sprintf("Telegram update e2e, max sustained (%d conns, %v, best of 2)", o.conns, o.phase), figure: fig(w), peer: "-", ratio: "-", goal: "-"},
		{id: "1", what: fmt.Sprintf("Telegram update e2e at %d/s", o.rate), figure: fixed(w), peer: "-", ratio: "-", goal: "-"},
		{id: "2", what: "same, plugin built natively: sustained", figure: fmt.Sprintf("%.0f upd/s", w.sustained), peer: fmt.Sprintf("native %.0f upd/s", n.sustained),
			ratio: fmt.Sprintf("wasm %.2fx slower", slow), goal: "<= 3x", verdict: verdict(slow <= 3)},
		{id: "2", what: fmt.Sprintf("same, native: webhook p50 at %d/s", o.rate), figure: ms(w.fixed.Quantile(0.5)), peer: "native " + ms(n.fixed.Quantile(0.5)),
			ratio: fmt.Sprintf("%.2fx", float64(w.fixed.Quantile(0.5))/float64(n.fixed.Quantile(0.5))), goal: "<= 3x", verdict: verdict(w.fixed.Quantile(0.5) <= 3*n.fixed.Quantile(0.5))},
	}, nil
}

// deadlineRow is row 3: one invocation of the bridge's Telegram webhook
// (a duplicate update: authenticated, parsed, deduplicated against sealed
// storage, answered 200 without queueing) with fuel checks and without.
func deadlineRow(ctx context.Context, a *artifacts, o options) ([]row, error) {
	measure := func(d engine.Deadline) (testing.BenchmarkResult, error) {
		dir := filepath.Join(a.work, "deadline-"+d.String())
		if err := os.RemoveAll(dir); err != nil {
			return testing.BenchmarkResult{}, err
		}
		s, err := stack.Start(ctx, stack.Config{Dir: dir, Mode: stack.Wasm,
			Module: a.moduleBytes, Manifest: a.mBts, Engine: engine.Config{CacheDir: a.cache, Deadline: d, MaxPerKey: o.perKey}})
		if err != nil {
			return testing.BenchmarkResult{}, err
		}
		defer s.Close()
		in := s.Installs[0]
		req, err := stack.NewUpdates(s, 1).Request(ctx)
		if err != nil {
			return testing.BenchmarkResult{}, err
		}
		body, err := readBody(req)
		if err != nil {
			return testing.BenchmarkResult{}, err
		}
		call := func() error {
			resp, err := webtrigger.Invoke(ctx, s.Host(), in.ID, "telegram-webhook", &abi.WebTriggerRequest{
				Method: "POST", Path: "/", Query: []abi.Header{{Name: "project", Value: stack.Project}},
				Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Telegram-Bot-Api-Secret-Token", Value: in.SecretToken}},
				Body:    body,
			})
			if err == nil && resp.Status != 200 {
				err = fmt.Errorf("webhook answered %d", resp.Status)
			}
			return err
		}
		if err := call(); err != nil { // the first delivery: queued; every later one is a duplicate
			return testing.BenchmarkResult{}, err
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s.Drain(dctx); err != nil {
			return testing.BenchmarkResult{}, err
		}
		return bench(o.benchtime, func(int) error { return call() })
	}
	on, err := measure(engine.Fuel)
	if err != nil {
		return nil, err
	}
	off, err := measure(engine.Unchecked)
	if err != nil {
		return nil, err
	}
	r := float64(on.NsPerOp()) / float64(off.NsPerOp())
	return []row{{id: "3", what: "one webhook invocation, deadline enforced (fuel) vs off",
		figure: us(float64(on.NsPerOp())), peer: "off " + us(float64(off.NsPerOp())),
		ratio: fmt.Sprintf("%.2fx", r), goal: "<= 1.1x", verdict: verdict(r <= 1.1)}}, nil
}

// engineCounters writes to stderr the messages that reached Jira in one
// stack's run and, in wasm mode, the engine's counters: with a CPU profile
// (-cpuprofile) they turn the guest's and the host's time into a cost per
// message, and say whether instances were created during the run (each
// runs the guest's initialisation) or served from the pool.
func engineCounters(mode stack.Mode, s *stack.Stack, messages int) {
	line := fmt.Sprintf("benchtable: %s stack: %d messages to Jira", mode, messages)
	if h := s.Host(); h != nil && h.Engine() != nil {
		st := h.Engine().Stats()
		line += fmt.Sprintf("; engine: %d invocations, %d instantiations, %d resets, %d recycled, %d traps, %d timeouts",
			st.Calls.Load(), st.Instantiations.Load(), st.Resets.Load(), st.Recycled.Load(), st.Traps.Load(), st.Timeouts.Load())
	}
	fmt.Fprintln(os.Stderr, "\n"+line)
}
