package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// etcdRows is row 9 (issue #11): the etcd backend on a three-member cluster
// that this program starts on loopback from the etcd binary on PATH
// (Debian's etcd-server; `make bench` installs it) and stops at the end,
// beside the BuntDB backend in the production configuration (bunt.Config{}:
// every write fsynced, group commit). First the raw backends in
// storagetest.Bench's shapes (1 KB values: Get of 1 of 1,000, Set from 16
// writers, Scan of 100 of 1,000), then a Get through the sealed store on
// each. Every figure is a closed loop of o.etcdTime; etcd and BuntDB are
// measured in turn, operation by operation, so that both see the same
// machine load.
func etcdRows(ctx context.Context, a *artifacts, o options) (_ []row, err error) {
	cluster, err := etcdlocal.Start(ctx, 3, etcdlocal.Options{Dir: a.work})
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := cluster.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	dir, err := os.MkdirTemp(a.work, "etcdrow-bunt")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	backends := [2]storage.Backend{} // etcd, BuntDB
	ed, err := etcd.Open(ctx, etcd.Config{Endpoints: cluster.Endpoints, Prefix: "bench/raw/"})
	if err != nil {
		return nil, err
	}
	defer ed.Close()
	bd, err := bunt.Open(filepath.Join(dir, "raw.db"), bunt.Config{})
	if err != nil {
		return nil, err
	}
	defer bd.Close()
	backends[0], backends[1] = ed, bd

	value := bytes.Repeat([]byte("v"), 1024)
	key := func(i int) string { return fmt.Sprintf("key%09d", i) }
	for _, b := range backends {
		var ws []storage.Write
		for i := range 1000 {
			ws = append(ws, storage.Write{Key: key(i), Value: value})
			if len(ws) == 100 {
				if err := b.Apply(ctx, ws); err != nil {
					return nil, fmt.Errorf("fill: %w", err)
				}
				ws = ws[:0]
			}
		}
	}

	type measure struct {
		what    string
		workers int
		op      func(ctx context.Context, s storage.Backend, i int) error
	}
	raw := []measure{
		{"Get 1 of 1,000", 1, func(ctx context.Context, s storage.Backend, i int) error {
			_, err := s.Get(ctx, key(i%1000))
			return err
		}},
		{"Set, 16 writers, durable", 16, func(ctx context.Context, s storage.Backend, i int) error {
			return s.Set(ctx, fmt.Sprintf("set%09d", i), value, time.Time{})
		}},
		{"Scan 100 of 1,000", 1, func(ctx context.Context, s storage.Backend, i int) error {
			recs, err := s.Scan(ctx, key((i*100)%900), "", 100)
			if err == nil && len(recs) != 100 {
				err = fmt.Errorf("scan returned %d records, want 100", len(recs))
			}
			return err
		}},
	}
	var rows []row
	for _, m := range raw {
		var rate [2]float64
		for j, b := range backends {
			if rate[j], err = closedLoop(ctx, o.etcdTime, m.workers, func(i int) error { return m.op(ctx, b, i) }); err != nil {
				return rows, fmt.Errorf("%s %s: %w", [2]string{"etcd", "BuntDB"}[j], m.what, err)
			}
		}
		rows = append(rows, etcdRow("raw backend "+m.what, rate))
	}

	// The sealed store, each on a backend of its own (a new etcd prefix, a
	// new BuntDB file), filled like row 6 from 16 writers.
	const inst = "bench-installation"
	mk, err := seal.GenerateMasterKey()
	if err != nil {
		return rows, err
	}
	sed, err := etcd.Open(ctx, etcd.Config{Endpoints: cluster.Endpoints, Prefix: "bench/sealed/"})
	if err != nil {
		return rows, err
	}
	defer sed.Close()
	sbd, err := bunt.Open(filepath.Join(dir, "sealed.db"), bunt.Config{})
	if err != nil {
		return rows, err
	}
	defer sbd.Close()
	var sealed [2]*seal.Store
	for j, b := range []storage.Backend{sed, sbd} {
		if sealed[j], err = seal.Open(ctx, b, []*seal.MasterKey{mk}, seal.Config{}); err != nil {
			return rows, err
		}
		defer sealed[j].Close()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < 1000; i = int(next.Add(1)) - 1 {
					if err := sealed[j].Set(ctx, inst, storage.KVS, key(i), value, 0); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return rows, fmt.Errorf("sealed fill: %w", err)
		}
	}
	var rate [2]float64
	for j, s := range sealed {
		if rate[j], err = closedLoop(ctx, o.etcdTime, 1, func(i int) error {
			_, err := s.Get(ctx, inst, storage.KVS, key(i%1000))
			return err
		}); err != nil {
			return rows, fmt.Errorf("sealed Get: %w", err)
		}
	}
	return append(rows, etcdRow("sealed Get 1 of 1,000", rate)), nil
}

// etcdRow is one line of row 9 from the etcd and BuntDB rates, in that order.
func etcdRow(what string, rate [2]float64) row {
	e, b := rate[0], rate[1]
	return row{id: "9", what: "etcd (3 members) vs BuntDB, " + what + " (ops/s)",
		figure: fmt.Sprintf("%.0f/s (%s)", e, us(1e9/e)), peer: fmt.Sprintf("BuntDB %.0f/s (%s)", b, us(1e9/b)),
		ratio: fmt.Sprintf("%.3g (1/%.0f)", e/b, b/e), goal: "-"}
}

// closedLoop calls op(0), op(1), ... from workers goroutines, each making
// its next call when its last returns, for about d, and returns the calls
// completed per second. It stops at the first error and returns it.
func closedLoop(ctx context.Context, d time.Duration, workers int, op func(i int) error) (float64, error) {
	var (
		next, done atomic.Int64
		stop       atomic.Bool
		once       sync.Once
		failed     error
		wg         sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil && time.Now().Before(deadline) {
				if err := op(int(next.Add(1)) - 1); err != nil {
					once.Do(func() { failed = err })
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed == nil {
		failed = ctx.Err()
	}
	if failed == nil && done.Load() == 0 {
		failed = errors.New("no call completed")
	}
	return float64(done.Load()) / elapsed.Seconds(), failed
}
