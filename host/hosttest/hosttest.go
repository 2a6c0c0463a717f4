package hosttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/host/trigger/schedule"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// BuildFlags are the go build flags of a plugin's module, those of
// `chatbridge bundle build` (GOOS=wasip1 GOARCH=wasm).
var BuildFlags = []string{"-buildmode=c-shared", "-trimpath", "-ldflags=-buildid="}

// Options tunes Start. The zero value is an in-memory store, no outbound
// network and an installation without a Jira site.
type Options struct {
	// Store is the host's store. Default: memstore.New().
	Store storage.Store
	// HTTP makes the module's fetch and jira calls (after the manifest's
	// checks). Default: a client whose every request fails, so a test never
	// reaches the internet by accident.
	HTTP *http.Client
	// Site is the installation's Jira site; an app that uses Jira needs one
	// (and HTTP must answer the site checks an install makes).
	Site tenant.Site
	// Logger receives the host's logs. Default: the test's log (tb.Log).
	Logger *slog.Logger
}

// Plugin is a plugin running in a real host with one installation.
type Plugin struct {
	// Host is the running host, for what the methods below do not cover.
	Host *host.Host
	// Installation is the one installation Start made.
	Installation tenant.Installation
	// Bundle is the signed bundle folder Start built.
	Bundle string

	tb testing.TB
}

// Start builds the plugin in dir (its main package and manifest.yml), signs
// it with a throwaway key, starts a host with it and installs it once. The
// host is closed when the test ends. It fails the test on any error, with
// the build's or the host's message.
func Start(tb testing.TB, dir string, opts Options) *Plugin {
	tb.Helper()
	bundleDir, trust := Build(tb, dir)
	h := NewHost(tb, trust, opts)
	ctx := context.Background()
	if err := h.Load(ctx, bundleDir); err != nil {
		tb.Fatalf("hosttest: the host refuses the plugin: %v", err)
	}
	in, _, err := h.Install(ctx, opts.Site)
	if err != nil {
		tb.Fatalf("hosttest: install: %v", err)
	}
	return &Plugin{Host: h, Installation: in, Bundle: bundleDir, tb: tb}
}

// NewHost starts a host that trusts trust, with no bundle loaded, closed
// when the test ends: for a test that loads a bundle itself (to see it
// refused, say).
func NewHost(tb testing.TB, trust *bundle.Trust, opts Options) *host.Host {
	tb.Helper()
	if opts.Store == nil {
		opts.Store = memstore.New()
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Transport: noNetwork{}}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := host.New(context.Background(), host.Config{
		Store: opts.Store, Trust: trust, HTTP: opts.HTTP, Logger: opts.Logger,
		PublicURL: "https://plugin.test",
	})
	if err != nil {
		tb.Fatalf("hosttest: start the host: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			tb.Errorf("hosttest: close the host: %v", err)
		}
	})
	return h
}

// Build builds the plugin in dir into a bundle folder under tb.TempDir()
// (plugin.wasm and a copy of manifest.yml), signs it with a new key and
// returns the folder and a trust that holds only that key.
func Build(tb testing.TB, dir string) (string, *bundle.Trust) {
	tb.Helper()
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.yml"))
	if err != nil {
		tb.Fatalf("hosttest: %v (give the folder of the plugin's main package and manifest.yml)", err)
	}
	if _, err := bundle.ParseManifest(manifest); err != nil {
		tb.Fatalf("hosttest: %s: %v", filepath.Join(dir, "manifest.yml"), err)
	}
	out := filepath.Join(tb.TempDir(), "bundle")
	if err := os.MkdirAll(out, 0o755); err != nil {
		tb.Fatal(err)
	}
	args := append(append([]string{"build"}, BuildFlags...), "-o", filepath.Join(out, "plugin.wasm"), ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("hosttest: go build in %s: %v\n%s", dir, err, bytes.TrimSpace(msg))
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.yml"), manifest, 0o644); err != nil {
		tb.Fatal(err)
	}
	key, err := bundle.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if err := bundle.Sign(out, key); err != nil {
		tb.Fatalf("hosttest: sign: %v", err)
	}
	return out, bundle.NewTrust([]*bundle.PublicKey{key.Public()}, nil)
}

// WebTrigger calls the web trigger key with a request (method, path and
// body; Trigger and Context are filled in) and returns the module's answer.
// A module's error code comes back as an abi.Code; a key the manifest does
// not declare is host.ErrNoTrigger (the edge has no URL for it).
func (p *Plugin) WebTrigger(key string, req *abi.WebTriggerRequest) (*abi.Response, error) {
	declared := false
	for _, w := range p.Host.Bundle().Manifest.Modules.WebTrigger {
		declared = declared || w.Key == key
	}
	if !declared {
		return nil, fmt.Errorf("%w: web trigger %q", host.ErrNoTrigger, key)
	}
	return webtrigger.Invoke(context.Background(), p.Host, p.Installation.ID, key, req)
}

// Fire runs the scheduled trigger key now, as its interval would.
func (p *Plugin) Fire(key string) error {
	return schedule.ForHost(p.Host).Scheduled(context.Background(), p.Installation.ID, key)
}

// Call calls the function module key with payload, as an administrator's
// resolver call does, and returns its answer.
func (p *Plugin) Call(key string, payload []byte) ([]byte, error) {
	return resolver.Call(context.Background(), p.Host, p.Installation.ID, key, payload)
}

// Push puts payload on the installation's queue (one lane per orderKey);
// the host delivers it to the queue's consumer. Settle waits for it.
func (p *Plugin) Push(queue, orderKey string, payload []byte) error {
	consumed := false
	for _, c := range p.Host.Bundle().Manifest.Modules.Consumer {
		consumed = consumed || c.Queue == queue
	}
	if !consumed {
		return fmt.Errorf("hosttest: no consumer of queue %q in the manifest", queue)
	}
	return p.Host.Queue().Push(context.Background(), p.Installation.ID, queue, orderKey, payload, 0)
}

// Settle waits until the queue holds nothing pending (every message pushed
// by the test or the module delivered, or dead-lettered after its
// attempts), then fails the test if a message was dead-lettered.
func (p *Plugin) Settle() {
	p.tb.Helper()
	q := p.Host.Queue()
	waitfor.Until(p.tb, waitfor.Bound, "the queue to settle", func() string {
		if n := q.Pending(); n != 0 {
			return fmt.Sprintf("%d messages pending", n)
		}
		return ""
	})
	if dead := q.DeadLetters(); len(dead) != 0 {
		p.tb.Fatalf("hosttest: %d queue messages dead-lettered: %+v", len(dead), dead)
	}
}

// noNetwork fails every request: a test names the client it wants.
type noNetwork struct{}

func (noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("hosttest: no network for %s (give Options.HTTP)", r.URL.Host)
}

// tbWriter writes the host's log lines to the test's log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var _ io.Writer = tbWriter{}
