package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/fuel"
	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Config configures a Host. Store and Trust are required.
type Config struct {
	Store storage.Store
	Trust *bundle.Trust
	// Engine tunes the sandbox; its MemoryLimitPages is taken from the manifest.
	Engine engine.Config
	// HTTP makes the module's outbound requests. Default: 30 s timeout, no redirects.
	HTTP *http.Client
	// Logger receives structured logs; never message text or secrets. Default slog.Default().
	Logger *slog.Logger
	// PublicURL is where the proxy is reached, e.g. https://bridge.example.com;
	// web trigger URLs are PublicURL + "/x/" + route id.
	PublicURL string
	Limits    capability.Limits
	Queue     queue.Config
	// Claims, when set, makes the host one node of a cluster of hosts that
	// share Store: each queue lane is consumed by the node that claims it
	// (queue.Cluster), and the installations are read again every
	// RegistryRefresh, since other nodes install and uninstall too.
	Claims queue.Claims
	// RegistryRefresh is how often a cluster node reads the installations
	// again. Default 2 s.
	RegistryRefresh time.Duration
	// Trace, when set, receives every invocation and capability call (see
	// capability.Event: storage keys and queue names, never values). For
	// development tools; it must not block. Default: none.
	Trace func(capability.Event)
}

var (
	// ErrNoBundle is returned before a bundle is loaded.
	ErrNoBundle = errors.New("host: no bundle loaded")
	// ErrNoTrigger is returned for a trigger, queue or function the manifest does not declare.
	ErrNoTrigger = errors.New("host: not declared in the manifest")
	// ErrBadSignature is returned for a Jira webhook whose signature does not verify.
	ErrBadSignature = errors.New("host: webhook signature does not verify")
)

// Host runs one bundle for many installations.
type Host struct {
	cfg      Config
	log      *slog.Logger
	registry *tenant.Registry
	queue    *queue.Queue
	links    *medialink.Service
	// stop ends the registry refresh of a cluster node; refreshed is closed when it has.
	stop      context.CancelFunc
	refreshed chan struct{}

	// mu guards app.
	mu  sync.RWMutex
	app *app
}

// app is one loaded bundle and its engine.
type app struct {
	bundle   *bundle.Bundle
	engine   *engine.Engine
	inflight sync.WaitGroup
}

// New opens the installation registry and starts the queue. Load a bundle
// before invoking anything.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Store == nil || cfg.Trust == nil {
		return nil, errors.New("host: Config.Store and Config.Trust are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	reg, err := tenant.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, log: cfg.Logger, registry: reg}
	if cfg.PublicURL != "" {
		lc := medialink.Config{Store: cfg.Store, Sites: reg, PublicURL: cfg.PublicURL, HTTP: cfg.HTTP, Logger: cfg.Logger}
		if cfg.Claims != nil {
			lc.Claims = cfg.Claims // single-use across the cluster's hosts
		}
		h.links, err = medialink.New(lc)
		if err != nil {
			return nil, err
		}
	}
	qc := cfg.Queue
	if cfg.Claims != nil {
		qc.Cluster = &queue.Cluster{Claims: cfg.Claims, Installations: h.installationIDs}
	}
	// The queue resumes its stored messages once a bundle is loaded.
	h.queue, err = queue.Open(ctx, cfg.Store, h.installationIDs(), qc, h.consume, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if cfg.Claims != nil {
		every := cfg.RegistryRefresh
		if every <= 0 {
			every = 2 * time.Second
		}
		rctx, stop := context.WithCancel(context.Background())
		h.stop, h.refreshed = stop, make(chan struct{})
		go h.refreshRegistry(rctx, every)
	}
	return h, nil
}

func (h *Host) installationIDs() []string {
	var ids []string
	for _, in := range h.registry.List() {
		ids = append(ids, in.ID)
	}
	return ids
}

// refreshRegistry reads the installations again every so often, and
// forgets those another node uninstalled.
func (h *Host) refreshRegistry(ctx context.Context, every time.Duration) {
	defer close(h.refreshed)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		removed, err := h.registry.Refresh(ctx)
		if err != nil {
			h.log.Warn("installations not refreshed", "err", err)
			continue
		}
		for _, id := range removed {
			h.forget(id)
			h.log.Info("uninstalled on another node", "installation", id)
		}
	}
}

// forget drops what the host keeps in memory of an uninstalled installation.
func (h *Host) forget(id string) {
	h.queue.Forget(id)
	if eng := h.Engine(); eng != nil {
		eng.Drop(id)
	}
}

// policy adapts the manifest to what the capabilities ask.
type policy struct{ *bundle.Manifest }

func (p policy) HasQueue(q string) bool {
	for _, c := range p.Modules.Consumer {
		if c.Queue == q {
			return true
		}
	}
	return false
}

// Load verifies the bundle in dir against the trust set, compiles it, checks
// its imports against its manifest, and makes it the running bundle.
func (h *Host) Load(ctx context.Context, dir string) error {
	b, err := bundle.Open(dir, h.cfg.Trust)
	if err != nil {
		return err
	}
	p := policy{b.Manifest}
	pacing, err := b.Manifest.Pacing()
	if err != nil {
		return fmt.Errorf("host: load %s: %w", b.Manifest.App.ID, err)
	}
	ec := h.cfg.Engine
	ec.MemoryLimitPages = b.Manifest.MemoryPages()
	ec.HostModules = func(ctx context.Context, r wazero.Runtime) error {
		return capability.Register(ctx, r, capability.Deps{
			Store: h.cfg.Store, Queue: h.queue, Jira: h.registry, Logger: h.log,
			HTTP: h.cfg.HTTP, Limits: h.cfg.Limits, Trace: h.cfg.Trace,
			Links: h.linkMinter(), Pacing: pacing,
		}, p)
	}
	eng, err := engine.New(ctx, b.Module, ec)
	if err != nil {
		return fmt.Errorf("host: load %s: %w", b.Manifest.App.ID, err)
	}
	if err := capability.CheckImports(eng.Imports(), p, wasi_snapshot_preview1.ModuleName, fuel.ImportModule); err != nil {
		_ = eng.Close(ctx)
		return fmt.Errorf("host: load %s: %w", b.Manifest.App.ID, err)
	}
	var keys []string
	for _, w := range b.Manifest.Modules.WebTrigger {
		keys = append(keys, w.Key)
	}
	if err := h.registry.EnsureRoutes(ctx, keys); err != nil {
		_ = eng.Close(ctx)
		return err
	}
	h.mu.Lock()
	old := h.app
	h.app = &app{bundle: b, engine: eng}
	h.mu.Unlock()
	h.queue.Start()
	h.log.Info("bundle loaded", "app", b.Manifest.App.ID, "module_sha256", b.ModuleSHA256, "signer", b.Signer, "deadline", ec.Deadline.String())
	if old != nil {
		go func() {
			old.inflight.Wait()
			_ = old.engine.Close(context.Background())
		}()
	}
	return nil
}

// Bundle returns the running bundle, or nil.
func (h *Host) Bundle() *bundle.Bundle {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.app == nil {
		return nil
	}
	return h.app.bundle
}

// Engine returns the running engine, or nil; for metrics and benchmarks.
func (h *Host) Engine() *engine.Engine {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.app == nil {
		return nil
	}
	return h.app.engine
}

// Registry returns the installations.
func (h *Host) Registry() *tenant.Registry { return h.registry }

// Links returns the download links of jira.attachment-link, or nil when
// Config.PublicURL is empty.
func (h *Host) Links() *medialink.Service { return h.links }

// linkMinter is Links as the capability takes it: a nil interface, not a
// nil pointer, when there are no links.
func (h *Host) linkMinter() capability.LinkMinter {
	if h.links == nil {
		return nil
	}
	return h.links
}

// Queue returns the queue behind the queue capability.
func (h *Host) Queue() *queue.Queue { return h.queue }

func (h *Host) acquire() (*app, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.app == nil {
		return nil, ErrNoBundle
	}
	h.app.inflight.Add(1)
	return h.app, nil
}

// Install creates an installation for site, with routes for the running
// bundle's web triggers. It returns the Jira webhook secret once.
func (h *Host) Install(ctx context.Context, site tenant.Site) (tenant.Installation, string, error) {
	var keys []string
	if b := h.Bundle(); b != nil {
		for _, w := range b.Manifest.Modules.WebTrigger {
			keys = append(keys, w.Key)
		}
	}
	in, secret, err := h.registry.Create(ctx, site, keys)
	if err != nil {
		return tenant.Installation{}, "", err
	}
	h.log.Info("installed", "installation", in.ID)
	return *in, secret, nil
}

// Uninstall removes an installation and purges all of its data.
func (h *Host) Uninstall(ctx context.Context, id string) error {
	if err := h.registry.Remove(ctx, id); err != nil {
		return err
	}
	h.forget(id)
	h.log.Info("uninstalled", "installation", id)
	return nil
}

// URL returns the public URL of a route id.
func (h *Host) URL(routeID string) string { return h.cfg.PublicURL + "/x/" + routeID }

// JiraURL returns the public URL Jira's webhooks for an installation go to.
func (h *Host) JiraURL(in tenant.Installation) string {
	return h.cfg.PublicURL + "/jira/" + in.Routes[tenant.JiraEventsRoute]
}

func newInvocationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// invoke runs export for an installation with the input encode builds
// around the call's context, under the manifest's deadline for kind.
func (h *Host) invoke(ctx context.Context, id string, kind bundle.Kind, export, op string, encode func(abi.Context) []byte) (out []byte, err error) {
	a, err := h.acquire()
	if err != nil {
		return nil, err
	}
	defer a.inflight.Done()
	in, ok := h.registry.Get(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", tenant.ErrNotFound, id)
	}
	ctx, cancel := context.WithTimeout(ctx, a.bundle.Manifest.Timeout(kind))
	defer cancel()
	invID := newInvocationID()
	actx := abi.Context{Installation: in.ID, SiteURL: in.SiteURL, AppAccountID: in.AppAccountID, InvocationID: invID}
	for _, w := range a.bundle.Manifest.Modules.WebTrigger {
		actx.WebTriggers = append(actx.WebTriggers, abi.Header{Name: w.Key, Value: h.URL(in.Routes[w.Key])})
	}
	input := encode(actx)
	call := &capability.Call{
		Installation: in.ID, InvocationID: invID, Input: input,
		Log: h.log.With("installation", in.ID, "invocation", invID),
	}
	start := time.Now()
	if h.cfg.Trace != nil {
		defer func() {
			ev := capability.Event{Time: start, Installation: in.ID, Invocation: invID, Kind: "invocation", Op: op, Outcome: "ok", Duration: time.Since(start)}
			var code abi.Code
			switch {
			case errors.As(err, &code):
				ev.Outcome = code.String()
			case err != nil:
				ev.Outcome = "failed"
			}
			h.cfg.Trace(ev)
		}()
	}
	res, err := a.engine.Call(capability.WithCall(ctx, call), in.ID, export, uint64(len(input)))
	if err != nil {
		call.Log.Warn("invocation failed", "export", export, "duration", time.Since(start), "err", err.Error())
		return nil, err
	}
	if code := abi.Code(res); code != abi.OK {
		call.Log.Info("invocation returned an error code", "export", export, "code", code.String())
		return nil, code
	}
	call.Log.Debug("invocation", "export", export, "duration", time.Since(start))
	return call.Output, nil
}

// WebTrigger invokes a web trigger of an installation with a Forge request.
func (h *Host) WebTrigger(ctx context.Context, id, trigger string, req *abi.WebTriggerRequest) (*abi.Response, error) {
	out, err := h.invoke(ctx, id, bundle.KindWebTrigger, abi.ExportHandleWebTrigger, "webtrigger "+trigger, func(c abi.Context) []byte {
		req.Context, req.Trigger = c, trigger
		return req.Append(nil)
	})
	if err != nil {
		return nil, err
	}
	var resp abi.Response
	if err := resp.Decode(out); err != nil {
		return nil, fmt.Errorf("host: web trigger answer: %w", err)
	}
	return &resp, nil
}

// Event delivers a product event to every trigger that subscribes to its type.
func (h *Host) Event(ctx context.Context, id, eventType string, payload []byte) error {
	a, err := h.acquire()
	if err != nil {
		return err
	}
	triggers := a.bundle.Manifest.Modules.Trigger
	a.inflight.Done()
	delivered := false
	for _, t := range triggers {
		if !contains(t.Events, eventType) {
			continue
		}
		delivered = true
		if t.Filter.IgnoreSelf {
			if in, ok := h.registry.Get(id); ok && causedBy(payload, in.AppAccountID) {
				// Forge's filter.ignoreSelf: the app's own comments come back
				// as events; dropping them here saves an invocation each.
				continue
			}
		}
		if _, err := h.invoke(ctx, id, bundle.KindTrigger, abi.ExportHandleEvent, "trigger "+eventType, func(c abi.Context) []byte {
			ev := abi.Event{Context: c, Trigger: t.Key, Type: eventType, Payload: payload}
			return ev.Append(nil)
		}); err != nil {
			return err
		}
	}
	if !delivered {
		return fmt.Errorf("%w: no trigger for %s", ErrNoTrigger, eventType)
	}
	return nil
}

// consume is the queue's consumer: it invokes the module's handle-queue.
func (h *Host) consume(ctx context.Context, m queue.Message) (time.Duration, error) {
	out, err := h.invoke(ctx, m.Installation, bundle.KindConsumer, abi.ExportHandleQueue, fmt.Sprintf("queue %s #%d", m.Queue, m.Attempt), func(c abi.Context) []byte {
		qm := abi.QueueMessage{Context: c, Queue: m.Queue, ID: m.ID, Attempt: uint32(m.Attempt), MaxAttempts: uint32(m.MaxAttempts), Payload: m.Payload}
		return qm.Append(nil)
	})
	if errors.Is(err, tenant.ErrNotFound) {
		// Not in this host's memory. Dropped only once the store confirms
		// the uninstall: on a cluster, memory lags the other nodes by up to
		// a registry refresh, and a message must not be lost to that lag.
		stored, serr := h.registry.Stored(ctx, m.Installation)
		switch {
		case serr != nil:
			return 0, serr
		case stored:
			return 0, fmt.Errorf("host: installation %q not loaded on this node yet: %w", m.Installation, err)
		}
		return 0, nil // uninstalled: nobody is left to deliver to
	}
	if err != nil {
		return 0, err
	}
	var r abi.QueueResult
	if err := r.Decode(out); err != nil {
		return 0, err
	}
	return time.Duration(r.RetryAfterSeconds) * time.Second, nil
}

// Scheduled fires a scheduled trigger for an installation.
func (h *Host) Scheduled(ctx context.Context, id, trigger string) error {
	_, err := h.invoke(ctx, id, bundle.KindScheduledTrigger, abi.ExportHandleScheduled, "scheduled "+trigger, func(c abi.Context) []byte {
		sc := abi.ScheduledCall{Context: c, Trigger: trigger}
		return sc.Append(nil)
	})
	return err
}

// Resolve calls an admin resolver function of the module.
func (h *Host) Resolve(ctx context.Context, id, function string, payload []byte) ([]byte, error) {
	return h.invoke(ctx, id, bundle.KindFunction, abi.ExportHandleResolver, "resolver "+function, func(c abi.Context) []byte {
		rc := abi.ResolverCall{Context: c, Function: function, Payload: payload}
		return rc.Append(nil)
	})
}

// Ready reports nil when a bundle is loaded.
func (h *Host) Ready(context.Context) error {
	if h.Bundle() == nil {
		return ErrNoBundle
	}
	return nil
}

// Close stops the queue and the engine. The store is the caller's to close.
func (h *Host) Close(ctx context.Context) error {
	if h.stop != nil {
		h.stop()
		<-h.refreshed
	}
	h.queue.Close()
	h.mu.Lock()
	a := h.app
	h.app = nil
	h.mu.Unlock()
	if a == nil {
		return nil
	}
	a.inflight.Wait()
	return a.engine.Close(ctx)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
