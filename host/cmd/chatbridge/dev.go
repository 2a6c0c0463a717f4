package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatbridge/chatbridge/emulator/console"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/proxy"
)

// devSite is the Jira site dev mode installs on first start.
const devSite = "https://dev.atlassian.net"

// devProject is the service project dev mode configures for the bridge.
const devProject = "SUP"

// runDev is the local emulator: a development signing key (trusted by this
// host only), a development certificate and master key under the data
// directory, the bundle re-signed at every start, the simulators, a dev
// installation and, for the bridge, a configured project.
func runDev(args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := newFlags("dev", stderr)
	c.flags(fs, true)
	watch := fs.String("watch", "", "live reload: the plugin folder (its main package and manifest.yml, or a module root with ./plugin) to rebuild and load when a .go file or the manifest changes; without -bundle, the first bundle is built from it")
	fs.StringVar(&c.simsURL, "sims", "", "control URL of a `chatbridge sims` process to use instead of starting the simulators here (so the host can be killed while they keep their state)")
	// On etcd, several dev nodes that share -data (its dev keys) and
	// -public-url (a balancer) form a local cluster: make run-cluster.
	c.clusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if c.bundleDir == "" && *watch != "" {
		var err error
		if c.bundleDir, err = devBuildFirst(c.data, *watch); err != nil {
			return err
		}
	}
	trust, hooks, err := devSetup(&c)
	if err != nil {
		return err
	}
	hooks.watch = *watch
	return serve(c, trust, hooks, stdout, stderr)
}

// devSetup prepares keys, certificate and simulators for c and returns the
// trust and hooks that serve or start take.
func devSetup(c *serveConfig) (*bundle.Trust, *devHooks, error) {
	if c.bundleDir == "" {
		return nil, nil, errors.New("-bundle is required: a directory with manifest.yml and plugin.wasm (make run builds one)")
	}
	devDir := filepath.Join(c.data, "dev")
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return nil, nil, err
	}
	key, err := devSigningKey(devDir)
	if err != nil {
		return nil, nil, err
	}
	if c.certFile, c.keyFile, err = proxy.DevCertificate(devDir); err != nil {
		return nil, nil, err
	}
	var sims simulatorControl
	if c.simsURL != "" {
		// The sims process shares the data directory, and so the admin
		// token, which its control API takes as a write's proof.
		var token string
		if token, err = adminToken(c.data); err != nil {
			return nil, nil, err
		}
		sims, err = remoteSimulators(c.simsURL, token)
	} else {
		sims, err = startSimulators(c.certFile)
	}
	if err != nil {
		return nil, nil, err
	}
	bundleCopy, removeCopy, err := devBundle(devDir, c.bundleDir, key)
	if err != nil {
		sims.close()
		return nil, nil, err
	}
	c.bundleDir = bundleCopy
	// The admin listener's non-API routes: the simulators' control API and,
	// at the root, the dev console. Only dev mode mounts the console.
	con := console.New()
	extra := http.NewServeMux()
	extra.Handle("/_sim/", sims.control())
	extra.Handle("/", con.Handler())
	hooks := &devHooks{http: sims.egressClient(), extra: extra, closer: func() { sims.close(); removeCopy() }, sims: sims, trace: con.Trace}
	hooks.ready = func(ctx context.Context, r *running, w io.Writer) error {
		store, _ := r.store.(*seal.Store)
		con.Attach(r.host, store)
		in, err := devInstall(ctx, r.host, sims)
		if err != nil {
			return err
		}
		configured, err := devConfigure(ctx, r.host, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "installation %s site %s\n", in.ID, in.SiteURL)
		for _, t := range in.Triggers() {
			if t == tenant.JiraEventsRoute {
				fmt.Fprintf(w, "  jira webhooks   %s\n", jiraevent.URL(r.host, in))
				continue
			}
			fmt.Fprintf(w, "  web trigger %-16s %s\n", t, webtrigger.URL(r.host, in, t))
		}
		fmt.Fprintf(w, "simulators: Telegram as api.telegram.org, Jira as %s; control API under %s/_sim/\n", devSite, r.adminURL)
		tokenFile := filepath.Join(c.data, adminTokenFile)
		if configured {
			// Writes carry the admin token: the admin listener takes no
			// write without it but from its own pages (proxy.LocalGuard).
			fmt.Fprintf(w, "project %s is configured; chat as a customer:\n", devProject)
			fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $(cat %s)\" %s/_sim/telegram/send -d '{\"chat_id\":1001,\"text\":\"Hello, my printer is on fire\"}'\n",
				shellWord(tokenFile), r.adminURL)
			fmt.Fprintf(w, "  curl -s %s/_sim/jira/requests\n", r.adminURL)
		} else if url, ok := firstWebTrigger(r.host, []tenant.Installation{in}); ok {
			fmt.Fprintf(w, "try: curl -k -X POST %s -d '{\"op\":\"echo\"}'\n", url)
		}
		fmt.Fprintf(w, "admin token in %s\n", tokenFile)
		if hooks.watch != "" {
			wt := &watcher{dir: hooks.watch, bundleDir: c.bundleDir, devDir: devDir, host: r.host,
				log: r.log, report: con.SetReload}
			if wt.dir, err = pluginSource(hooks.watch); err != nil {
				return err
			}
			go wt.run(ctx)
			fmt.Fprintf(w, "live reload: watching %s\n", wt.dir)
		}
		fmt.Fprintf(w, "dev console: %s/\n", r.adminURL)
		return nil
	}
	return bundle.NewTrust([]*bundle.PublicKey{key.Public()}, nil), hooks, nil
}

// devInstall installs the dev site on first start and points the Jira
// simulator's webhook at it.
func devInstall(ctx context.Context, h *host.Host, sims simulatorControl) (tenant.Installation, error) {
	var in tenant.Installation
	found := false
	for _, i := range h.Registry().List() {
		if i.SiteURL == devSite {
			in, found = i, true
		}
	}
	if !found {
		var err error
		in, _, err = h.Install(ctx, tenant.Site{URL: devSite, AppAccountID: "chatbridge-dev-app", Authorization: jira.DefaultAuthorization})
		if err != nil {
			return in, err
		}
	}
	secret, err := h.Registry().WebhookSecret(ctx, in.ID)
	if err != nil {
		return in, err
	}
	return in, sims.registerJiraWebhook(jiraevent.URL(h, in), secret)
}

// devConfigure configures the dev project through the bridge's own admin
// resolver, which validates the simulator's bot token and registers the
// Telegram webhook. A project configured before (by an earlier start, or an
// admin since: another channel, another greeting) keeps its configuration;
// saving it again registers its webhook with the simulators, which may be
// new. A bundle without that resolver is left alone.
func devConfigure(ctx context.Context, h *host.Host, in tenant.Installation) (bool, error) {
	if !hasWebTrigger(h, "telegram-webhook") {
		return false, nil
	}
	payload, _ := json.Marshal(map[string]any{
		"projectKey": devProject, "enabled": true, "channel": "telegram",
		"botToken": telegram.DefaultToken, "serviceDeskId": "1", "requestTypeId": "10",
	})
	project, _ := json.Marshal(map[string]any{"projectKey": devProject})
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

func hasWebTrigger(h *host.Host, key string) bool {
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

// devSigningKey loads or creates the dev vendor key.
func devSigningKey(dir string) (*bundle.PrivateKey, error) {
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

// firstWebTrigger returns a web trigger URL to show in the welcome text.
func firstWebTrigger(h *host.Host, list []tenant.Installation) (string, bool) {
	for _, in := range list {
		for _, t := range in.Triggers() {
			if t != tenant.JiraEventsRoute {
				return webtrigger.URL(h, in, t), true
			}
		}
	}
	return "", false
}

// shellWord quotes s for a POSIX shell unless it needs no quoting, for
// the command lines dev mode prints.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
