package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/bench/stack"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// memoryReport is what the row 8 child prints, one JSON line.
type memoryReport struct {
	BaseKiB, OneKiB, ManyInstKiB int64 // VmRSS: host loaded; 1 warm instance; Live of them
	Live                         int
	Installations                int
	Calls                        int64
	ManyKiB, PeakKiB             int64 // VmRSS and VmHWM after traffic to every installation
	LiveInstances                int
	InstallTime, TrafficTime     time.Duration
}

// memoryRows is row 8, measured in a child process so that only the host's
// memory is counted.
func memoryRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.self, "-child", "rss", "-module", a.bridge, "-manifest", a.manifest,
		"-installations", strconv.Itoa(o.installs), "-work", a.work)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, err
	}
	var r memoryReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("child: %w: %s", err, out)
	}
	per := (r.ManyInstKiB - r.OneKiB) / int64(max(r.Live-1, 1))
	mib := func(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
	return []row{
		{id: "8", what: fmt.Sprintf("RSS per warm instance (%d live vs 1)", r.Live), figure: mib(per),
			peer: fmt.Sprintf("host with 1 instance %s", mib(r.OneKiB)), ratio: "-", goal: "-"},
		{id: "8", what: fmt.Sprintf("RSS with %d installations, %d calls spread over all", r.Installations, r.Calls),
			figure: fmt.Sprintf("%s (peak %s, %d live instances)", mib(r.ManyKiB), mib(r.PeakKiB), r.LiveInstances),
			peer:   "goal 2048 MiB", ratio: fmt.Sprintf("%.2f of goal", float64(r.PeakKiB)/(2<<20)),
			goal: "<= 2 GiB", verdict: verdict(r.PeakKiB <= 2<<20)},
	}, nil
}

// memoryChild runs the host with the bridge bundle and sealed BuntDB storage,
// installs installations and sends each a Telegram webhook for a project it
// has not configured (decoded by the bridge, its configuration looked up in
// sealed storage, answered 404), and reports resident memory.
func memoryChild(role, module, manifest string, installations int) error {
	if role != "rss" {
		return fmt.Errorf("unknown role %q", role)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chatbridge-rss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mod, err := os.ReadFile(module)
	if err != nil {
		return err
	}
	man, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	trust, err := stack.SignedBundle(filepath.Join(dir, "bundle"), man, mod)
	if err != nil {
		return err
	}
	keys, err := seal.EnsureDevKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		return err
	}
	db, err := bunt.Open(filepath.Join(dir, "chatbridge.db"), bunt.Config{})
	if err != nil {
		return err
	}
	store, err := seal.Open(ctx, db, keys, seal.Config{})
	if err != nil {
		return err
	}
	defer store.Close()
	cache := ""
	if w := flagValue("work"); w != "" {
		cache = filepath.Join(w, "cache")
	}
	h, err := host.New(ctx, host.Config{Store: store, Trust: trust, Engine: engine.Config{CacheDir: cache},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "https://127.0.0.1:8443"})
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	if err := h.Load(ctx, filepath.Join(dir, "bundle")); err != nil {
		return err
	}
	var r memoryReport
	r.BaseKiB = rss("VmRSS")
	var ids []string
	install := func(n int) error {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed atomic.Value
		next := atomic.Int64{}
		next.Store(int64(len(ids)))
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					in, _, err := h.Install(ctx, tenant.Site{URL: fmt.Sprintf("https://bench-%05d.atlassian.net", i), AppAccountID: "bench", Authorization: "Basic YmVuY2g6YmVuY2g="})
					if err != nil {
						failed.Store(err)
						return
					}
					mu.Lock()
					ids = append(ids, in.ID)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			return err
		}
		return nil
	}
	var calls atomic.Int64
	body := []byte(`{"update_id":1,"message":{"message_id":1,"date":1700000000,"text":"memory","chat":{"id":1,"type":"private"},"from":{"id":1,"is_bot":false,"first_name":"M"}}}`)
	call := func(id string) error {
		resp, err := webtrigger.Invoke(ctx, h, id, "telegram-webhook", &abi.WebTriggerRequest{Method: "POST", Path: "/",
			Query: []abi.Header{{Name: "project", Value: "SUP"}}, Body: body})
		if err == nil && resp.Status != 404 {
			err = fmt.Errorf("unconfigured project answered %d, want 404", resp.Status)
		}
		calls.Add(1)
		return err
	}
	settle := func() int64 {
		debug.FreeOSMemory()
		time.Sleep(100 * time.Millisecond)
		return rss("VmRSS")
	}
	// Idle instances are reset for other installations, so only concurrent
	// calls make more of them: 32 workers, each on its own installation.
	const workers = 32
	if err := install(workers); err != nil {
		return err
	}
	if err := call(ids[0]); err != nil {
		return err
	}
	r.OneKiB = settle()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for _, id := range ids[:workers] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := call(id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	r.Live = h.Engine().Live()
	r.ManyInstKiB = settle()

	t := time.Now()
	if err := install(installations); err != nil {
		return err
	}
	r.InstallTime = time.Since(t)
	r.Installations = len(ids)
	t = time.Now()
	calls.Store(0)
	for range 2 {
		var wg sync.WaitGroup
		var failed atomic.Value
		work := make(chan string)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range work {
					resp, err := webtrigger.Invoke(ctx, h, id, "telegram-webhook", &abi.WebTriggerRequest{Method: "POST", Path: "/",
						Query: []abi.Header{{Name: "project", Value: "SUP"}}, Body: body})
					if err == nil && resp.Status != 404 {
						err = fmt.Errorf("answered %d", resp.Status)
					}
					if err != nil {
						failed.Store(err)
					}
					calls.Add(1)
				}
			}()
		}
		for _, id := range ids {
			work <- id
		}
		close(work)
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			return err
		}
	}
	r.Calls = calls.Load()
	r.TrafficTime = time.Since(t)
	r.ManyKiB = rss("VmRSS")
	r.PeakKiB = rss("VmHWM")
	r.LiveInstances = h.Engine().Live()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// rss reads a field of /proc/self/status, in KiB.
func rss(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// flagValue is the value of a command-line flag, "" if unset.
func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
