package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/cluster"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/hostedge"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/trigger/schedule"
	"github.com/chatbridge/chatbridge/proxy"
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
	return serve(c, trust, nil, stdout, stderr)
}

// devHooks lets dev mode add to a running server: simulators, a console.
type devHooks struct {
	http   *http.Client // outbound client routed to simulators
	extra  http.Handler // extra admin routes
	ready  func(ctx context.Context, r *running, w io.Writer) error
	closer func()
	sims   simulatorControl
	trace  func(capability.Event) // the host's Config.Trace
	watch  string                 // -watch: the source tree to rebuild the plugin from
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

// running is a started host and edge.
type running struct {
	host      *host.Host
	cluster   *cluster.Node // with -storage etcd
	schedule  *schedule.Scheduler
	edge      *proxy.Server
	store     io.Closer
	publicURL string
	adminURL  string
	token     string
	log       *slog.Logger
	errc      chan error // a listener that stopped on its own
}

// start opens storage, loads the bundle and serves the edge and admin
// listeners. The caller stops it with shutdown.
func start(ctx context.Context, c serveConfig, trust *bundle.Trust, dev *devHooks, log *slog.Logger) (r *running, err error) {
	deadline, err := parseDeadline(c.deadline)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, err
	}
	rk, err := receiptKey(c.data)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, c.data, c.masterKeyFile, dev != nil, c.store)
	if err != nil {
		return nil, err
	}
	r = &running{store: store, log: log, errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			_ = r.shutdown(context.Background())
		}
	}()
	// Listen first: a busy port should fail before anything is loaded.
	pub, err := net.Listen("tcp", c.listen)
	if err != nil {
		return r, err
	}
	adm, err := net.Listen("tcp", c.admin)
	if err != nil {
		pub.Close()
		return r, err
	}
	r.publicURL = c.publicURL
	if r.publicURL == "" {
		r.publicURL = "https://" + pub.Addr().String()
	}
	r.adminURL = "http://" + adm.Addr().String()
	hc := host.Config{
		Store: store, Trust: trust, Logger: log, PublicURL: r.publicURL, Queue: c.queue, ReceiptKey: rk,
		Engine: engine.Config{CacheDir: filepath.Join(c.data, "cache"), Deadline: deadline, MaxPerKey: c.instancesPerInstallation},
	}
	if dev != nil {
		hc.HTTP, hc.Trace = dev.http, dev.trace
	}
	if db, ok := store.Backend().(*etcd.DB); ok {
		if hc.Engine.MaxPerKey == 0 {
			// Each storage call waits on a network round trip and a quorum:
			// more instances keep an installation's calls from queueing
			// behind those waits (76 against 61 messages/s end to end in
			// the cluster scenario on 2 cores; see RATIONALE.md).
			hc.Engine.MaxPerKey = 16
		}
		// Several nodes share the cluster: they share out the queue's lanes.
		r.cluster, err = cluster.Join(ctx, db.Client(), cluster.Config{Prefix: clusterPrefix(c.store.prefix), TTL: c.clusterTTL, Logger: log})
		if err != nil {
			pub.Close()
			adm.Close()
			return r, err
		}
		hc.Claims = r.cluster
		log.Info("joined the cluster", "node", r.cluster.ID())
	}
	if r.host, err = host.New(ctx, hc); err != nil {
		pub.Close()
		adm.Close()
		return r, err
	}
	if err = r.host.Load(ctx, c.bundleDir); err != nil {
		pub.Close()
		adm.Close()
		return r, err
	}
	// The bundle's scheduled triggers fire from here on; on a cluster,
	// once per interval across the nodes, under the nodes' claims.
	sc := schedule.Config{Runtime: schedule.ForHost(r.host), Store: store, Logger: log}
	if r.cluster != nil {
		sc.Claims = r.cluster
	}
	if r.schedule, err = schedule.Start(sc); err != nil {
		pub.Close()
		adm.Close()
		return r, err
	}
	if r.token, err = adminToken(c.data); err != nil {
		pub.Close()
		adm.Close()
		return r, err
	}
	api := adminapi.Handler(r.host, r.token)
	var extra http.Handler = api
	if dev != nil && dev.extra != nil {
		mux := http.NewServeMux()
		mux.Handle("/admin/", api)
		mux.Handle("/", dev.extra)
		extra = mux
	}
	r.edge, err = proxy.New(c.edgeConfig(extra, r.token), hostedge.Backend{Host: r.host}, log)
	if err != nil {
		pub.Close()
		adm.Close()
		return r, err
	}
	go func() { r.errc <- r.edge.Serve(pub) }()
	go func() { r.errc <- r.edge.ServeAdmin(adm) }()
	return r, nil
}

// edgeConfig is the edge's configuration. start opens the listeners itself,
// but the addresses go in too: the admin address's host is a name the admin
// listener serves, and one off loopback gets a warning. The admin token is
// also the admin listener's proof of a write from the operator's tools.
func (c *serveConfig) edgeConfig(extra http.Handler, token string) proxy.Config {
	return proxy.Config{
		Addr: c.listen, CertFile: c.certFile, KeyFile: c.keyFile,
		ReadTimeout: c.edge.readTimeout, WriteTimeout: c.edge.writeTimeout,
		RouteRate: c.edge.routeRate, InstallationRate: c.edge.installationRate, MaxConnsPerIP: c.edge.connsPerIP,
		Admin: proxy.AdminConfig{Addr: c.admin, Hosts: hostList(c.adminHosts), Extra: extra,
			Token: token, TokenFile: filepath.Join(c.data, adminTokenFile)},
	}
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

// shutdown stops accepting, drains in-flight requests and invocations, and
// closes storage, flushing it.
func (r *running) shutdown(ctx context.Context) error {
	var errs []error
	if r.edge != nil {
		if err := r.edge.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if r.schedule != nil {
		// Before the host: a firing under way finishes on a running host.
		errs = append(errs, r.schedule.Stop(ctx))
	}
	if r.host != nil {
		errs = append(errs, r.host.Close(ctx))
	}
	if r.cluster != nil {
		errs = append(errs, r.cluster.Close())
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	return errors.Join(errs...)
}

// serve runs host and edge until SIGINT or SIGTERM, then shuts down gracefully.
func serve(c serveConfig, trust *bundle.Trust, dev *devHooks, stdout, stderr io.Writer) error {
	level, err := parseLevel(c.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := start(ctx, c, trust, dev, log)
	if err != nil {
		return err
	}
	if dev != nil && dev.ready != nil {
		if err := dev.ready(ctx, r, stdout); err != nil {
			_ = r.shutdown(context.Background())
			return err
		}
	}
	fmt.Fprintf(stdout, "ready %s admin %s\n", r.publicURL, r.adminURL)
	select {
	case <-ctx.Done():
	case err = <-r.errc:
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := r.shutdown(sctx); err == nil {
		err = serr
	}
	if dev != nil && dev.closer != nil {
		dev.closer()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// adminTokenFile is the admin token's file in the data directory.
const adminTokenFile = "admin.token"

// adminToken reads the admin API token from the data directory, creating it
// (0600) on first start. A `chatbridge sims` process and the dev hosts
// that share its data directory may start at once: the file appears
// whole, once (written aside, then linked into place), and whoever loses
// the race reads the winner's token.
func adminToken(dir string) (string, error) {
	path := filepath.Join(dir, adminTokenFile)
	if tok, err := loadAdminToken(path); !errors.Is(err, os.ErrNotExist) {
		return tok, err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	tmp, err := os.CreateTemp(dir, ".admin.token-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(tok + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return loadAdminToken(path)
	} else if err != nil {
		return "", err
	}
	return tok, nil
}

func loadAdminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty: delete it to have a new token made", path)
	}
	return tok, nil
}
