package schedule

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/devca"
	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The probe's scheduled trigger (plugin/examples/probe/manifest.yml): it
// counts its firings in the installation's storage.
const (
	trigger  = "housekeeping"
	interval = "hour"
	countKey = "scheduled-count:" + trigger
)

var (
	cacheDir string
	quiet    = slog.New(slog.DiscardHandler)
)

func TestMain(m *testing.M) { os.Exit(bundletest.Main(m, &cacheDir)) }

// firings collects what the schedulers of a test fired, by node.
type firings struct {
	mu   sync.Mutex
	list []observed
}

type observed struct {
	Firing
	node string
}

func (f *firings) observer(node string) func(Firing) {
	return func(x Firing) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.list = append(f.list, observed{x, node})
	}
}

// of returns an installation's firings in slot order.
func (f *firings) of(installation string) []observed {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []observed
	for _, x := range f.list {
		if x.Installation == installation {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b observed) int { return a.Slot.Compare(b.Slot) })
	return out
}

// jiraSites is a client that reaches the Jira simulator under every site
// name the tests install (an install asks the site who the app is).
func jiraSites(t *testing.T) *http.Client {
	t.Helper()
	ca, err := devca.New()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"one.atlassian.net", "two.atlassian.net", "three.atlassian.net"}
	cert, err := ca.Leaf(names...)
	if err != nil {
		t.Fatal(err)
	}
	sim := jira.New(jira.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewUnstartedServer(sim.API())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	routes := map[string]string{}
	for _, n := range names {
		routes[n] = srv.Listener.Addr().String()
	}
	return reroute.Client(routes, ca.Pool())
}

// node is one host running the probe bundle and its schedule.
type node struct {
	host    *host.Host
	sched   *Scheduler
	store   storage.Store
	stopped bool
}

// startNode starts a host on store with the probe bundle, and its
// schedule with the probe's interval shortened to period.
func startNode(t *testing.T, name string, store storage.Store, claims host.Config, period time.Duration, seen *firings) *node {
	t.Helper()
	ctx := context.Background()
	hc := claims
	hc.Store, hc.Trust, hc.Logger = store, bundletest.Trust(t), quiet
	hc.HTTP = jiraSites(t)
	hc.Engine = engine.Config{CacheDir: cacheDir}
	h, err := host.New(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, bundletest.Probe(t, nil)); err != nil {
		_ = h.Close(ctx)
		t.Fatal(err)
	}
	sc := Config{Runtime: ForHost(h), Store: store, Logger: quiet, Rescan: 50 * time.Millisecond,
		Intervals: map[string]time.Duration{interval: period}, Observe: seen.observer(name)}
	if hc.Claims != nil {
		sc.Claims = hc.Claims
	}
	s, err := Start(sc)
	if err != nil {
		_ = h.Close(ctx)
		t.Fatal(err)
	}
	n := &node{host: h, sched: s, store: store}
	t.Cleanup(n.stop)
	return n
}

// stop stops the schedule, then the host, as the command's shutdown does.
func (n *node) stop() {
	if n.stopped {
		return
	}
	n.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = n.sched.Stop(ctx)
	_ = n.host.Close(ctx)
}

func (n *node) install(t *testing.T, site string) string {
	t.Helper()
	in, _, err := n.host.Install(context.Background(), tenant.Site{URL: site, Authorization: jira.DefaultAuthorization})
	if err != nil {
		t.Fatal(err)
	}
	return in.ID
}

// count is how many times the module says it fired for an installation.
func count(t *testing.T, store storage.Store, installation string) int {
	t.Helper()
	v, err := store.Get(context.Background(), installation, storage.KVS, countKey)
	if errors.Is(err, storage.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openBunt opens the sealed BuntDB store in dir.
func openBunt(t *testing.T, dir string, key *seal.MasterKey) *seal.Store {
	t.Helper()
	db, err := bunt.Open(filepath.Join(dir, "data.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Open(context.Background(), db, []*seal.MasterKey{key}, seal.Config{})
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	return s
}

func masterKey(t *testing.T) *seal.MasterKey {
	t.Helper()
	k, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkOncePerInterval checks an installation's firings: the module ran
// once per recorded firing, and no two firings share an interval.
func checkOncePerInterval(t *testing.T, store storage.Store, seen *firings, installation string, period time.Duration) {
	t.Helper()
	got := seen.of(installation)
	if c := count(t, store, installation); c != len(got) {
		t.Errorf("installation %s: the module fired %d times, the schedule recorded %d firings", installation, c, len(got))
	}
	for i, f := range got {
		if f.Err != nil {
			t.Errorf("installation %s: firing %d failed: %v", installation, i, f.Err)
		}
		if i > 0 {
			if gap := f.Slot.Sub(got[i-1].Slot); gap < period {
				t.Errorf("installation %s: firings %d and %d are %v apart, within one interval of %v (nodes %s, %s)",
					installation, i-1, i, gap, period, got[i-1].node, f.node)
			}
		}
	}
}

func TestSchedule_FiresAtItsIntervalOnOneNode(t *testing.T) {
	const period = time.Second
	st := openBunt(t, t.TempDir(), masterKey(t))
	defer st.Close()
	seen := &firings{}
	n := startNode(t, "a", st, host.Config{}, period, seen)
	ids := []string{n.install(t, "https://one.atlassian.net"), n.install(t, "https://two.atlassian.net")}
	waitfor.Until(t, 0, "three firings per installation", waitfor.True(func() bool {
		return count(t, st, ids[0]) >= 3 && count(t, st, ids[1]) >= 3
	}))

	n.stop()
	for _, id := range ids {
		checkOncePerInterval(t, st, seen, id, period)
		got := seen.of(id)
		for i := 1; i < len(got); i++ {
			// On time, a firing keeps the phase: exactly one interval on.
			if gap := got[i].Slot.Sub(got[i-1].Slot); gap != period {
				t.Logf("installation %s: firing %d came %v after the previous (a late pass starts the intervals again)", id, i, gap)
			}
		}
	}
}

func TestSchedule_ARestartDoesNotFireAgainWithinAnInterval(t *testing.T) {
	const period = time.Minute
	dir, key := t.TempDir(), masterKey(t)
	st := openBunt(t, dir, key)
	seen := &firings{}
	n := startNode(t, "before", st, host.Config{}, period, seen)
	id := n.install(t, "https://one.atlassian.net")
	waitfor.Until(t, 0, "the first firing", waitfor.True(func() bool { return count(t, st, id) == 1 }))
	n.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openBunt(t, dir, key)
	defer st.Close()
	n = startNode(t, "after", st, host.Config{}, period, seen)
	// The restarted node read the record and found the interval fired.
	waitfor.Until(t, 0, "the restarted node to look at the trigger", waitfor.True(func() bool { s := n.sched.Stats(); return s.NotDue+s.Fired >= 1 }))
	if c := count(t, st, id); c != 1 {
		t.Fatalf("the module fired %d times, want once: the restart fired the interval again", c)
	}
	if s := n.sched.Stats(); s.Fired != 0 {
		t.Fatalf("the restarted node fired %d times within the interval", s.Fired)
	}
}

func TestSchedule_AMissedIntervalFiresOnceAfterDowntime(t *testing.T) {
	const period = time.Minute
	dir, key := t.TempDir(), masterKey(t)
	st := openBunt(t, dir, key)
	seen := &firings{}
	n := startNode(t, "before", st, host.Config{}, period, seen)
	id := n.install(t, "https://one.atlassian.net")
	waitfor.Until(t, 0, "the first firing", waitfor.True(func() bool { return count(t, st, id) == 1 }))
	n.stop()

	// The node was down for ten intervals: the last firing is that old.
	old := time.Now().Add(-10 * period)
	v, _ := json.Marshal(record{Slot: old.UnixNano(), Period: int64(period)})
	if err := st.Set(context.Background(), id, storage.Dedupe, storage.SchedulePrefix+trigger, v, 2*period+time.Minute); err != nil {
		t.Fatal(err)
	}
	restart := time.Now()
	n = startNode(t, "after", st, host.Config{}, period, seen)
	waitfor.Until(t, 0, "the firing after the downtime", waitfor.True(func() bool { return n.sched.Stats().Fired == 1 }))
	n.stop()
	got := seen.of(id)
	if len(got) != 2 || got[1].Slot.Before(restart) {
		t.Fatalf("firings %+v: want one after the restart, for an interval starting then", got)
	}

	// And the intervals start again from that firing: the next node finds
	// nothing due, where catching up would fire the missed ones.
	n = startNode(t, "later", st, host.Config{}, period, seen)
	defer st.Close()
	waitfor.Until(t, 0, "the next node to look at the trigger", waitfor.True(func() bool { s := n.sched.Stats(); return s.NotDue+s.Fired >= 1 }))
	n.stop()
	if c := count(t, st, id); c != 2 {
		t.Fatalf("the module fired %d times, want twice: once before the downtime and once after", c)
	}
}

func TestSchedule_RecordIsSealedAndGoesWithItsInstallation(t *testing.T) {
	dir, key := t.TempDir(), masterKey(t)
	st := openBunt(t, dir, key)
	defer st.Close()
	seen := &firings{}
	n := startNode(t, "a", st, host.Config{}, time.Minute, seen)
	id := n.install(t, "https://one.atlassian.net")
	waitfor.Until(t, 0, "the first firing", waitfor.True(func() bool { return count(t, st, id) == 1 }))
	ctx := context.Background()
	raw, err := st.Get(ctx, id, storage.Dedupe, storage.SchedulePrefix+trigger)
	if err != nil {
		t.Fatalf("no record of the firing: %v", err)
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil || r.Slot == 0 || r.Period != int64(time.Minute) {
		t.Fatalf("record %s (%v): want the firing's slot and period", raw, err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{storage.SchedulePrefix, trigger, id, strconv.FormatInt(r.Slot, 10)} {
		if bytes.Contains(file, []byte(clear)) {
			t.Errorf("the data file holds %q in the clear", clear)
		}
	}
	if _, err := n.host.Uninstall(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, id, storage.Dedupe, storage.SchedulePrefix+trigger); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after uninstalling, the record reads %v; want it gone", err)
	}
}

// A module that fails is not fired again within the interval (as on
// Forge), and a runtime with nothing to fire into records nothing.
func TestSchedule_AFailureIsAFiringAndNothingToFireIntoIsNot(t *testing.T) {
	st := openBunt(t, t.TempDir(), masterKey(t))
	defer st.Close()
	rt := &fakeRuntime{errs: map[string]error{
		"failing": errors.New("engine: trap"),
		"gone":    fmt.Errorf("%w: %q", tenant.ErrNotFound, "gone"),
	}}
	seen := &firings{}
	s, err := Start(Config{Runtime: rt, Store: st, Logger: quiet, Rescan: 20 * time.Millisecond, Observe: seen.observer("a")})
	if err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 0, "a firing of failing, and one into gone", waitfor.True(func() bool {
		return s.Stats().Fired >= 1 && s.Stats().Deferred >= 1
	}))

	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := rt.calls("failing"); c != 1 {
		t.Errorf("the failing trigger was invoked %d times within its interval, want once", c)
	}
	if got := seen.of("failing"); len(got) != 1 || got[0].Err == nil {
		t.Errorf("firings of failing: %+v; want one, with its error", got)
	}
	if _, err := st.Get(context.Background(), "failing", storage.Dedupe, storage.SchedulePrefix+trigger); err != nil {
		t.Errorf("the failed firing was not recorded (%v): it would be retried within its interval", err)
	}
	if _, err := st.Get(context.Background(), "gone", storage.Dedupe, storage.SchedulePrefix+trigger); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a firing into a missing installation was recorded (%v)", err)
	}
}

func TestStart_RefusesABadConfig(t *testing.T) {
	st := openBunt(t, t.TempDir(), masterKey(t))
	defer st.Close()
	for name, cfg := range map[string]Config{
		"no runtime":                  {Store: st},
		"no store":                    {Runtime: &fakeRuntime{}},
		"an interval Forge lacks":     {Runtime: &fakeRuntime{}, Store: st, Intervals: map[string]time.Duration{"minute": time.Second}},
		"an interval of no length":    {Runtime: &fakeRuntime{}, Store: st, Intervals: map[string]time.Duration{"hour": 0}},
		"claims without fingerprints": {Runtime: &fakeRuntime{}, Store: plainStore{st}, Claims: noClaims{}},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := Start(cfg); err == nil {
				_ = s.Stop(context.Background())
				t.Fatal("Start accepted it")
			}
		})
	}
}

// fakeRuntime has installations named like its errors, each with the
// probe's trigger, and fails each one's invocation with its error.
type fakeRuntime struct {
	errs map[string]error
	mu   sync.Mutex
	n    map[string]int
}

func (r *fakeRuntime) Triggers() []bundle.ScheduledTrigger {
	return []bundle.ScheduledTrigger{{Key: trigger, Function: "main", Interval: interval}}
}

func (r *fakeRuntime) Installations() []string {
	var ids []string
	for id := range r.errs {
		ids = append(ids, id)
	}
	return ids
}

func (r *fakeRuntime) Scheduled(_ context.Context, installation, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[installation]++
	return r.errs[installation]
}

func (r *fakeRuntime) calls(installation string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[installation]
}

// plainStore hides a store's Fingerprint.
type plainStore struct{ storage.Store }

type noClaims struct{}

func (noClaims) Claim(context.Context, string) (bool, error) { return false, io.EOF }
func (noClaims) Release(context.Context, string) error       { return nil }
