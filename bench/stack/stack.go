package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	emustack "github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/node"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/proxy"
)

// Mode selects how the bridge runs.
type Mode uint8

const (
	// Wasm runs the signed bundle in the host (production).
	Wasm Mode = iota
	// InProcess runs the same plugin code compiled into this process.
	InProcess
)

// String names the mode.
func (m Mode) String() string {
	if m == InProcess {
		return "native"
	}
	return "wasm"
}

// Site is the simulated Jira site every installation is on.
const Site = emustack.Site

// Project is the service project each installation configures.
const Project = emustack.Project

// Config configures a Stack. Dir is required; so are Module and Manifest in
// Wasm mode.
type Config struct {
	// Dir holds the data file, dev keys, certificate and bundle.
	Dir  string
	Mode Mode
	// Module is the bridge plugin built for wasip1; Manifest is plugin/manifest.yml.
	Module, Manifest []byte
	// Engine tunes the sandbox in Wasm mode. Default: production (fuel),
	// with the compilation cache under Dir/cache.
	Engine engine.Config
	// Store is the Wasm mode's storage backend. Default: BuntDB in Dir.
	Store node.Store
}

// Installation is one configured installation: where Telegram posts its
// updates and the secret token it sends with them.
type Installation struct {
	ID          string
	WebhookURL  string
	SecretToken string
}

// Stack is a running bridge behind the HTTPS edge, on loopback.
type Stack struct {
	// Installs are the configured installations (one: the simulated Jira
	// site can be installed once).
	Installs []Installation
	// Client trusts the edge's certificate; keep-alive, many connections.
	Client    *http.Client
	PublicURL string

	mode Mode
	// emu is the Wasm mode's stack: the emulator's, as `chatbridge dev`
	// starts it, without the console.
	emu *emustack.Stack
	// The InProcess mode's parts: there is no host to start a node
	// around, so the edge serves the plugin compiled into this process.
	native  *Native
	store   *seal.Store
	edge    *proxy.Server
	sims    *emustack.Local
	control http.Handler
}

// discard is the logger of measured stacks: logging is not what is measured.
var discard = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))

// limits are the edge's production limits, except the per-route and
// per-installation rate limits (20/s and 100/s), which would measure the
// limiter instead, and the connections per address.
var limits = node.EdgeLimits{RouteRate: 1e9, RouteBurst: 1 << 30, InstallationRate: 1e9, InstallationBurst: 1 << 30,
	// Row 12 holds 1,000 realtime subscriptions from loopback; the other
	// rows open at most 100 connections, below the production cap of 128.
	ConnsPerIP: 4096}

// Start starts a stack; Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Stack{mode: cfg.Mode}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var certFile string
	switch cfg.Mode {
	case Wasm:
		certFile, err = s.startWasm(ctx, cfg)
	case InProcess:
		certFile, err = s.startNative(ctx, cfg)
	default:
		err = fmt.Errorf("stack: unknown mode %d", cfg.Mode)
	}
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("stack: dev certificate has no PEM block")
	}
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConns: 100, MaxIdleConnsPerHost: 100,
		// Telegram opens at most 100 connections per webhook; the edge
		// closes any beyond 128 from one address.
		MaxConnsPerHost: 100,
	}}
	in, err := s.installAndConfigure(ctx)
	if err != nil {
		return nil, err
	}
	s.Installs = []Installation{in}
	return s, nil
}

// startWasm starts the emulator's stack (emulator/stack) with the signed
// bundle, and returns the edge's certificate file.
func (s *Stack) startWasm(ctx context.Context, cfg Config) (string, error) {
	dir := filepath.Join(cfg.Dir, "bundle")
	if err := writeBundle(dir, cfg.Manifest, cfg.Module); err != nil {
		return "", err
	}
	nc := node.Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: cfg.Dir, BundleDir: dir,
		CacheDir: cfg.Engine.CacheDir, Deadline: cfg.Engine.Deadline, InstancesPerInstallation: cfg.Engine.MaxPerKey,
		Queue: queueConfig, Edge: limits, Logger: discard, Store: cfg.Store,
	}
	emu, err := emustack.Start(ctx, emustack.Config{Node: nc, NoConsole: true})
	if err != nil {
		return "", err
	}
	s.emu, s.PublicURL, s.control = emu, emu.Node.PublicURL, emu.Sims.Control()
	return filepath.Join(emu.DevDir, "dev-cert.pem"), nil
}

// startNative starts the simulators, the store and the edge around the
// plugin compiled into this process, and returns the edge's certificate
// file.
func (s *Stack) startNative(ctx context.Context, cfg Config) (string, error) {
	certFile, keyFile, err := proxy.DevCertificate(filepath.Join(cfg.Dir, "dev"))
	if err != nil {
		return "", err
	}
	if s.sims, err = emustack.StartSimulators(certFile); err != nil {
		return "", err
	}
	s.control = s.sims.Control()
	if s.store, err = node.OpenStore(ctx, cfg.Dir, "", true, node.Store{}); err != nil {
		return "", err
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.PublicURL = "https://" + pub.Addr().String()
	m, err := bundle.ParseManifest(cfg.Manifest)
	if err != nil {
		pub.Close()
		return "", err
	}
	if s.native, err = NewNative(ctx, s.store, s.sims.Egress(), m, s.PublicURL); err != nil {
		pub.Close()
		return "", err
	}
	ec := node.Config{CertFile: certFile, KeyFile: keyFile, Edge: limits}.EdgeConfig(nil, "")
	ec.DisableSIGHUPReload, ec.Admin = true, proxy.AdminConfig{Disabled: true}
	if s.edge, err = proxy.New(ec, s.native, discard); err != nil {
		pub.Close()
		return "", err
	}
	go func() { _ = s.edge.Serve(pub) }()
	return certFile, nil
}

// writeBundle writes manifest and module to dir.
func writeBundle(dir string, manifest, module []byte) error {
	if len(manifest) == 0 || len(module) == 0 {
		return errors.New("stack: a bundle needs a module and a manifest")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), manifest, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "plugin.wasm"), module, 0o644)
}

// SignedBundle writes manifest and module to dir, signs them with a fresh
// vendor key and returns the trust that accepts the bundle.
func SignedBundle(dir string, manifest, module []byte) (*bundle.Trust, error) {
	if err := writeBundle(dir, manifest, module); err != nil {
		return nil, err
	}
	key, err := bundle.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := bundle.Sign(dir, key); err != nil {
		return nil, err
	}
	return bundle.NewTrust([]*bundle.PublicKey{key.Public()}, nil), nil
}

// installAndConfigure installs the simulated site and configures project SUP
// through the bridge's own config.set resolver, which registers the Telegram
// webhook with the simulator; the simulator then says where and with which
// secret token it would deliver.
func (s *Stack) installAndConfigure(ctx context.Context) (Installation, error) {
	site := tenant.Site{URL: Site, AppAccountID: "chatbridge-bench-app", Authorization: jira.DefaultAuthorization}
	var id string
	if s.emu != nil {
		// The emulator installed the site and configured the project.
		id = s.emu.Installation.ID
	} else {
		in, err := s.native.Install(ctx, site)
		if err != nil {
			return Installation{}, err
		}
		id = in.ID
		payload, _ := json.Marshal(map[string]any{
			"projectKey": Project, "enabled": true, "channel": "telegram",
			"botToken": telegram.DefaultToken, "serviceDeskId": "1", "requestTypeId": "10",
		})
		out, err := s.native.Resolve(ctx, id, "config.set", payload)
		if err != nil {
			return Installation{}, fmt.Errorf("stack: configure: %w", err)
		}
		var answer struct {
			OK bool `json:"ok"`
		}
		if err := json.Unmarshal(out, &answer); err != nil || !answer.OK {
			return Installation{}, fmt.Errorf("stack: configure: %s", out)
		}
	}
	var hook struct {
		URL         string `json:"url"`
		SecretToken string `json:"secret_token"`
	}
	if err := s.controlJSON("GET", "/_sim/telegram/webhook", &hook); err != nil {
		return Installation{}, err
	}
	if hook.URL == "" || hook.SecretToken == "" {
		return Installation{}, errors.New("stack: no Telegram webhook registered")
	}
	return Installation{ID: id, WebhookURL: hook.URL, SecretToken: hook.SecretToken}, nil
}

// controlJSON calls the simulators' control API in process.
func (s *Stack) controlJSON(method, path string, out any) error {
	rec := httptest.NewRecorder()
	s.control.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("stack: %s %s: status %d", method, path, rec.Code)
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// Control calls the simulators' control API in process: method on path
// with body encoded as JSON (nil: none), the answer decoded into out (nil:
// ignored).
func (s *Stack) Control(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	s.control.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		return fmt.Errorf("stack: %s %s: status %d: %s", method, path, rec.Code, rec.Body.Bytes())
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// Counts are the calls the host made of its sealed store so far (Wasm
// mode; zero in Native mode).
func (s *Stack) Counts() storage.CountSnapshot {
	if s.emu == nil {
		return storage.CountSnapshot{}
	}
	return s.emu.Node.Store.Counts()
}

// CacheStats is the etcd read cache's counts (zero on BuntDB).
func (s *Stack) CacheStats() etcd.CacheStats {
	if s.emu == nil {
		return etcd.CacheStats{}
	}
	if db, ok := s.emu.Node.Store.Backend().(*etcd.DB); ok {
		return db.CacheStats()
	}
	return etcd.CacheStats{}
}

// JiraTotals counts the requests and comments the Jira simulator holds.
func (s *Stack) JiraTotals() (requests, comments int, err error) {
	var list []struct {
		Comments []json.RawMessage `json:"comments"`
	}
	if err := s.controlJSON("GET", "/_sim/jira/requests", &list); err != nil {
		return 0, 0, err
	}
	for _, r := range list {
		comments += len(r.Comments)
	}
	return len(list), comments, nil
}

// Pending is the number of queued deliveries not yet consumed.
func (s *Stack) Pending() int64 {
	if s.emu != nil {
		return s.emu.Node.Host.Queue().Pending()
	}
	return s.native.queue.Pending()
}

// Drain waits until the queue is empty or ctx ends.
func (s *Stack) Drain(ctx context.Context) error {
	for s.Pending() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack: %d deliveries still queued: %w", s.Pending(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// Host is the host of a Wasm stack, nil in Native mode.
func (s *Stack) Host() *host.Host {
	if s.emu == nil {
		return nil
	}
	return s.emu.Node.Host
}

// Close stops everything; it is safe on a partly started stack.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.emu != nil {
		_ = s.emu.Shutdown(ctx)
	}
	if s.edge != nil {
		_ = s.edge.Shutdown(ctx)
	}
	if s.native != nil {
		s.native.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.sims != nil {
		s.sims.Close()
	}
	if s.Client != nil {
		s.Client.CloseIdleConnections()
	}
}

// queueConfig is the queue both modes use: the host's defaults.
var queueConfig = queue.Config{}
