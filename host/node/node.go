package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/adminui"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/cluster"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/hostedge"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/receipt"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/trigger/schedule"
	"github.com/chatbridge/chatbridge/proxy"
)

// Config is one node's configuration. DataDir, BundleDir, Trust, CertFile
// and KeyFile are required.
type Config struct {
	// Listen is the public HTTPS address, Admin the admin listener's
	// (health, metrics, admin API); AdminHosts are further host names the
	// admin listener answers to (proxy.LocalGuard).
	Listen, Admin string
	AdminHosts    []string
	// PublicURL is the edge's public base URL (default https://<Listen>).
	PublicURL string
	// DataDir holds the BuntDB file, the admin token and the compilation
	// cache (unless CacheDir puts it elsewhere).
	DataDir, CacheDir string
	// BundleDir is the signed bundle; Trust the vendor keys it must be
	// signed by.
	BundleDir string
	Trust     *bundle.Trust
	// CertFile and KeyFile are the edge's TLS certificate chain and key.
	CertFile, KeyFile string
	// MasterKeyFile is the storage master key file (or the environment's,
	// when empty); DevKeys uses the emulator's generated key instead.
	MasterKeyFile string
	DevKeys       bool
	Store         Store
	// ClusterTTL (etcd only) is how long a dead node's queue lanes stay
	// claimed.
	ClusterTTL time.Duration
	// Deadline is the runaway-call mechanism.
	Deadline engine.Deadline
	// InstancesPerInstallation is engine.Config.MaxPerKey (0: its
	// default, or 16 on etcd).
	InstancesPerInstallation int
	Queue                    queue.Config
	// Edge holds the edge's limits (0: proxy's defaults).
	Edge    EdgeLimits
	Logger  *slog.Logger
	Emulate Emulation
}

// EdgeLimits are the edge's limits; zero values take proxy's defaults.
type EdgeLimits struct {
	RouteRate, InstallationRate   float64
	RouteBurst, InstallationBurst int
	ConnsPerIP                    int
	ReadTimeout, WriteTimeout     time.Duration
}

// Emulation is what the local emulator adds to a node; production leaves
// it empty.
type Emulation struct {
	// HTTP is the module's outbound client (routed to the simulators).
	HTTP *http.Client
	// Trace sees every capability call (the dev console's).
	Trace func(capability.Event)
	// AdminExtra serves the admin listener's paths outside /admin/ (the
	// console, the simulators' control API).
	AdminExtra http.Handler
}

// Node is a started node. Stop it with Shutdown.
type Node struct {
	Host    *host.Host
	Store   *seal.Store
	Cluster *cluster.Node // with an etcd store
	// Members counts the cluster's live nodes (with an etcd store); the
	// module's outbound pacing is this node's share of each limit.
	Members  *cluster.Members
	Schedule *schedule.Scheduler
	Edge     *proxy.Server
	// PublicURL is the edge's base URL, AdminURL the admin listener's.
	PublicURL, AdminURL string
	// Token is the admin API token (in the data directory's
	// AdminTokenFile).
	Token string
	Log   *slog.Logger

	stopped chan error // a listener that stopped on its own
	// stopReports ends the queue reports of a cluster node; reported is
	// closed when they have.
	stopReports context.CancelFunc
	reported    chan struct{}
}

// Start opens storage, loads the bundle, starts the schedules and serves
// the edge and admin listeners.
func Start(ctx context.Context, c Config) (_ *Node, err error) {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	receiptKey, err := receipt.LoadOrCreate(ReceiptKeyFile(c.DataDir))
	if err != nil {
		return nil, err
	}
	store, err := OpenStore(ctx, c.DataDir, c.MasterKeyFile, c.DevKeys, c.Store)
	if err != nil {
		return nil, err
	}
	n := &Node{Store: store, Log: log, stopped: make(chan error, 2)}
	// Listen first: a busy port should fail before anything is loaded.
	var pub, adm net.Listener
	defer func() {
		if err != nil {
			for _, l := range []net.Listener{pub, adm} {
				if l != nil {
					l.Close()
				}
			}
			_ = n.Shutdown(context.Background())
		}
	}()
	if pub, err = net.Listen("tcp", c.Listen); err != nil {
		return nil, err
	}
	if adm, err = net.Listen("tcp", c.Admin); err != nil {
		return nil, err
	}
	n.PublicURL = c.PublicURL
	if n.PublicURL == "" {
		n.PublicURL = "https://" + pub.Addr().String()
	}
	n.AdminURL = "http://" + adm.Addr().String()
	if err = n.startRuntime(ctx, c, receiptKey); err != nil {
		return nil, err
	}
	if n.Token, err = AdminToken(c.DataDir); err != nil {
		return nil, err
	}
	if n.Edge, err = proxy.New(c.EdgeConfig(n.adminHandler(c), n.Token), hostedge.Backend{Host: n.Host}, log); err != nil {
		return nil, err
	}
	go func() { n.stopped <- n.Edge.Serve(pub) }()
	go func() { n.stopped <- n.Edge.ServeAdmin(adm) }()
	return n, nil
}

// startRuntime joins the cluster (on etcd), starts the runtime with the
// bundle and its schedules.
func (n *Node) startRuntime(ctx context.Context, c Config, receiptKey *receipt.PrivateKey) (err error) {
	hc := host.Config{
		Store: n.Store, Trust: c.Trust, Logger: n.Log, PublicURL: n.PublicURL, Queue: c.Queue, ReceiptKey: receiptKey,
		HTTP: c.Emulate.HTTP, Trace: c.Emulate.Trace,
		Engine: engine.Config{CacheDir: c.CacheDir, Deadline: c.Deadline, MaxPerKey: c.InstancesPerInstallation},
	}
	if hc.Engine.CacheDir == "" {
		hc.Engine.CacheDir = filepath.Join(c.DataDir, "cache")
	}
	if c.Store.IsEtcd() {
		if hc.Engine.MaxPerKey == 0 {
			// Each storage call waits on a network round trip and a quorum:
			// more instances keep an installation's calls from queueing
			// behind those waits (76 against 61 messages/s end to end in
			// the cluster scenario on 2 cores; see RATIONALE.md).
			hc.Engine.MaxPerKey = 16
		}
		if n.Cluster, err = joinCluster(ctx, n.Store, c, n.Log); err != nil {
			return err
		}
		// Several nodes share the cluster: they share out the queue's lanes,
		// and each paces the module's outbound requests at its share of
		// every limit, from the live member count a watch keeps.
		hc.Claims = n.Cluster
		// The store's read cache (Store.Open) may answer the bridge's reads
		// of these records; see CachedKeys.
		hc.CachedKeys = CachedKeys
		n.Members = cluster.WatchMembers(n.Store.Backend().(*etcd.DB).Client(), clusterConfig(c, n.Log))
		hc.Limiter = ratelimit.New(ratelimit.Config{Nodes: n.Members.Count})
		n.Log.Info("joined the cluster", "node", n.Cluster.ID())
	}
	if n.Host, err = host.New(ctx, hc); err != nil {
		return err
	}
	if n.Cluster != nil {
		rctx, stop := context.WithCancel(context.Background())
		n.stopReports, n.reported = stop, make(chan struct{})
		go n.report(rctx)
	}
	if err = n.Host.Load(ctx, c.BundleDir); err != nil {
		return err
	}
	// The bundle's scheduled triggers fire from here on; on a cluster,
	// once per interval across the nodes, under the nodes' claims.
	sc := schedule.Config{Runtime: schedule.ForHost(n.Host), Store: n.Store, Logger: n.Log}
	if n.Cluster != nil {
		sc.Claims = n.Cluster
	}
	n.Schedule, err = schedule.Start(sc)
	return err
}

// joinCluster makes this node a member of the nodes sharing the etcd
// store's prefix.
func joinCluster(ctx context.Context, store *seal.Store, c Config, log *slog.Logger) (*cluster.Node, error) {
	db, ok := store.Backend().(*etcd.DB)
	if !ok {
		return nil, errors.New("node: an etcd store without an etcd backend")
	}
	return cluster.Join(ctx, db.Client(), clusterConfig(c, log))
}

func clusterConfig(c Config, log *slog.Logger) cluster.Config {
	return cluster.Config{Prefix: ClusterPrefix(c.Store.Prefix), TTL: c.ClusterTTL, Logger: log}
}

// ReportInterval is how often a cluster node publishes its queue's
// counters for the other nodes' admin API (GET /admin/queue), when they
// changed.
const ReportInterval = 2 * time.Second

// report publishes the queue's counters every ReportInterval while they
// change, and once more after the node joined again under a new id.
func (n *Node) report(ctx context.Context) {
	defer close(n.reported)
	t := time.NewTicker(ReportInterval)
	defer t.Stop()
	var last []byte
	var lastID string
	for {
		b, _ := json.Marshal(n.Host.Queue().Stats())
		if id := n.Cluster.ID(); id != lastID || !bytes.Equal(b, last) {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := n.Cluster.Publish(pctx, b); err == nil {
				last, lastID = b, id
			} else if ctx.Err() == nil {
				n.Log.Warn("node: queue report not published", "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// adminHandler serves the admin API and the admin UI under /admin/, and
// the emulator's extra paths beside them.
func (n *Node) adminHandler(c Config) http.Handler {
	an := c.adminNode(n.Store)
	if n.Cluster != nil {
		an.Cluster = n.Cluster
	}
	api := adminui.Mount(adminapi.Handler(n.Host, n.Token, an), n.Token)
	if c.Emulate.AdminExtra == nil {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", api)
	mux.Handle("/", c.Emulate.AdminExtra)
	return mux
}

// adminNode is what the admin API's node-wide operations (backup, master
// key rotation, bundle reload) need: the store, the key file its master
// keys came from (none when they came from the environment, which
// seal.LoadMasterKeys prefers), and the bundle directory.
func (c Config) adminNode(store *seal.Store) adminapi.Node {
	n := adminapi.Node{Store: store, BundleDir: c.BundleDir}
	switch {
	case c.DevKeys:
		n.MasterKeyFile = DevMasterKeyFile(c.DataDir)
	case os.Getenv(seal.EnvMasterKey) == "":
		n.MasterKeyFile = c.MasterKeyFile
	}
	return n
}

// EdgeConfig is the edge's configuration. Start opens the listeners itself,
// but the addresses go in too: the admin address's host is a name the admin
// listener serves, and one off loopback gets a warning. The admin token is
// also the admin listener's proof of a write from the operator's tools.
func (c Config) EdgeConfig(admin http.Handler, token string) proxy.Config {
	return proxy.Config{
		Addr: c.Listen, CertFile: c.CertFile, KeyFile: c.KeyFile,
		ReadTimeout: c.Edge.ReadTimeout, WriteTimeout: c.Edge.WriteTimeout,
		RouteRate: c.Edge.RouteRate, InstallationRate: c.Edge.InstallationRate, MaxConnsPerIP: c.Edge.ConnsPerIP,
		RouteBurst: c.Edge.RouteBurst, InstallationBurst: c.Edge.InstallationBurst,
		Admin: proxy.AdminConfig{Addr: c.Admin, Hosts: c.AdminHosts, Extra: admin,
			Token: token, TokenFile: filepath.Join(c.DataDir, AdminTokenFile)},
	}
}

// Stopped delivers the error of a listener that stopped on its own.
func (n *Node) Stopped() <-chan error { return n.stopped }

// Shutdown stops accepting, drains in-flight requests and invocations, and
// closes storage, flushing it.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.Edge != nil {
		if err := n.Edge.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if n.Schedule != nil {
		// Before the host: a firing under way finishes on a running host.
		errs = append(errs, n.Schedule.Stop(ctx))
	}
	if n.stopReports != nil {
		n.stopReports()
		<-n.reported
	}
	if n.Host != nil {
		errs = append(errs, n.Host.Close(ctx))
	}
	if n.Members != nil {
		n.Members.Close()
	}
	if n.Cluster != nil {
		errs = append(errs, n.Cluster.Close())
	}
	if n.Store != nil {
		errs = append(errs, n.Store.Close())
	}
	return errors.Join(errs...)
}
