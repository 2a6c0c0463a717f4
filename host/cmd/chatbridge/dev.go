package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/sim/jira"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/proxy"
)

// devSite is the Jira site dev mode installs on first start.
const devSite = "https://dev.atlassian.net"

// runDev is the local emulator: a development signing key (trusted by this
// host only), a development certificate and master key under the data
// directory, the bundle re-signed at every start, and a dev installation.
func runDev(args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := newFlags("dev", stderr)
	c.flags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if c.bundleDir == "" {
		return errors.New("-bundle is required: a directory with manifest.yml and plugin.wasm (make run builds one)")
	}
	devDir := filepath.Join(c.data, "dev")
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return err
	}
	key, err := devSigningKey(devDir)
	if err != nil {
		return err
	}
	if err := bundle.Sign(c.bundleDir, key); err != nil {
		return fmt.Errorf("sign the bundle with the dev key: %w", err)
	}
	cert, certKey, err := proxy.DevCertificate(devDir)
	if err != nil {
		return err
	}
	c.certFile, c.keyFile = cert, certKey
	trust := bundle.NewTrust([]*bundle.PublicKey{key.Public()}, nil)
	sims, err := startSimulators(cert)
	if err != nil {
		return err
	}
	hooks := &devHooks{http: sims.egress, extra: sims.control(), closer: sims.close}
	hooks.ready = func(ctx context.Context, h *host.Host, token string, w io.Writer) error {
		list := h.Registry().List()
		if len(list) == 0 {
			in, _, err := h.Install(ctx, tenant.Site{URL: devSite, AppAccountID: "chatbridge-dev-app", Authorization: jira.DefaultAuthorization})
			if err != nil {
				return err
			}
			list = append(list, in)
		}
		for _, in := range list {
			if in.SiteURL != devSite {
				continue
			}
			secret, err := h.Registry().WebhookSecret(ctx, in.ID)
			if err != nil {
				return err
			}
			if err := sims.registerJiraWebhook(h.JiraURL(in), secret); err != nil {
				return err
			}
		}
		for _, in := range list {
			fmt.Fprintf(w, "installation %s site %s\n", in.ID, in.SiteURL)
			for _, t := range in.Triggers() {
				if t == tenant.JiraEventsRoute {
					fmt.Fprintf(w, "  jira webhooks   %s\n", h.JiraURL(in))
					continue
				}
				fmt.Fprintf(w, "  web trigger %-14s %s\n", t, h.URL(in.Routes[t]))
			}
		}
		if url, ok := firstWebTrigger(h, list); ok {
			fmt.Fprintf(w, "try: curl -k -X POST %s -d '{\"op\":\"echo\"}'\n", url)
		}
		fmt.Fprintf(w, "simulators: Telegram as api.telegram.org, Jira as %s; control API under /_sim/ on the admin listener\n", devSite)
		fmt.Fprintf(w, "admin token in %s\n", filepath.Join(c.data, "admin.token"))
		return nil
	}
	return serve(c, trust, hooks, stdout, stderr)
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
				return h.URL(in.Routes[t]), true
			}
		}
	}
	return "", false
}
