package host_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The hostile-plugin suite (issue 22): a module that sleeps, blocks, loops,
// hoards memory or reaches where it was not allowed is refused or stopped,
// its installation is served afterwards, and the host shuts down in bounded
// time. Every guest call runs in a goroutine and is awaited with a generous
// failure bound, so that a guest the host fails to stop fails the test
// instead of hanging it.

// failBound is how long a stopped guest may take before the test calls it
// not stopped; a failure bound, not a timing measurement.
const failBound = 30 * time.Second

// callWithin runs op under ctx and fails the test if it has not returned
// within failBound.
func (f *fixture) callWithin(t *testing.T, ctx context.Context, in tenant.Installation, op map[string]any) (result, error) {
	t.Helper()
	type answer struct {
		r   result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := f.probeCtx(ctx, in, op)
		done <- answer{r, err}
	}()
	select {
	case a := <-done:
		return a.r, a.err
	case <-time.After(failBound):
		t.Fatalf("%v did not return within %v: the guest was not stopped", op["op"], failBound)
		return result{}, nil
	}
}

// servesOn asserts that a normal call of the installation still succeeds.
func (f *fixture) servesOn(t *testing.T, in tenant.Installation) {
	t.Helper()
	r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "storage.set", "key": "after", "value": "v"})
	if err != nil || !r.OK {
		t.Fatalf("the installation is not served afterwards: %+v, %v", r, err)
	}
}

// A guest that sleeps (WASI poll_oneoff) or blocks on a channel is stopped at
// its deadline under both mechanisms, and its instance is not kept: more
// such calls than the installation has instances leave it served (issue 22,
// item 1: four sleeping calls exhausted the pool).
func TestHostile_ASleepingOrBlockedGuestIsStoppedAndItsInstanceDiscarded(t *testing.T) {
	for _, mech := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		for _, op := range []string{"sleep", "block"} {
			t.Run(mech.String()+"/"+op, func(t *testing.T) {
				const perKey = 2
				f := newFixture(t, nil, engine.Config{Deadline: mech, MaxPerKey: perKey})
				in := f.install(t, "https://example.atlassian.net")
				for i := range perKey + 2 {
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					_, err := f.callWithin(t, ctx, in, map[string]any{"op": op, "n": 3600})
					cancel()
					if !errors.Is(err, engine.ErrTimeout) {
						t.Fatalf("call %d: %s ended with %v, want a timeout", i, op, err)
					}
				}
				if got := f.host.Engine().Stats().Timeouts.Load(); got != perKey+2 {
					t.Fatalf("timeouts counted %d, want %d", got, perKey+2)
				}
				f.servesOn(t, in)
			})
		}
	}
}

// A guest that reads stdin finds it empty at once: there is nothing to block on.
func TestHostile_StdinIsEmptyAndNeverBlocks(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")
	r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "stdin"})
	if err != nil || !r.OK || r.Value != "0" {
		t.Fatalf("stdin read: %+v, %v; want 0 bytes", r, err)
	}
	f.servesOn(t, in)
}

// A host function that waits on a service that never answers (fetch) ends at
// the call's deadline, and the installation is served afterwards.
func TestHostile_AHostFunctionObeysTheCallDeadline(t *testing.T) {
	for _, mech := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		t.Run(mech.String(), func(t *testing.T) {
			f := newFixture(t, nil, engine.Config{Deadline: mech})
			in := f.install(t, "https://example.atlassian.net")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			r, err := f.callWithin(t, ctx, in, map[string]any{"op": "fetch", "url": "https://api.telegram.org/hang"})
			// The guest may see its fetch end as a timeout and answer, or be
			// stopped itself: either way it ends, and not as a success.
			if err == nil && (r.OK || r.Code != "timeout") {
				t.Fatalf("a fetch past the deadline answered %+v", r)
			}
			f.servesOn(t, in)
		})
	}
}

// Loops and memory beyond the cap are contained, and the installation is
// served afterwards.
func TestHostile_ALoopOrAMemoryHogIsContained(t *testing.T) {
	for _, mech := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		t.Run(mech.String(), func(t *testing.T) {
			f := newFixture(t, nil, engine.Config{Deadline: mech})
			in := f.install(t, "https://example.atlassian.net")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if _, err := f.callWithin(t, ctx, in, map[string]any{"op": "loop"}); !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("loop ended with %v, want a timeout", err)
			}
			f.servesOn(t, in)
			if _, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "hog", "n": 100}); !errors.Is(err, engine.ErrTrap) {
				t.Fatalf("100 MiB against a 64 MiB cap ended with %v, want a trap", err)
			}
			f.servesOn(t, in)
		})
	}
}

// Egress to an undeclared host, or to a declared host on a port the manifest
// does not name, is access-denied and never leaves the host (issue 22,
// item 3: a declared host was reachable on port 8443).
func TestHostile_EgressOutsideTheAllowlistOrItsPortIsDenied(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	in := f.install(t, "https://example.atlassian.net")
	for _, url := range []string{
		"https://evil.example.com/steal",
		"https://api.telegram.org:8443/steal",
		"https://api.telegram.org:444/steal",
	} {
		r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "fetch", "url": url})
		if err != nil || r.OK || r.Code != "access-denied" {
			t.Fatalf("fetch %s: %+v, %v; want access-denied", url, r, err)
		}
	}
	f.seenMu.Lock()
	for _, r := range f.seen {
		if r.URL.Path == "/steal" {
			t.Errorf("a denied request reached %s", r.Host)
		}
	}
	f.seenMu.Unlock()
	if !strings.Contains(f.logs.String(), `"port":8443`) {
		t.Error("the host log does not name the denied port")
	}
	// The declared port still works.
	if r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "fetch", "url": "https://api.telegram.org:443/ok"}); err != nil || !r.OK {
		t.Fatalf("fetch on the declared port: %+v, %v", r, err)
	}
	f.servesOn(t, in)
}

// Shutdown stops a guest that would sleep past the shutdown's own deadline:
// Close returns once its context ends and the call is stopped, instead of
// waiting for the guest (issue 22, item 1: serve hung on SIGTERM for over 70 s).
func TestHostile_ShutdownStopsASleepingGuestInBoundedTime(t *testing.T) {
	for _, mech := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		t.Run(mech.String(), func(t *testing.T) {
			m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
			if err != nil {
				t.Fatal(err)
			}
			// The web trigger's longest deadline, longer than failBound.
			m = bytes.Replace(m, []byte("timeoutSeconds: 25"), []byte("timeoutSeconds: 55"), 1)
			f := newFixture(t, m, engine.Config{Deadline: mech})
			in := f.install(t, "https://example.atlassian.net")
			f.servesOn(t, in)
			calls := f.host.Engine().Stats().Calls.Load()
			slept := make(chan error, 1)
			go func() {
				_, err := f.probeCtx(context.Background(), in, map[string]any{"op": "sleep", "n": 3600})
				slept <- err
			}()
			waitfor.Until(t, failBound, "the condition", waitfor.True(func() bool { return f.host.Engine().Stats().Calls.Load() > calls }))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- f.host.Close(ctx) }()
			select {
			case <-closed:
			case <-time.After(failBound):
				t.Fatalf("Close did not return within %v", failBound)
			}
			select {
			case err := <-slept:
				if err == nil {
					t.Fatal("the sleeping call succeeded")
				}
			case <-time.After(failBound):
				t.Fatal("the sleeping call did not end with the shutdown")
			}
		})
	}
}

// A Jira call outside the manifest's scopes is access-denied with the missing
// scope in the host log and never reaches the site; so is an operation the
// specifications lack, and a path whose dot segments could turn into another
// operation is refused (issue 22, item 2: a bundle declaring only
// read:jira-work created issues).
func TestHostile_AJiraCallOutsideTheDeclaredScopesIsDenied(t *testing.T) {
	f := newFixture(t, nil, engine.Config{}) // the probe declares read:jira-work and read:jira-user
	in := f.install(t, "https://example.atlassian.net")
	for _, c := range []struct {
		name, method, url, code, log string
	}{
		{"write without write:jira-work", "POST", "/rest/api/3/issue", "access-denied", `"missing":"write:jira-work"`},
		{"through the v2 alias", "POST", "/rest/api/2/issue/SUP-1/comment", "access-denied", `"missing":"write:jira-work"`},
		{"JSM without its scope", "POST", "/rest/servicedeskapi/request", "access-denied", `"missing":"write:servicedesk-request"`},
		{"an undocumented operation", "GET", "/rest/agile/1.0/board", "access-denied", "the specifications have no such operation"},
		{"dot segments", "GET", "/rest/api/3/issue/SUP-1/../../../servicedeskapi/request", "invalid-argument", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "jira", "method": c.method, "url": c.url, "value": "{}"})
			if err != nil || r.OK || r.Code != c.code {
				t.Fatalf("%s %s: %+v, %v; want %s", c.method, c.url, r, err, c.code)
			}
			if c.log != "" && !strings.Contains(f.logs.String(), c.log) {
				t.Fatalf("the host log does not say %s", c.log)
			}
		})
	}
	f.seenMu.Lock()
	for _, r := range f.seen {
		if r.Method != "GET" || strings.Contains(r.URL.Path, "servicedeskapi/request") || strings.Contains(r.URL.Path, "agile") {
			t.Errorf("a denied call reached the site: %s %s", r.Method, r.URL.Path)
		}
	}
	f.seenMu.Unlock()
	if strings.Contains(f.logs.String(), "SUP-1") {
		t.Error("the host log holds an issue key")
	}
	// A call inside the scopes goes through.
	if r, err := f.callWithin(t, context.Background(), in, map[string]any{"op": "jira", "method": "GET", "url": "/rest/api/3/issue/SUP-1?fields=status"}); err != nil || !r.OK {
		t.Fatalf("a read with read:jira-work: %+v, %v", r, err)
	}
	f.servesOn(t, in)
}
