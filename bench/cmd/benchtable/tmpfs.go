package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
)

// tmpfsRows is row 12 (issue #20): etcd with its three members' data on
// disk (as in production, rows 9 and 10) beside the same on tmpfs
// (/dev/shm), where an fsync costs nothing, to tell what the disk costs
// from what the CPU does. Each runs in turn on a cluster of its own: the
// raw backend's durable Set from 16 writers and its Get (row 9's shapes,
// o.etcdTime each), then Telegram updates end to end through one host node
// (row 10's). Beside each rate, the members' CPU time per operation or
// update (/proc): if the rate moves little between disk and tmpfs while
// etcd's CPU per operation stays, the machine's CPU, not its disk, bounds
// the figure.
func tmpfsRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
		return []row{{id: "12", what: "etcd on tmpfs beside disk", figure: "skipped: no /dev/shm"}}, nil
	}
	shm, err := os.MkdirTemp("/dev/shm", "chatbridge-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(shm)
	dirs := [2]string{a.work, shm} // disk, tmpfs

	var raw [2]rawEtcd
	for i, dir := range dirs {
		if raw[i], err = measureRawEtcd(ctx, dir, o); err != nil {
			return nil, fmt.Errorf("raw etcd in %s: %w", dir, err)
		}
	}
	var rows []row
	for _, m := range []struct {
		what string
		pick func(rawEtcd) rate
	}{
		{"Set, 16 writers, durable", func(r rawEtcd) rate { return r.set }},
		{"Get 1 of 1,000", func(r rawEtcd) rate { return r.get }},
	} {
		d, t := m.pick(raw[0]), m.pick(raw[1])
		rows = append(rows, row{id: "12", what: "etcd (3 members) raw backend " + m.what + ", disk vs tmpfs (ops/s; etcd CPU per op)",
			figure: "disk " + d.String(), peer: "tmpfs " + t.String(),
			ratio: fmt.Sprintf("tmpfs %.2fx", t.perSec/d.perSec), goal: "-"})
	}

	var runs [2]e2e
	for i, dir := range dirs {
		if runs[i], err = measureClusterOn(ctx, a, o, 1, dir); err != nil {
			return rows, fmt.Errorf("end to end, etcd in %s: %w", dir, err)
		}
	}
	fig := func(m e2e) string {
		return fmt.Sprintf("%.0f upd/s to Jira (etcd CPU %s/update)", m.sustained, ms(m.etcdCPU/time.Duration(max(m.accepted.OK, 1))))
	}
	return append(rows, row{id: "12", what: fmt.Sprintf("Telegram update e2e, 1 host node on etcd (3 members), disk vs tmpfs (%d conns, %v)", o.conns, o.phase),
		figure: "disk " + fig(runs[0]), peer: "tmpfs " + fig(runs[1]),
		ratio: fmt.Sprintf("tmpfs %.2fx", runs[1].sustained/runs[0].sustained), goal: "-"}), nil
}

// rate is a closed loop's operations per second and the etcd members' CPU
// time per operation over it.
type rate struct {
	perSec float64
	cpuOp  time.Duration
}

func (r rate) String() string {
	return fmt.Sprintf("%.0f/s (etcd CPU %s/op)", r.perSec, us(float64(r.cpuOp)))
}

type rawEtcd struct{ set, get rate }

// measureRawEtcd starts three members with their data under dir and
// measures row 9's raw Set and Get on them.
func measureRawEtcd(ctx context.Context, dir string, o options) (_ rawEtcd, err error) {
	var r rawEtcd
	members, err := etcdlocal.Start(ctx, 3, etcdlocal.Options{Dir: dir})
	if err != nil {
		return r, err
	}
	defer func() {
		if serr := members.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	db, err := etcd.Open(ctx, etcd.Config{Endpoints: members.Endpoints, Prefix: "bench/raw/"})
	if err != nil {
		return r, err
	}
	defer db.Close()
	value := bytes.Repeat([]byte("v"), 1024)
	key := func(i int) string { return fmt.Sprintf("key%09d", i) }
	for i := range 1000 {
		if err := db.Set(ctx, key(i), value, time.Time{}); err != nil {
			return r, fmt.Errorf("fill: %w", err)
		}
	}
	cpu := func() (t time.Duration) {
		for _, pid := range members.Pids() {
			t += cpuOf(pid)
		}
		return t
	}
	measure := func(workers int, op func(i int) error) (rate, error) {
		var n atomic.Int64
		c0 := cpu()
		perSec, err := closedLoop(ctx, o.etcdTime, workers, func(i int) error {
			err := op(i)
			if err == nil {
				n.Add(1)
			}
			return err
		})
		if err != nil {
			return rate{}, err
		}
		return rate{perSec: perSec, cpuOp: (cpu() - c0) / time.Duration(max(n.Load(), 1))}, nil
	}
	if r.set, err = measure(16, func(i int) error { return db.Set(ctx, fmt.Sprintf("set%09d", i), value, time.Time{}) }); err != nil {
		return r, fmt.Errorf("Set: %w", err)
	}
	if r.get, err = measure(1, func(i int) error { _, err := db.Get(ctx, key(i%1000)); return err }); err != nil {
		return r, fmt.Errorf("Get: %w", err)
	}
	return r, nil
}
