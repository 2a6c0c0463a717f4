package stack

import (
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
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/emulator/sim"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/hostedge"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
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
const Site = "https://dev.atlassian.net"

// Project is the service project each installation configures.
const Project = "SUP"

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

	mode    Mode
	host    *host.Host
	native  *Native
	store   *seal.Store
	edge    *proxy.Server
	tg      *telegram.Sim
	jira    *jira.Sim
	control http.Handler
	closers []func()
}

// discard is the logger of measured stacks: logging is not what is measured.
var discard = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))

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
	devDir := filepath.Join(cfg.Dir, "dev")
	certFile, keyFile, err := proxy.DevCertificate(devDir)
	if err != nil {
		return nil, err
	}
	egress, err := s.startSims(certFile)
	if err != nil {
		return nil, err
	}
	keys, err := seal.EnsureDevKeyFile(filepath.Join(devDir, "master.key"))
	if err != nil {
		return nil, err
	}
	db, err := bunt.Open(filepath.Join(cfg.Dir, "chatbridge.db"), bunt.Config{})
	if err != nil {
		return nil, err
	}
	if s.store, err = seal.Open(ctx, db, keys, seal.Config{}); err != nil {
		_ = db.Close()
		return nil, err
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.PublicURL = "https://" + pub.Addr().String()

	var backend proxy.Backend
	switch cfg.Mode {
	case Wasm:
		dir := filepath.Join(cfg.Dir, "bundle")
		trust, err := SignedBundle(dir, cfg.Manifest, cfg.Module)
		if err != nil {
			pub.Close()
			return nil, err
		}
		ec := cfg.Engine
		if ec.CacheDir == "" {
			ec.CacheDir = filepath.Join(cfg.Dir, "cache")
		}
		s.host, err = host.New(ctx, host.Config{Store: s.store, Trust: trust, Engine: ec, HTTP: egress, Logger: discard, PublicURL: s.PublicURL})
		if err != nil {
			pub.Close()
			return nil, err
		}
		if err := s.host.Load(ctx, dir); err != nil {
			pub.Close()
			return nil, err
		}
		backend = hostedge.Backend{Host: s.host}
	case InProcess:
		m, err := bundle.ParseManifest(cfg.Manifest)
		if err != nil {
			pub.Close()
			return nil, err
		}
		s.native, err = NewNative(ctx, s.store, egress, m, s.PublicURL)
		if err != nil {
			pub.Close()
			return nil, err
		}
		backend = s.native
	default:
		pub.Close()
		return nil, fmt.Errorf("stack: unknown mode %d", cfg.Mode)
	}

	// The edge's production limits, except the per-route and per-installation
	// rate limits (20/s and 100/s), which would measure the limiter instead.
	s.edge, err = proxy.New(proxy.Config{
		CertFile: certFile, KeyFile: keyFile, DisableSIGHUPReload: true,
		RouteRate: 1e9, RouteBurst: 1 << 30, InstallationRate: 1e9, InstallationBurst: 1 << 30,
		Admin: proxy.AdminConfig{Disabled: true},
	}, backend, discard)
	if err != nil {
		pub.Close()
		return nil, err
	}
	go func() { _ = s.edge.Serve(pub) }()

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

// SignedBundle writes manifest and module to dir, signs them with a fresh
// vendor key and returns the trust that accepts the bundle.
func SignedBundle(dir string, manifest, module []byte) (*bundle.Trust, error) {
	if len(manifest) == 0 || len(module) == 0 {
		return nil, errors.New("stack: a bundle needs a module and a manifest")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), manifest, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), module, 0o644); err != nil {
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

// startSims starts the Telegram and Jira simulators on loopback TLS
// listeners with certificates for their real names and returns the host's
// outbound client, which routes those names to them.
func (s *Stack) startSims(edgeCert string) (*http.Client, error) {
	deliver, err := sim.DeliveryClient(edgeCert)
	if err != nil {
		return nil, err
	}
	s.tg = telegram.New(telegram.Config{Client: deliver, AnyWebhookPort: true})
	s.jira = jira.New(jira.Config{Client: deliver, Site: Site})
	s.closers = append(s.closers, s.tg.Close, s.jira.Close)
	s.control = sim.Control(s.tg, s.jira)
	site, _ := url.Parse(Site)
	ls, err := sim.ServeTLS(map[string]http.Handler{"api.telegram.org": s.tg.API(), site.Hostname(): s.jira.API()})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, ls.Close)
	return reroute.Client(ls.Routes, ls.CA.Pool()), nil
}

// installAndConfigure installs the simulated site and configures project SUP
// through the bridge's own config.set resolver, which registers the Telegram
// webhook with the simulator; the simulator then says where and with which
// secret token it would deliver.
func (s *Stack) installAndConfigure(ctx context.Context) (Installation, error) {
	site := tenant.Site{URL: Site, AppAccountID: "chatbridge-bench-app", Authorization: jira.DefaultAuthorization}
	var id string
	if s.host != nil {
		in, _, err := s.host.Install(ctx, site)
		if err != nil {
			return Installation{}, err
		}
		id = in.ID
	} else {
		in, err := s.native.Install(ctx, site)
		if err != nil {
			return Installation{}, err
		}
		id = in.ID
	}
	payload, _ := json.Marshal(map[string]any{
		"projectKey": Project, "enabled": true, "channel": "telegram",
		"botToken": telegram.DefaultToken, "serviceDeskId": "1", "requestTypeId": "10",
	})
	var out []byte
	var err error
	if s.host != nil {
		out, err = resolver.Call(ctx, s.host, id, "config.set", payload)
	} else {
		out, err = s.native.Resolve(ctx, id, "config.set", payload)
	}
	if err != nil {
		return Installation{}, fmt.Errorf("stack: configure: %w", err)
	}
	var answer struct {
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal(out, &answer); err != nil || !answer.OK {
		return Installation{}, fmt.Errorf("stack: configure: %s", out)
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
	if s.host != nil {
		return s.host.Queue().Pending()
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
func (s *Stack) Host() *host.Host { return s.host }

// Close stops everything; it is safe on a partly started stack.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.edge != nil {
		_ = s.edge.Shutdown(ctx)
	}
	if s.host != nil {
		_ = s.host.Close(ctx)
	}
	if s.native != nil {
		s.native.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	for _, c := range s.closers {
		c()
	}
	if s.Client != nil {
		s.Client.CloseIdleConnections()
	}
}

// queueConfig is the queue both modes use: the host's defaults.
var queueConfig = queue.Config{}
