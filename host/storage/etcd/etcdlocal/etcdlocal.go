package etcdlocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoBinary is returned by Start when there is no etcd binary on PATH.
var ErrNoBinary = errors.New("etcdlocal: no etcd binary on PATH: run `make etcd` (apt-get install etcd-server)")

// startAttempts is how often Start tries a new set of ports: a port can be
// taken between choosing it and etcd binding it.
const startAttempts = 3

// Options change how Start runs the members. The zero value is plain HTTP
// under the system's temporary directory.
type Options struct {
	// Dir is the directory under which the cluster's own directory is
	// made. Default os.TempDir().
	Dir string
	// TLS makes the members serve clients over HTTPS with a certificate from
	// a CA of their own, and require client certificates from that CA
	// (Cluster.TLS names the files). Peers still talk plain HTTP on loopback.
	TLS bool
	// StartTimeout bounds how long each member may take to become healthy,
	// at start and at Restart. Default 30 s.
	StartTimeout time.Duration
}

// Cluster is a running etcd cluster whose members listen on 127.0.0.1.
type Cluster struct {
	// Endpoints are the members' client URLs, in member order.
	Endpoints []string
	// TLS names the CA and certificates when Options.TLS is set.
	TLS TLSFiles

	opts  Options
	hc    *http.Client // health checks
	bin   string
	dir   string
	token string
	peers string // --initial-cluster

	// mu guards members' processes, which Kill, Restart and Stop replace.
	mu      sync.Mutex
	members []*member
}

type member struct {
	name, dataDir, logFile string
	clientURL, peerURL     string
	cmd                    *exec.Cmd
	exited                 chan struct{}
}

// Binary returns the path of the etcd binary, or "" when there is none.
func Binary() string {
	p, err := exec.LookPath("etcd")
	if err != nil {
		return ""
	}
	return p
}

// Start starts an n-member cluster and waits until every member is
// healthy. The caller must Stop it.
func Start(ctx context.Context, n int, opts Options) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("etcdlocal: %d members", n)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	bin := Binary()
	if bin == "" {
		return nil, ErrNoBinary
	}
	var errs []error
	for try := 0; try < startAttempts; try++ {
		c, err := start(ctx, bin, n, opts)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", try+1, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("etcdlocal: could not start a %d-member cluster: %w", n, errors.Join(errs...))
}

func start(ctx context.Context, bin string, n int, opts Options) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.Dir, "etcd")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, token: filepath.Base(dir), opts: opts,
		hc: &http.Client{Timeout: time.Second}}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
		if c.TLS, err = writeTLS(dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		tc, err := c.TLS.clientTLS()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c.hc.Transport = &http.Transport{TLSClientConfig: tc}
	}
	var peers []string
	for i := 0; i < n; i++ {
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d.etcd", i)),
			logFile:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
			clientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		c.members = append(c.members, m)
		c.Endpoints = append(c.Endpoints, m.clientURL)
		peers = append(peers, m.name+"="+m.peerURL)
	}
	c.peers = strings.Join(peers, ",")
	for i := range c.members {
		if err := c.launch(i, "new"); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for i := range c.members {
		if err := c.waitHealthy(wctx, i); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// launch starts member i; state is "new" for a new cluster, "existing" for
// a restart. The caller holds mu or owns c alone.
func (c *Cluster) launch(i int, state string) error {
	m := c.members[i]
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", c.peers,
		"--initial-cluster-token", c.token,
		"--initial-cluster-state", state,
		// Loopback timings: a dead leader is replaced in about a second.
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-outputs", m.logFile,
	}
	if c.opts.TLS {
		args = append(args, "--cert-file", c.TLS.ServerCertFile, "--key-file", c.TLS.ServerKeyFile,
			"--trusted-ca-file", c.TLS.CAFile, "--client-cert-auth")
	}
	cmd := exec.Command(c.bin, args...)
	// The member reads ETCD_* variables as flags: start it without ours.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Pdeathsig: a member does not outlive a caller that dies before Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("etcdlocal: start %s: %w", m.name, err)
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	go func(ch chan struct{}) { _ = cmd.Wait(); close(ch) }(m.exited)
	return nil
}

// waitHealthy polls member i's /health until it reports a quorum.
func (c *Cluster) waitHealthy(ctx context.Context, i int) error {
	m := c.members[i]
	for {
		select {
		case <-m.exited:
			return fmt.Errorf("etcdlocal: %s exited: %s", m.name, c.logTail(i))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.clientURL+"/health", nil)
		if resp, err := c.hc.Do(req); err == nil {
			var b [256]byte
			n, _ := resp.Body.Read(b[:])
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b[:n]), `"true"`) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdlocal: %s not healthy: %w: %s", m.name, ctx.Err(), c.logTail(i))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the end of member i's log, for a failure message.
func (c *Cluster) logTail(i int) string {
	b, err := os.ReadFile(c.members[i].logFile)
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// DataDir returns member i's data directory (its bbolt database is
// member/snap/db, its write-ahead log member/wal).
func (c *Cluster) DataDir(i int) string { return c.members[i].dataDir }

// Pids returns the process ids of the running members, for measurements
// of their CPU time (`make bench`).
func (c *Cluster) Pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, m := range c.members {
		if m.cmd != nil {
			pids = append(pids, m.cmd.Process.Pid)
		}
	}
	return pids
}

// Kill stops member i with SIGKILL and waits until it has exited. Killing a
// member that is not running does nothing.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// Restart starts a killed member i again on its data and waits until it is
// healthy. Restarting a running member does nothing.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members[i].cmd != nil {
		return nil
	}
	if err := c.launch(i, "existing"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	return c.waitHealthy(ctx, i)
}

// Stop stops every member (SIGTERM, then SIGKILL after 5 s) and removes the
// cluster's directory. It returns an error naming the members that ignored
// SIGTERM, or the removal's error.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, m := range c.members {
		if m.cmd == nil {
			continue
		}
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
			errs = append(errs, fmt.Errorf("etcdlocal: %s ignored SIGTERM", m.name))
		}
		m.cmd = nil
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("etcdlocal: %w", err))
	}
	return errors.Join(errs...)
}
