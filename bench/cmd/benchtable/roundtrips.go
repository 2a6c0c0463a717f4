package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/bench/stack"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
)

// roundTripChats is how many chats row 11 opens, follows up and answers:
// each figure is a mean over this many.
const roundTripChats = 20

// roundTripRows is row 11 (issue #20): what one Telegram update and one
// agent reply cost in storage calls, through the Wasm stack, on BuntDB, on
// a three-member etcd with its data on disk, and on one with its data on
// tmpfs (/dev/shm), to tell disk from CPU. It sends roundTripChats first
// messages (each opens a request), as many follow-ups (each a comment),
// and as many agent comments (each a Telegram message), one at a time,
// each phase waiting until the simulators hold every effect and the queue
// is empty. Per update or reply it counts the host's calls of its sealed
// store (seal.Store.Counts: get, set, delete, query, transact; the queue's
// own records apart), for etcd the gRPC requests the members served
// (grpc_server_handled_total from their /metrics, summed over members),
// the Gets the read cache answered and passed on (etcd.CacheStats), and
// the CPU time (/proc) of this process (host, simulators and the load)
// and of the members. Nothing here is timed but the CPU.
func roundTripRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	var rows []row
	for _, b := range []struct{ name, etcdDir string }{
		{"BuntDB", ""},
		{"etcd (3 members, disk)", a.work},
		{"etcd (3 members, tmpfs)", "/dev/shm"},
	} {
		if b.etcdDir == "/dev/shm" {
			if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
				rows = append(rows, row{id: "11", what: b.name, figure: "skipped: no /dev/shm"})
				continue
			}
		}
		rs, err := measureRoundTrips(ctx, a, o, b.name, b.etcdDir)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", b.name, err)
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

// sample is what row 11 reads before and after a phase.
type sample struct {
	counts      storage.CountSnapshot
	cache       etcd.CacheStats    // the etcd read cache's hits and misses
	rpcs        map[string]float64 // gRPC method -> requests, over members
	host, etcdT time.Duration      // CPU time
}

func measureRoundTrips(ctx context.Context, a *artifacts, o options, name, etcdDir string) (_ []row, err error) {
	dir := filepath.Join(a.work, "roundtrips")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	var (
		sc      node.Store
		members *etcdlocal.Cluster
	)
	if etcdDir != "" {
		if members, err = etcdlocal.Start(ctx, 3, etcdlocal.Options{Dir: etcdDir}); err != nil {
			return nil, err
		}
		defer func() {
			if serr := members.Stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		sc = node.Store{Backend: "etcd", Endpoints: members.Endpoints, Prefix: "bench/"}
	}
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Mode: stack.Wasm, Module: a.moduleBytes, Manifest: a.mBts,
		Engine: engine.Config{CacheDir: a.cache, MaxPerKey: o.perKey}, Store: sc})
	if err != nil {
		return nil, err
	}
	defer s.Close()

	take := func() (sample, error) {
		smp := sample{counts: s.Counts(), cache: s.CacheStats(), host: cpuOf(os.Getpid())}
		if members != nil {
			var err error
			if smp.rpcs, err = etcdRPCs(ctx, members.Endpoints); err != nil {
				return smp, err
			}
			for _, pid := range members.Pids() {
				smp.etcdT += cpuOf(pid)
			}
		}
		return smp, nil
	}
	// settle waits until done reports the simulators hold every effect, the
	// queue is empty and the store's counts stop moving.
	settle := func(done func() (bool, error)) error {
		deadline := time.Now().Add(2 * time.Minute)
		last := s.Counts()
		for {
			ok, err := done()
			if err != nil {
				return err
			}
			if ok && s.Pending() == 0 {
				time.Sleep(300 * time.Millisecond)
				now := s.Counts()
				if now == last {
					return nil
				}
				last = now
				continue
			}
			if time.Now().After(deadline) {
				return errors.New("effects missing after 2 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	send := func(u *stack.Updates) error {
		for range roundTripChats {
			req, err := u.Request(ctx)
			if err != nil {
				return err
			}
			resp, err := s.Client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("webhook answered %d", resp.StatusCode)
			}
		}
		return nil
	}
	jiraAt := func(requests, comments int) func() (bool, error) {
		return func() (bool, error) {
			r, c, err := s.JiraTotals()
			return r >= requests && c >= comments, err
		}
	}
	var tg struct {
		Requests map[string]int64 `json:"requests"`
	}
	sentMessages := func() (int64, error) {
		err := s.Control("GET", "/_sim/telegram/stats", nil, &tg)
		return tg.Requests["sendMessage"], err
	}

	u := stack.NewUpdates(s, roundTripChats)
	var phases []struct {
		what   string
		before sample
		after  sample
	}
	phase := func(what string, act func() error, done func() (bool, error)) error {
		before, err := take()
		if err != nil {
			return err
		}
		if err := act(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := settle(done); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		after, err := take()
		if err != nil {
			return err
		}
		phases = append(phases, struct {
			what   string
			before sample
			after  sample
		}{what, before, after})
		return nil
	}
	if err := phase("first message", func() error { return send(u) }, jiraAt(roundTripChats, 0)); err != nil {
		return nil, err
	}
	_, c0, err := s.JiraTotals()
	if err != nil {
		return nil, err
	}
	if err := phase("follow-up", func() error { return send(u) }, jiraAt(roundTripChats, c0+roundTripChats)); err != nil {
		return nil, err
	}
	var list []struct {
		Key string `json:"key"`
	}
	if err := s.Control("GET", "/_sim/jira/requests", nil, &list); err != nil {
		return nil, err
	}
	sent0, err := sentMessages()
	if err != nil {
		return nil, err
	}
	if err := phase("agent reply", func() error {
		for _, r := range list {
			if err := s.Control("POST", "/_sim/jira/requests/"+r.Key+"/comment", map[string]any{"body": "bench reply", "public": true}, nil); err != nil {
				return err
			}
		}
		return nil
	}, func() (bool, error) {
		n, err := sentMessages()
		return n >= sent0+int64(len(list)), err
	}); err != nil {
		return nil, err
	}

	var rows []row
	for _, p := range phases {
		d := p.after.counts.Sub(p.before.counts)
		per := func(n int64) string { return strconv.FormatFloat(float64(n)/roundTripChats, 'f', 1, 64) }
		in := func(sp storage.Keyspace, op storage.Op) int64 { return d.Get(sp, op) }
		kv := func(op storage.Op) string { return per(in(storage.KVS, op)) }
		host := func(op storage.Op) string {
			return per(in(storage.Registry, op) + in(storage.Secret, op) + in(storage.Dedupe, op))
		}
		fig := fmt.Sprintf("module kvs: get %s, set %s, delete %s, query %s, transact %s; host (registry, secrets): get %s, set %s; queue: set %s, delete %s",
			kv(storage.OpGet), kv(storage.OpSet), kv(storage.OpDelete), kv(storage.OpQuery), kv(storage.OpTransact),
			host(storage.OpGet), host(storage.OpSet), per(in(storage.Queue, storage.OpSet)), per(in(storage.Queue, storage.OpDelete)))
		cpu := fmt.Sprintf("host CPU %s", ms((p.after.host-p.before.host)/roundTripChats))
		if p.after.rpcs != nil {
			var parts []string
			total := 0.0
			for _, m := range []string{"Range", "Txn", "Put", "DeleteRange", "LeaseGrant"} {
				n := (p.after.rpcs[m] - p.before.rpcs[m]) / roundTripChats
				total += n
				if n > 0 {
					parts = append(parts, fmt.Sprintf("%s %.1f", m, n))
				}
			}
			cpu = fmt.Sprintf("etcd RPCs %.1f (%s); read cache hits %s, misses %s (waits %s, given up %s); %s, etcd CPU %s", total, strings.Join(parts, ", "),
				per(p.after.cache.Hits-p.before.cache.Hits), per(p.after.cache.Misses-p.before.cache.Misses),
				per(p.after.cache.Waits-p.before.cache.Waits), per(p.after.cache.WaitTimeouts-p.before.cache.WaitTimeouts),
				cpu, ms((p.after.etcdT-p.before.etcdT)/roundTripChats))
		}
		rows = append(rows, row{id: "11", what: fmt.Sprintf("storage calls per %s, %s (mean of %d)", p.what, name, roundTripChats),
			figure: fig, peer: cpu, ratio: "-", goal: "-"})
	}
	return rows, nil
}

// cpuOf is the user and system CPU time of process pid so far (0 when it
// cannot be read).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command may hold spaces: fields count from the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// etcdRPCs sums grpc_server_handled_total by method over the members.
func etcdRPCs(ctx context.Context, endpoints []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, ep := range endpoints {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "grpc_server_handled_total{") {
				continue
			}
			i := strings.Index(line, `grpc_method="`)
			sp := strings.LastIndexByte(line, ' ')
			if i < 0 || sp < 0 {
				continue
			}
			m := line[i+len(`grpc_method="`):]
			m = m[:strings.IndexByte(m, '"')]
			v, err := strconv.ParseFloat(line[sp+1:], 64)
			if err == nil {
				out[m] += v
			}
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
