package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
)

// runDev is the local emulator (emulator/stack): a development signing key
// (trusted by this host only), a development certificate and master key
// under the data directory, the bundle re-signed at every start, the
// simulators, a dev installation and, for the bridge, a configured project.
func runDev(args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := newFlags("dev", stderr)
	c.flags(fs, true)
	watch := fs.String("watch", "", "live reload: the plugin folder (its main package and manifest.yml, or a module root with ./plugin) to rebuild and load when a .go file or the manifest changes; without -bundle, the first bundle is built from it")
	topics := fs.Bool("telegram-topics", false, "give the simulated Telegram bots topics in private chats (Bot API 9.3's forum topic mode): the bridge opens one topic per request")
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
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	if c.bundleDir == "" && *watch != "" {
		if c.bundleDir, err = devBuildFirst(c.data, *watch); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sc, err := c.stackConfig(log)
	if err != nil {
		return err
	}
	sc.Sims.TelegramTopics = *topics
	st, err := stack.Start(ctx, sc)
	if err != nil {
		return err
	}
	welcome(stdout, st, c.data)
	if *watch != "" {
		wt := &watcher{bundleDir: st.BundleDir, devDir: st.DevDir, host: st.Node.Host,
			log: log, report: st.Console.SetReload}
		if wt.dir, err = pluginSource(*watch); err != nil {
			_ = st.Shutdown(context.Background())
			return err
		}
		go wt.run(ctx)
		fmt.Fprintf(stdout, "live reload: watching %s\n", wt.dir)
	}
	fmt.Fprintf(stdout, "dev console: %s/\n", st.Node.AdminURL)
	return runUntilSignal(ctx, st.Node, stdout, st.Shutdown)
}

// stackConfig is the emulator c describes.
func (c *serveConfig) stackConfig(log *slog.Logger) (stack.Config, error) {
	nc, err := c.nodeConfig(nil, log)
	if err != nil {
		return stack.Config{}, err
	}
	return stack.Config{Node: nc, SimsURL: c.simsURL}, nil
}

// welcome prints where things are: the installation's URLs, the
// simulators, how to chat as a customer.
func welcome(w io.Writer, st *stack.Stack, data string) {
	n, in := st.Node, st.Installation
	fmt.Fprintf(w, "installation %s site %s\n", in.ID, in.SiteURL)
	for _, t := range in.Triggers() {
		if t == tenant.JiraEventsRoute {
			fmt.Fprintf(w, "  jira webhooks   %s\n", jiraevent.URL(n.Host, in))
			continue
		}
		fmt.Fprintf(w, "  web trigger %-16s %s\n", t, webtrigger.URL(n.Host, in, t))
	}
	fmt.Fprintf(w, "simulators: Telegram as api.telegram.org, Jira as %s; control API under %s/_sim/\n", stack.Site, n.AdminURL)
	tokenFile := filepath.Join(data, adminTokenFile)
	if st.Configured {
		// Writes carry the admin token: the admin listener takes no
		// write without it but from its own pages (proxy.LocalGuard).
		fmt.Fprintf(w, "project %s is configured; chat as a customer:\n", stack.Project)
		fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $(cat %s)\" %s/_sim/telegram/send -d '{\"chat_id\":1001,\"text\":\"Hello, my printer is on fire\"}'\n",
			shellWord(tokenFile), n.AdminURL)
		fmt.Fprintf(w, "  curl -s %s/_sim/jira/requests\n", n.AdminURL)
	} else if url, ok := firstWebTrigger(n.Host, []tenant.Installation{in}); ok {
		fmt.Fprintf(w, "try: curl -k -X POST %s -d '{\"op\":\"echo\"}'\n", url)
	}
	manifestHints(w, n.Host, in, n.AdminURL, tokenFile)
	fmt.Fprintf(w, "admin token in %s\n", tokenFile)
}

// manifestHints prints what the loaded manifest offers beyond its web
// triggers: each scheduled trigger and product event with the curl line that
// fires it now (the admin API's fire routes; the console has a button for
// each), and each consumer's queue.
func manifestHints(w io.Writer, h *host.Host, in tenant.Installation, adminURL, tokenFile string) {
	b := h.Bundle()
	if b == nil {
		return
	}
	mods := b.Manifest.Modules
	auth := fmt.Sprintf("-H \"Authorization: Bearer $(cat %s)\"", shellWord(tokenFile))
	base := adminURL + "/admin/installations/" + in.ID
	for _, s := range mods.ScheduledTrigger {
		fmt.Fprintf(w, "  scheduled trigger %s (every %s); fire it now:\n", s.Key, s.Interval)
		fmt.Fprintf(w, "    curl -s -X POST %s %s\n", auth, shellWord(base+"/schedule/"+s.Key+"/fire"))
	}
	for _, t := range mods.Trigger {
		for _, e := range t.Events {
			fmt.Fprintf(w, "  trigger %s on %s; send one now (the body is the event's payload):\n", t.Key, e)
			fmt.Fprintf(w, "    curl -s -X POST %s %s -d '{}'\n", auth, shellWord(base+"/events/"+e))
		}
	}
	for _, c := range mods.Consumer {
		fmt.Fprintf(w, "  consumer %s reads queue %s\n", c.Key, c.Queue)
	}
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
