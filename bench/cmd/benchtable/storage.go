package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

var initTesting sync.Once

// bench runs op(0), op(1), ... as a testing.B benchmark for about d and
// returns the first error op returned.
func bench(d time.Duration, op func(i int) error) (testing.BenchmarkResult, error) {
	initTesting.Do(testing.Init)
	if err := flag.Set("test.benchtime", d.String()); err != nil {
		return testing.BenchmarkResult{}, err
	}
	var failed error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := op(i); err != nil {
				failed = err
				b.SkipNow()
			}
		}
	})
	if failed == nil && res.N == 0 {
		failed = errors.New("benchmark did not run")
	}
	return res, failed
}

func readBody(req *http.Request) ([]byte, error) {
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

// kv is what row 6 measures of a store.
type kv interface {
	Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error)
	Set(ctx context.Context, inst string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error
	Query(ctx context.Context, inst string, space storage.Keyspace, prefix, cursor string, limit int) (storage.Page, error)
}

// plain is the baseline of row 6: the same BuntDB backend, file and
// durability (group-committed fsync before a write returns), keys and
// values in the clear.
type plain struct{ b *bunt.DB }

func plainKey(inst string, space storage.Keyspace, key string) string {
	return inst + "\x00" + string(rune('0'+space)) + key
}

func (p plain) Get(ctx context.Context, inst string, space storage.Keyspace, key string) ([]byte, error) {
	rec, err := p.b.Get(ctx, plainKey(inst, space, key))
	return rec.Value, err
}

func (p plain) Set(ctx context.Context, inst string, space storage.Keyspace, key string, value []byte, _ time.Duration) error {
	return p.b.Set(ctx, plainKey(inst, space, key), value, time.Time{})
}

func (p plain) Query(ctx context.Context, inst string, space storage.Keyspace, prefix, _ string, limit int) (storage.Page, error) {
	base := plainKey(inst, space, "")
	recs, err := p.b.Scan(ctx, plainKey(inst, space, prefix), storage.PrefixEnd(plainKey(inst, space, prefix)), limit)
	var page storage.Page
	for _, r := range recs {
		page.Entries = append(page.Entries, storage.Entry{Key: r.Key[len(base):], Value: r.Value})
	}
	return page, err
}

// storageRows is row 6: get, set and a 10-record prefix query of 256-byte
// values among 2,000 records, sealed against plain, both on BuntDB files
// with the production configuration (bunt.Config{}: every write fsynced,
// group commit).
func storageRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	const inst = "bench-installation"
	value := bytes.Repeat([]byte("v"), 256)
	open := func(name string, sealed bool) (kv, func(), error) {
		db, err := bunt.Open(filepath.Join(a.work, "storage-"+name+".db"), bunt.Config{})
		if err != nil {
			return nil, nil, err
		}
		var s kv = plain{db}
		closeFn := func() { _ = db.Close() }
		if sealed {
			key, err := seal.GenerateMasterKey()
			if err != nil {
				closeFn()
				return nil, nil, err
			}
			st, err := seal.Open(ctx, db, []*seal.MasterKey{key}, seal.Config{})
			if err != nil {
				closeFn()
				return nil, nil, err
			}
			s, closeFn = st, func() { _ = st.Close() }
		}
		// Fill concurrently so that group commit keeps the setup short.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 2000; i += 16 {
					k := fmt.Sprintf("chat:%06d", i)
					if i%2 == 1 {
						k = fmt.Sprintf("issue:%06d", i)
					}
					if err := s.Set(ctx, inst, storage.KVS, k, value, 0); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			closeFn()
			return nil, nil, err
		}
		return s, closeFn, nil
	}
	ops := []struct {
		name string
		fn   func(s kv, i int) error
	}{
		{"get", func(s kv, i int) error {
			_, err := s.Get(ctx, inst, storage.KVS, fmt.Sprintf("chat:%06d", (i%1000)*2))
			return err
		}},
		{"set", func(s kv, i int) error {
			return s.Set(ctx, inst, storage.KVS, fmt.Sprintf("chat:%06d", i%1000*2), value, 0)
		}},
		{"query (10 records)", func(s kv, i int) error {
			p, err := s.Query(ctx, inst, storage.KVS, fmt.Sprintf("chat:%04d", i%20), "", 10)
			if err == nil && len(p.Entries) == 0 {
				err = errors.New("query returned nothing")
			}
			return err
		}},
	}
	results := map[string][2]testing.BenchmarkResult{}
	for i, sealed := range []bool{false, true} {
		name := "plain"
		if sealed {
			name = "sealed"
		}
		s, closeFn, err := open(name, sealed)
		if err != nil {
			return nil, err
		}
		for _, op := range ops {
			res, err := bench(o.benchtime, func(n int) error { return op.fn(s, n) })
			if err != nil {
				closeFn()
				return nil, fmt.Errorf("%s %s: %w", name, op.name, err)
			}
			r := results[op.name]
			r[i] = res
			results[op.name] = r
		}
		closeFn()
	}
	var rows []row
	for _, op := range ops {
		r := results[op.name]
		p, s := float64(r[0].NsPerOp()), float64(r[1].NsPerOp())
		ratio := p / s // sealed throughput as a fraction of plain
		goal, met := "-", ""
		if op.name != "set" {
			goal, met = ">= 0.8", verdict(ratio >= 0.8)
		}
		rows = append(rows, row{id: "6", what: "BuntDB " + op.name + ", sealed vs plain (ops/s)",
			figure: fmt.Sprintf("%.0f/s (%s)", 1e9/s, us(s)), peer: fmt.Sprintf("plain %.0f/s (%s)", 1e9/p, us(p)),
			ratio: fmt.Sprintf("%.2f", ratio), goal: goal, verdict: met})
	}
	return rows, nil
}
