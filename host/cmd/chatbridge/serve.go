package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/queue"
)

// serveConfig is what serve and dev share.
type serveConfig struct {
	listen, admin, data string
	bundleDir, trustDir string
	certFile, keyFile   string
	masterKeyFile       string
	publicURL           string
	deadline            string
	logLevel            string
	queue               queue.Config
	// instancesPerInstallation is engine.Config.MaxPerKey (0: its default).
	instancesPerInstallation int
	// simsURL (dev only): use the simulators of a `chatbridge sims` process
	// there instead of starting them in this one.
	simsURL string
	// edge is the edge's limits (0: proxy's defaults).
	edge struct {
		routeRate, installationRate float64
		connsPerIP                  int
		readTimeout, writeTimeout   time.Duration
	}
	// adminHosts are further host names the admin listener answers to
	// (comma-separated; proxy.LocalGuard).
	adminHosts string
	store      storeFlags
	// clusterTTL (with -storage etcd): how long a dead node's queue lanes
	// stay claimed.
	clusterTTL time.Duration
}

func (c *serveConfig) flags(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}, devDefaults bool) {
	listen, admin, data := defaultListen, defaultAdminAddr, defaultDataDir
	if devDefaults {
		listen, admin, data = devListen, devAdminAddr, devDataDir
	}
	fs.StringVar(&c.listen, "listen", listen, "public HTTPS address")
	fs.StringVar(&c.admin, "admin", admin, "admin address (health, metrics, admin API); keep it private")
	fs.StringVar(&c.adminHosts, "admin-hosts", "", "host names the admin listener answers to besides the -admin host, localhost and loopback addresses (comma-separated); others get 421")
	fs.StringVar(&c.data, "data", data, "data directory (storage, admin token)")
	fs.StringVar(&c.bundleDir, "bundle", "", "bundle directory: manifest.yml, plugin.wasm, signature.json")
	fs.StringVar(&c.publicURL, "public-url", "", "public base URL of the edge (default https://<listen>)")
	fs.StringVar(&c.deadline, "deadline", "fuel", "runaway-call mechanism: fuel or close-on-context-done")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Float64Var(&c.edge.routeRate, "route-rate", 0, "requests per second a web trigger route accepts (default 20)")
	fs.Float64Var(&c.edge.installationRate, "installation-rate", 0, "requests per second one installation's routes accept together (default 100)")
	fs.IntVar(&c.edge.connsPerIP, "conns-per-ip", 0, "open public connections one client address may hold (default 128)")
	fs.DurationVar(&c.edge.readTimeout, "read-timeout", 0, "time a client has to send one whole request; a slower one gets 408 (default 10s)")
	fs.DurationVar(&c.edge.writeTimeout, "write-timeout", 0, "time the edge has to write one response (default 10s)")
	fs.IntVar(&c.instancesPerInstallation, "instances-per-installation", 0, "live module instances one installation may use at once (default 4, or 16 with -storage etcd, where calls wait longer on storage)")
	fs.IntVar(&c.queue.MaxAttempts, "queue-attempts", 0, "deliveries of a queued message before it becomes a dead letter (default 40, about three hours)")
	if !devDefaults {
		fs.StringVar(&c.trustDir, "trust", "", "directory of trusted vendor public keys")
		fs.StringVar(&c.certFile, "cert", "", "TLS certificate chain (PEM); reloaded on SIGHUP")
		fs.StringVar(&c.keyFile, "key", "", "TLS private key (PEM)")
		fs.StringVar(&c.masterKeyFile, "master-key", "", "storage master key file (0600); or set "+masterKeyEnv)
	}
}

// clusterFlags are the storage flags, and the cluster's for etcd.
func (c *serveConfig) clusterFlags(fs *flag.FlagSet) {
	c.store.register(fs)
	fs.DurationVar(&c.clusterTTL, "cluster-ttl", 5*time.Second, "with -storage etcd: how long the queue lanes a dead node claimed wait before another node takes them")
}

func runServe(args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := newFlags("serve", stderr)
	c.flags(fs, false)
	c.clusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"-bundle": c.bundleDir, "-trust": c.trustDir, "-cert": c.certFile, "-key": c.keyFile} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required flags: %s", strings.Join(missing, ", "))
	}
	trust, err := bundle.LoadTrust(c.trustDir)
	if err != nil {
		return err
	}
	return serve(c, trust, stdout, stderr)
}

func parseDeadline(s string) (engine.Deadline, error) {
	for _, d := range []engine.Deadline{engine.Fuel, engine.CloseOnContextDone} {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown -deadline %q (fuel or close-on-context-done)", s)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// nodeConfig is the node c describes.
func (c *serveConfig) nodeConfig(trust *bundle.Trust, log *slog.Logger) (node.Config, error) {
	deadline, err := parseDeadline(c.deadline)
	if err != nil {
		return node.Config{}, err
	}
	nc := node.Config{
		Listen: c.listen, Admin: c.admin, AdminHosts: hostList(c.adminHosts), PublicURL: c.publicURL,
		DataDir: c.data, BundleDir: c.bundleDir, Trust: trust,
		CertFile: c.certFile, KeyFile: c.keyFile, MasterKeyFile: c.masterKeyFile,
		Store: c.store.config(), ClusterTTL: c.clusterTTL,
		Deadline: deadline, InstancesPerInstallation: c.instancesPerInstallation, Queue: c.queue,
		Edge: node.EdgeLimits{
			RouteRate: c.edge.routeRate, InstallationRate: c.edge.installationRate, ConnsPerIP: c.edge.connsPerIP,
			ReadTimeout: c.edge.readTimeout, WriteTimeout: c.edge.writeTimeout,
		},
		Logger: log,
	}
	return nc, nil
}

// hostList splits a comma-separated -admin-hosts value.
func hostList(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// logger is the JSON logger at c's level.
func (c *serveConfig) logger(w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.logLevel)
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// serve runs a node until SIGINT or SIGTERM, then shuts down gracefully.
func serve(c serveConfig, trust *bundle.Trust, stdout, stderr io.Writer) error {
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := c.nodeConfig(trust, log)
	if err != nil {
		return err
	}
	n, err := node.Start(ctx, nc)
	if err != nil {
		return err
	}
	return runUntilSignal(ctx, n, stdout, n.Shutdown)
}

// runUntilSignal says the node is ready and serves until ctx ends (a
// signal) or a listener stops on its own, then shuts down within 30 s.
func runUntilSignal(ctx context.Context, n *node.Node, stdout io.Writer, shutdown func(context.Context) error) error {
	fmt.Fprintf(stdout, "ready %s admin %s\n", n.PublicURL, n.AdminURL)
	var err error
	select {
	case <-ctx.Done():
	case err = <-n.Stopped():
	}
	n.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := shutdown(sctx); err == nil {
		err = serr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// adminTokenFile is the admin token's file in the data directory.
const adminTokenFile = node.AdminTokenFile

// adminToken reads or creates the data directory's admin token.
func adminToken(dir string) (string, error) { return node.AdminToken(dir) }
