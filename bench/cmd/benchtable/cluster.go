package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/bench/stack"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
)

// clusterRows is row 10 (issue #11): Telegram updates end to end through
// host nodes on a three-member etcd cluster (its members' data on disk, as
// in production), first one node, then two behind `chatbridge balance`. The
// nodes are `chatbridge dev -storage etcd` processes on the simulators of a
// `chatbridge sims` process, so every part is the shipped binary; each
// count of nodes gets a cluster of its own. The figure is row 1's: a closed
// loop of o.conns connections for o.phase, then until the Jira simulator
// holds every update, as updates per second through to Jira.
func clusterRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	var runs [2]e2e
	for i, nodes := range []int{1, 2} {
		r, err := measureCluster(ctx, a, o, nodes)
		if err != nil {
			return nil, fmt.Errorf("%d node(s): %w", nodes, err)
		}
		runs[i] = r
	}
	fig := func(m e2e) string {
		return fmt.Sprintf("%.0f upd/s to Jira (webhook %.0f/s, p50 %s, p99 %s)", m.sustained, m.accepted.Rate(), ms(m.accepted.Quantile(0.5)), ms(m.accepted.Quantile(0.99)))
	}
	return []row{{id: "10", what: fmt.Sprintf("Telegram update e2e on etcd (3 members), 1 host node vs 2 behind a balancer (%d conns, %v)", o.conns, o.phase),
		figure: "1 node: " + fig(runs[0]), peer: "2 nodes: " + fig(runs[1]),
		ratio: fmt.Sprintf("2 nodes %.2fx", runs[1].sustained/runs[0].sustained), goal: "-"}}, nil
}

// process is a child process of the row; stop ends it.
type process struct {
	cmd *exec.Cmd
	out *strings.Builder // stderr, for errors
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// startProcess runs bin with args and waits until a line of its output
// contains ready; it returns that line.
func startProcess(ctx context.Context, bin string, args []string, ready string) (*process, string, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	p := &process{cmd: cmd, out: &strings.Builder{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ready) {
				lines <- sc.Text()
				break
			}
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if ok {
			return p, line, nil
		}
	case <-time.After(2 * time.Minute):
	case <-ctx.Done():
	}
	p.stop()
	return nil, "", fmt.Errorf("%s %s did not get ready: %s", filepath.Base(bin), args[0], tail(p.out.String(), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// measureCluster starts etcd, the simulators, nodes host nodes and the
// balancer, loads them as row 1 loads one host, and stops them all.
func measureCluster(ctx context.Context, a *artifacts, o options, nodes int) (m e2e, err error) {
	return measureClusterOn(ctx, a, o, nodes, "")
}

// measureClusterOn is measureCluster with the etcd members' data under
// membersDir (row 12: tmpfs); "" puts it beside the rest, on disk.
func measureClusterOn(ctx context.Context, a *artifacts, o options, nodes int, membersDir string) (m e2e, err error) {
	dir := filepath.Join(a.work, fmt.Sprintf("cluster-%d", nodes))
	if err := os.RemoveAll(dir); err != nil {
		return m, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return m, err
	}
	if membersDir == "" {
		membersDir = dir
	}
	members, err := etcdlocal.Start(ctx, 3, etcdlocal.Options{Dir: membersDir})
	if err != nil {
		return m, err
	}
	defer func() {
		if serr := members.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	data := filepath.Join(dir, "data")
	var procs []*process
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()
	sims, line, err := startProcess(ctx, a.chatbridge, []string{"sims", "-data", data, "-listen", "127.0.0.1:0"}, "control API")
	if err != nil {
		return m, err
	}
	procs = append(procs, sims)
	control := strings.TrimSuffix(strings.Fields(line)[len(strings.Fields(line))-1], "/_sim/")
	lb, err := freeAddr()
	if err != nil {
		return m, err
	}
	var addrs []string
	for n := range nodes {
		bundleDir := filepath.Join(dir, fmt.Sprintf("bundle%d", n))
		if err := os.MkdirAll(bundleDir, 0o700); err != nil {
			return m, err
		}
		if err := os.WriteFile(filepath.Join(bundleDir, "plugin.wasm"), a.moduleBytes, 0o600); err != nil {
			return m, err
		}
		if err := os.WriteFile(filepath.Join(bundleDir, "manifest.yml"), a.mBts, 0o600); err != nil {
			return m, err
		}
		listen, err := freeAddr()
		if err != nil {
			return m, err
		}
		// One node at a time: the first installs the dev site, the next finds it.
		node, _, err := startProcess(ctx, a.chatbridge, []string{"dev", "-sims", control, "-data", data, "-bundle", bundleDir,
			"-listen", listen, "-admin", "127.0.0.1:0", "-public-url", "https://" + lb, "-log-level", "error",
			"-storage", "etcd", "-etcd-endpoints", strings.Join(members.Endpoints, ","),
			"-route-rate", "1e6", "-installation-rate", "1e6", "-conns-per-ip", "4096"}, "dev console:")
		if err != nil {
			return m, err
		}
		procs = append(procs, node)
		addrs = append(addrs, listen)
	}
	bal, _, err := startProcess(ctx, a.chatbridge, []string{"balance", "-listen", lb, "-to", strings.Join(addrs, ",")}, "balancing")
	if err != nil {
		return m, err
	}
	procs = append(procs, bal)

	var hook struct {
		URL         string `json:"url"`
		SecretToken string `json:"secret_token"`
	}
	if err := getJSON(control+"/_sim/telegram/webhook", &hook); err != nil || hook.URL == "" {
		return m, fmt.Errorf("the Telegram webhook: %v %+v", err, hook)
	}
	pem, err := os.ReadFile(filepath.Join(data, "dev", "dev-cert.pem"))
	if err != nil {
		return m, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	u := stack.NewUpdates(&stack.Stack{Installs: []stack.Installation{{WebhookURL: hook.URL, SecretToken: hook.SecretToken}}}, chatsPerRun)

	// Everything accepted reaches Jira as a request or a comment.
	sent := 0
	drain := func() (time.Duration, error) {
		t := time.Now()
		for {
			var list []struct {
				Comments []json.RawMessage `json:"comments"`
			}
			if err := getJSON(control+"/_sim/jira/requests", &list); err != nil {
				return 0, err
			}
			got := len(list)
			for _, r := range list {
				got += len(r.Comments)
			}
			if got >= sent {
				return time.Since(t), nil
			}
			if time.Since(t) > 3*time.Minute {
				return 0, fmt.Errorf("%d of %d updates in Jira after 3 minutes", got, sent)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	warm, err := stack.Closed(ctx, client, u.Request, 8, time.Second)
	if err != nil {
		return m, fmt.Errorf("warm-up: %w", err)
	}
	sent += warm.OK
	if _, err := drain(); err != nil {
		return m, err
	}
	etcdCPU := func() (t time.Duration) {
		for _, pid := range members.Pids() {
			t += cpuOf(pid)
		}
		return t
	}
	cpu0 := etcdCPU()
	if m.accepted, err = stack.Closed(ctx, client, u.Request, o.conns, o.phase); err != nil {
		return m, err
	}
	sent += m.accepted.OK
	if m.drain, err = drain(); err != nil {
		return m, err
	}
	m.etcdCPU = etcdCPU() - cpu0
	if m.accepted.OK == 0 {
		return m, errors.New("no update accepted")
	}
	m.sustained = float64(m.accepted.OK) / (m.accepted.Elapsed + m.drain).Seconds()
	return m, nil
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
