package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/chatbridge/chatbridge/host/jirasite"
	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/realtime"
	"github.com/chatbridge/chatbridge/host/receipt"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
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
	// the URLs under it are package publicurl's.
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
	// Limiter paces the module's outbound requests by the bundle's pacing
	// rules (package ratelimit); a cluster node's shares each limit with
	// the other nodes (ratelimit.Config.Nodes). It outlives a bundle
	// reload. Default: one with ratelimit's defaults per loaded bundle.
	Limiter *ratelimit.Limiter
	// ReceiptKey signs the receipt of an uninstall (host/receipt). Default:
	// none, and receipts go unsigned.
	ReceiptKey *receipt.PrivateKey
	// CachedKeys are prefixes of the module's storage keys whose reads may
	// be answered from the store's read cache (capability.Deps.CachedKeys).
	// Default: none.
	CachedKeys []string
}

var (
	// ErrNoBundle is returned before a bundle is loaded.
	ErrNoBundle = errors.New("host: no bundle loaded")
	// ErrNoTrigger is returned for a trigger, queue or function the manifest does not declare.
	ErrNoTrigger = errors.New("host: not declared in the manifest")
	// ErrNoBackup is returned by Backup for a store that cannot take one.
	ErrNoBackup = errors.New("host: the store takes no backups")
)

// Host runs one bundle for many installations.
type Host struct {
	cfg      Config
	log      *slog.Logger
	registry *tenant.Registry
	queue    *queue.Queue
	links    *medialink.Service
	realtime *realtime.Hub
	// refused counts capability calls refused for a limit, for metrics.
	refused capability.Counters
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
	if h.realtime, err = realtime.New(realtime.Config{Store: cfg.Store, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
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
	h.realtime.Forget(id)
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
	ec.InitExport = abi.ExportInit
	ec.HostModules = func(ctx context.Context, r wazero.Runtime) error {
		return capability.Register(ctx, r, capability.Deps{
			Store: h.cfg.Store, Queue: h.queue, Jira: h.registry, Logger: h.log,
			HTTP: h.cfg.HTTP, Limits: h.cfg.Limits, Trace: h.cfg.Trace,
			Links: h.linkMinter(), Uploads: h.uploadLinker(), UploadBytes: b.Manifest.UploadLimit(), Counters: &h.refused, Pacing: pacing, Limiter: h.cfg.Limiter,
			CachedKeys: h.cfg.CachedKeys,
			Realtime:   h.realtime,
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
	rl := b.Manifest.RealtimeLimits()
	h.realtime.SetLimits(realtime.Limits{PayloadBytes: rl.PayloadBytes, OperationsPerSecond: rl.OperationsPerSecond,
		SubscribersPerInstallation: rl.SubscribersPerInstallation, SubscribersPerAddress: rl.SubscribersPerAddress})
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

// uploadLinker is Links as the capability's upload links.
func (h *Host) uploadLinker() capability.UploadLinker {
	if h.links == nil {
		return nil
	}
	return h.links
}

// Realtime returns the hub of the realtime capability: the edge holds its
// subscriptions.
func (h *Host) Realtime() *realtime.Hub { return h.realtime }

// Queue returns the queue behind the queue capability.
func (h *Host) Queue() *queue.Queue { return h.queue }

// QueueView reads the queue of every installation from the store: on a
// cluster, every node's pending messages and dead letters (queue.View).
func (h *Host) QueueView(ctx context.Context) (queue.View, error) {
	return h.queue.View(ctx, h.installationIDs())
}

// Refused counts the module's capability calls refused for a limit, such as
// queue pushes over the payload cap.
func (h *Host) Refused() *capability.Counters { return &h.refused }

// Acquire holds the running bundle for a sequence of invocations that must
// all run on it, such as every trigger of one product event: a Load in
// between does not split them across two bundles. Release it when done.
func (h *Host) Acquire() (*Running, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.app == nil {
		return nil, ErrNoBundle
	}
	h.app.inflight.Add(1)
	return &Running{h: h, app: h.app}, nil
}

// Running is a bundle held by Acquire.
type Running struct {
	h    *Host
	app  *app
	once sync.Once
}

// Manifest is the held bundle's manifest.
func (r *Running) Manifest() *bundle.Manifest { return r.app.bundle.Manifest }

// Release lets a reload close the held bundle once nothing else holds it.
// Calling it again does nothing.
func (r *Running) Release() { r.once.Do(r.app.inflight.Done) }

// Install creates an installation for site, with routes for the running
// bundle's web triggers. It returns the Jira webhook secret once.
//
// The site is called first with the credentials (package jirasite): the app
// account is the one GET /rest/api/3/myself names, and it must see a
// service desk. Credentials Jira refuses, an account that sees no service
// desk, or an AppAccountID other than the credentials' account fail with
// tenant.ErrInvalid and a message saying what to do; a site that does not
// answer fails with jirasite.ErrUnreachable.
//
// A zero site installs an app that uses no Jira (installWithoutSite).
func (h *Host) Install(ctx context.Context, site tenant.Site) (tenant.Installation, string, error) {
	if site.URL == "" && site.Authorization == "" && site.AppAccountID == "" {
		return h.installWithoutSite(ctx)
	}
	if _, err := tenant.CheckSiteURL(site.URL); err != nil {
		return tenant.Installation{}, "", err
	}
	if site.Authorization == "" {
		return tenant.Installation{}, "", fmt.Errorf("%w: Jira authorization is required", tenant.ErrInvalid)
	}
	client := h.cfg.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	acct, err := jirasite.Check(ctx, client, site.URL, site.Authorization)
	switch {
	case errors.Is(err, jirasite.ErrCredentials), errors.Is(err, jirasite.ErrNoServiceDesk):
		return tenant.Installation{}, "", fmt.Errorf("%w: %w", tenant.ErrInvalid, err)
	case err != nil:
		return tenant.Installation{}, "", err
	case site.AppAccountID != "" && site.AppAccountID != acct.ID:
		return tenant.Installation{}, "", fmt.Errorf("%w: the credentials belong to account %s, not %s: give the app account's credentials, or leave the account out",
			tenant.ErrInvalid, acct.ID, site.AppAccountID)
	}
	site.AppAccountID = acct.ID
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

// Uninstall removes an installation and purges all of its data, destroying
// its keys, and returns the receipt of what it destroyed, signed with
// Config.ReceiptKey.
func (h *Host) Uninstall(ctx context.Context, id string) (*receipt.Receipt, error) {
	rep, err := h.registry.Remove(ctx, id)
	if err != nil {
		return nil, err
	}
	h.forget(id)
	h.log.Info("uninstalled", "installation", id, "keysDestroyed", len(rep.Keys), "backupsShredded", rep.Apart)
	body := receipt.FromShredding(rep)
	if h.cfg.ReceiptKey == nil {
		b, err := json.Marshal(body)
		return &receipt.Receipt{Body: b}, err
	}
	return h.cfg.ReceiptKey.Sign(body)
}

// ReceiptKey returns the public key that verifies the host's receipts; nil
// when Config.ReceiptKey is not set.
func (h *Host) ReceiptKey() *receipt.PublicKey {
	if h.cfg.ReceiptKey == nil {
		return nil
	}
	return h.cfg.ReceiptKey.Public()
}

// Backup writes a consistent, still sealed snapshot of the records (not of
// the keys, which a store with a key store keeps apart) to w; ErrNoBackup
// when the store cannot.
func (h *Host) Backup(ctx context.Context, w io.Writer) error {
	b, ok := h.cfg.Store.(interface {
		Backup(context.Context, io.Writer) error
	})
	if !ok {
		return ErrNoBackup
	}
	return b.Backup(ctx, w)
}

// PublicURL is the edge's public URL, without a trailing slash.
func (h *Host) PublicURL() string { return h.cfg.PublicURL }

func newInvocationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Invocation is one call into the module: which installation, which kind
// of module (its deadline is the manifest's for that kind), which export,
// and the input Encode builds around the call's context.
type Invocation struct {
	Installation string
	Kind         bundle.Kind
	// Export is the guest function, one of abi's Export names.
	Export string
	// Op names the invocation in traces, e.g. "webtrigger telegram".
	Op     string
	Encode func(abi.Context) []byte
}

// Invoke runs inv on the running bundle and returns the module's output.
// A module's error code comes back as an abi.Code.
func (h *Host) Invoke(ctx context.Context, inv Invocation) ([]byte, error) {
	r, err := h.Acquire()
	if err != nil {
		return nil, err
	}
	defer r.Release()
	return r.Invoke(ctx, inv)
}

// Invoke runs inv on the held bundle; see Host.Invoke.
func (r *Running) Invoke(ctx context.Context, inv Invocation) (out []byte, err error) {
	h, a := r.h, r.app
	in, ok := h.registry.Get(inv.Installation)
	if !ok {
		return nil, fmt.Errorf("%w: %q", tenant.ErrNotFound, inv.Installation)
	}
	ctx, cancel := context.WithTimeout(ctx, a.bundle.Manifest.Timeout(inv.Kind))
	defer cancel()
	invID := newInvocationID()
	actx := abi.Context{Installation: in.ID, SiteURL: in.SiteURL, AppAccountID: in.AppAccountID, InvocationID: invID}
	for _, w := range a.bundle.Manifest.Modules.WebTrigger {
		actx.WebTriggers = append(actx.WebTriggers, abi.Header{Name: w.Key, Value: publicurl.WebTrigger(h.cfg.PublicURL, in.Routes[w.Key])})
	}
	input := inv.Encode(actx)
	call := &capability.Call{
		Installation: in.ID, InvocationID: invID, Input: input,
		Log: h.log.With("installation", in.ID, "invocation", invID),
	}
	start := time.Now()
	if h.cfg.Trace != nil {
		defer func() {
			ev := capability.Event{Time: start, Installation: in.ID, Invocation: invID, Kind: "invocation", Op: inv.Op, Outcome: "ok", Duration: time.Since(start)}
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
	res, err := a.engine.Call(capability.WithCall(ctx, call), in.ID, inv.Export, uint64(len(input)))
	if err != nil {
		call.Log.Warn("invocation failed", "export", inv.Export, "duration", time.Since(start), "err", err.Error())
		return nil, err
	}
	if code := abi.Code(res); code != abi.OK {
		call.Log.Info("invocation returned an error code", "export", inv.Export, "code", code.String())
		return nil, code
	}
	call.Log.Debug("invocation", "export", inv.Export, "duration", time.Since(start))
	return call.Output, nil
}

// consume is the queue's consumer: it invokes the module's handle-queue.
func (h *Host) consume(ctx context.Context, m queue.Message) (time.Duration, error) {
	out, err := h.Invoke(ctx, Invocation{
		Installation: m.Installation, Kind: bundle.KindConsumer, Export: abi.ExportHandleQueue,
		Op: fmt.Sprintf("queue %s #%d", m.Queue, m.Attempt),
		Encode: func(c abi.Context) []byte {
			qm := abi.QueueMessage{Context: c, Queue: m.Queue, ID: m.ID, Attempt: uint32(m.Attempt), MaxAttempts: uint32(m.MaxAttempts), Payload: m.Payload}
			return qm.Append(nil)
		},
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

// Ready reports nil when a bundle is loaded.
func (h *Host) Ready(context.Context) error {
	if h.Bundle() == nil {
		return ErrNoBundle
	}
	return nil
}

// Close stops the queue and the engine, waiting for calls in flight until
// ctx ends and then stopping them. The store is the caller's to close.
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
	// Calls in flight finish by their own deadlines; when ctx ends first,
	// closing the engine stops the rest as if their deadlines had passed.
	drained := make(chan struct{})
	go func() {
		a.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		h.log.Warn("shutdown: stopping invocations still running")
	}
	// Stopped calls return promptly (every blocking point obeys the call's
	// context); the bound only guards against a host bug.
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.engine.Close(stopCtx)
	<-drained
	return err
}

// Logger is the host's logger, for the ways in.
func (h *Host) Logger() *slog.Logger { return h.log }
