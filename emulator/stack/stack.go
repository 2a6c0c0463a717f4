package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/emulator/console"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/proxy"
)

// SecondTelegramToken is a second bot of the Telegram simulator, for a
// project served by several bots (bots.add).
const SecondTelegramToken = "7000000002:AAHdevSimulatorSecond_0123456789abc"

// Site is the Jira site the emulator installs on first start.
const Site = "https://dev.atlassian.net"

// Project is the service project the emulator configures for the bridge.
const Project = "SUP"

// Config configures the emulator.
type Config struct {
	// Node is the node to start. DataDir and BundleDir are required; the
	// emulator sets Trust (its own signing key), the TLS certificate, the
	// master key and Emulate.
	Node node.Config
	// SimsURL is the control URL of a `chatbridge sims` process whose
	// simulators to use; empty starts them in this process.
	SimsURL string
	// NoConsole leaves the dev console out, and with it the trace of
	// every capability call: benchmarks measure the production path.
	NoConsole bool
	// Sims tunes the simulators started in this process.
	Sims SimOptions
}

// Stack is a running emulator.
type Stack struct {
	Node    *node.Node
	Sims    Simulators
	Console *console.Console // nil with NoConsole
	// Installation is the dev site's installation.
	Installation tenant.Installation
	// Configured is set when the bridge's project Project is configured
	// (a bundle without the bridge's admin resolver is left alone).
	Configured bool
	// DevDir holds the development keys and certificate.
	DevDir string
	// SigningKey is the development vendor key the bundle is signed with.
	SigningKey *bundle.PrivateKey
	// BundleDir is the emulator's signed copy of the bundle it runs (live
	// reload builds into it); the bundle given is never re-signed.
	BundleDir  string
	removeCopy func()
}

// Start starts the emulator. A copy of the bundle is signed with the
// development key, which only this node trusts.
func Start(ctx context.Context, c Config) (_ *Stack, err error) {
	nc := c.Node
	if nc.BundleDir == "" {
		return nil, errors.New("-bundle is required: a directory with manifest.yml and plugin.wasm (make run builds one)")
	}
	s := &Stack{DevDir: filepath.Join(nc.DataDir, "dev")}
	if err := os.MkdirAll(s.DevDir, 0o700); err != nil {
		return nil, err
	}
	if s.SigningKey, err = SigningKey(s.DevDir); err != nil {
		return nil, err
	}
	var removeCopy func()
	if nc.BundleDir, removeCopy, err = signedCopy(s.DevDir, nc.BundleDir, s.SigningKey); err != nil {
		return nil, err
	}
	s.BundleDir = nc.BundleDir
	s.removeCopy = removeCopy
	defer func() {
		if err != nil {
			removeCopy()
		}
	}()
	nc.Trust = bundle.NewTrust([]*bundle.PublicKey{s.SigningKey.Public()}, nil)
	nc.DevKeys = true
	if nc.CertFile, nc.KeyFile, err = proxy.DevCertificate(s.DevDir); err != nil {
		return nil, err
	}
	if c.SimsURL != "" {
		// The sims process shares the data directory, and so the admin
		// token, which its control API takes as a write's proof.
		var token string
		if token, err = node.AdminToken(nc.DataDir); err != nil {
			return nil, err
		}
		s.Sims, err = RemoteSimulators(c.SimsURL, token)
	} else {
		s.Sims, err = StartSimulators(nc.CertFile, c.Sims)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Sims.Close()
		}
	}()
	// The admin listener's non-API routes: the simulators' control API and,
	// at the root, the dev console. Only the emulator mounts the console.
	extra := http.NewServeMux()
	extra.Handle("/_sim/", s.Sims.Control())
	nc.Emulate = node.Emulation{HTTP: s.Sims.Egress(), AdminExtra: extra}
	if !c.NoConsole {
		s.Console = console.New()
		extra.Handle("/", s.Console.Handler())
		nc.Emulate.Trace = s.Console.Trace
	}
	if s.Node, err = node.Start(ctx, nc); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Node.Shutdown(context.Background())
		}
	}()
	if s.Console != nil {
		s.Console.Attach(s.Node.Host, s.Node.Store)
	}
	if s.Installation, err = s.install(ctx); err != nil {
		return nil, err
	}
	if s.Configured, err = s.configure(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Shutdown stops the node, then the simulators it calls.
func (s *Stack) Shutdown(ctx context.Context) error {
	err := s.Node.Shutdown(ctx)
	s.Sims.Close()
	s.removeCopy()
	return err
}

// install installs the dev site on first start and points the Jira
// simulator's webhook at it.
func (s *Stack) install(ctx context.Context) (tenant.Installation, error) {
	h := s.Node.Host
	var in tenant.Installation
	found := false
	for _, i := range h.Registry().List() {
		if i.SiteURL == Site {
			in, found = i, true
		}
	}
	if !found {
		var err error
		in, _, err = h.Install(ctx, tenant.Site{URL: Site, AppAccountID: "chatbridge-dev-app", Authorization: jira.DefaultAuthorization})
		if err != nil {
			return in, err
		}
	}
	secret, err := h.Registry().WebhookSecret(ctx, in.ID)
	if err != nil {
		return in, err
	}
	return in, s.Sims.RegisterJiraWebhook(jiraevent.URL(h, in), secret)
}

// configure configures the dev project through the bridge's own admin
// resolver, which validates the simulator's bot token and registers the
// Telegram webhook. A project configured before (by an earlier start, or an
// admin since: another channel, another greeting) keeps its configuration;
// saving it again registers its webhook with the simulators, which may be
// new. A bundle without that resolver is left alone.
func (s *Stack) configure(ctx context.Context) (bool, error) {
	h, in := s.Node.Host, s.Installation
	if !HasWebTrigger(h, "telegram-webhook") {
		return false, nil
	}
	payload, _ := json.Marshal(map[string]any{
		"projectKey": Project, "enabled": true, "channel": "telegram",
		"botToken": telegram.DefaultToken, "serviceDeskId": "1", "requestTypeId": "10",
	})
	project, _ := json.Marshal(map[string]any{"projectKey": Project})
	if out, err := resolver.Call(ctx, h, in.ID, "config.get", project); err == nil {
		var got struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(out, &got) == nil && got.OK {
			payload = project
		}
	}
	out, err := resolver.Call(ctx, h, in.ID, "config.set", payload)
	if err != nil {
		return false, fmt.Errorf("configure the dev project: %w", err)
	}
	var answer struct {
		OK     bool              `json:"ok"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(out, &answer); err != nil || !answer.OK {
		return false, fmt.Errorf("configure the dev project: %s", out)
	}
	return true, nil
}

// HasWebTrigger reports whether the loaded bundle has the web trigger key.
func HasWebTrigger(h *host.Host, key string) bool {
	b := h.Bundle()
	if b == nil {
		return false
	}
	for _, w := range b.Manifest.Modules.WebTrigger {
		if w.Key == key {
			return true
		}
	}
	return false
}

// SigningKey loads or creates the development vendor key in dir.
func SigningKey(dir string) (*bundle.PrivateKey, error) {
	path := filepath.Join(dir, "vendor.key")
	k, err := bundle.ReadPrivateKeyFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if k, err = bundle.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if err := bundle.WritePrivateKeyFile(path, k); err != nil {
		return nil, err
	}
	return k, bundle.WritePublicKeyFile(filepath.Join(dir, "vendor.pub"), k.Public())
}
