package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/chatbridge/chatbridge/proxy"
	"github.com/chatbridge/chatbridge/proxy/internal/load"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

func main() {
	var (
		conns    = flag.Int("conns", 64, "keep-alive connections")
		duration = flag.Duration("duration", 10*time.Second, "measured time per server")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured time before each measurement")
		nginx    = flag.String("nginx", "nginx", "nginx binary; empty skips nginx")
		rounds   = flag.Int("rounds", 1, "alternate proxy and nginx this many times (fairer on a shared machine)")
		role     = flag.String("role", "", "internal: run as the proxy child process")
		cert     = flag.String("cert", "", "internal: certificate file")
		key      = flag.String("key", "", "internal: key file")
		route    = flag.String("route", "", "internal: route id")
		profile  = flag.String("cpuprofile", "", "write the proxy process's CPU profile to this file")
	)
	flag.Parse()
	if *role == "proxy" {
		if *profile != "" {
			f, err := os.Create(*profile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "edgebench proxy:", err)
				os.Exit(1)
			}
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		if err := serveProxy(*cert, *key, *route, *conns); err != nil {
			fmt.Fprintln(os.Stderr, "edgebench proxy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*conns, *rounds, *duration, *warmup, *nginx, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

func run(conns, rounds int, duration, warmup time.Duration, nginxBin, profile string) error {
	dir, err := os.MkdirTemp("", "edgebench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certFile, keyFile, err := proxy.DevCertificate(dir)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(conns)}

	route := proxy.NewRouteID()
	body := `{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"hello"}}`
	request := []byte("POST " + publicurl.WebTriggerPrefix + route + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	cfg := load.Config{TLS: tlsCfg, Conns: conns, Duration: duration, Warmup: warmup, Requests: [][]byte{request}}

	type row struct {
		name string
		res  load.Result
	}
	var rows []row
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if nginxBin != "" {
		if _, err := exec.LookPath(nginxBin); err != nil {
			fmt.Fprintf(os.Stderr, "edgebench: %s not found, skipping nginx (Debian: apt-get install -y nginx)\n", nginxBin)
			nginxBin = ""
		}
	}
	for range max(rounds, 1) {
		px := exec.Command(self, "-role=proxy", "-cert="+certFile, "-key="+keyFile, "-route="+route,
			"-conns="+strconv.Itoa(conns), "-cpuprofile="+profile)
		addr, stop, err := startChild(px)
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		cfg.Addr = addr
		res, err := load.Run(context.Background(), cfg)
		stop()
		if err != nil {
			return err
		}
		rows = append(rows, row{"chatbridge proxy (fasthttp)", res})

		if nginxBin != "" {
			addr, stop, err := startNginx(nginxBin, dir, certFile, keyFile)
			if err != nil {
				return fmt.Errorf("nginx: %w", err)
			}
			cfg.Addr = addr
			res, err := load.Run(context.Background(), cfg)
			stop()
			if err != nil {
				return err
			}
			rows = append(rows, row{"nginx (return 200)", res})
		}
	}

	fmt.Printf("edgebench: %d keep-alive TLS connections, %v measured after %v warm-up, GOMAXPROCS/cores %d\n\n",
		conns, duration, warmup, numCPU())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "server\trequests/s\tp50\tp90\tp99\tmax\terrors\tnon-200\t")
	for _, r := range rows {
		non200 := r.res.Requests - r.res.Status[200]
		fmt.Fprintf(w, "%s\t%.0f\t%v\t%v\t%v\t%v\t%d\t%d\t\n", r.name, r.res.RPS(),
			round(r.res.P50), round(r.res.P90), round(r.res.P99), round(r.res.Max), r.res.Errors, non200)
	}
	w.Flush()
	// Totals over all rounds: requests over measured time, and the
	// median of the rounds' p50 and p99.
	type total struct {
		reqs     int64
		secs     float64
		p50, p99 []time.Duration
	}
	totals := map[string]*total{}
	for _, r := range rows {
		t := totals[r.name]
		if t == nil {
			t = &total{}
			totals[r.name] = t
		}
		t.reqs += r.res.Requests
		t.secs += r.res.Elapsed.Seconds()
		t.p50 = append(t.p50, r.res.P50)
		t.p99 = append(t.p99, r.res.P99)
	}
	median := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)/2]
	}
	px, ng := totals["chatbridge proxy (fasthttp)"], totals["nginx (return 200)"]
	if px != nil && ng != nil && ng.reqs > 0 {
		pr, nr := float64(px.reqs)/px.secs, float64(ng.reqs)/ng.secs
		fmt.Printf("\nover %d round(s): proxy %.0f requests/s, nginx %.0f requests/s\n", max(rounds, 1), pr, nr)
		fmt.Printf("proxy/nginx requests/s ratio: %.2f\n", pr/nr)
		fmt.Printf("proxy/nginx p50 latency ratio: %.2f, p99 latency ratio: %.2f (medians of rounds)\n",
			float64(median(px.p50))/float64(median(ng.p50)), float64(median(px.p99))/float64(median(ng.p99)))
	}
	for _, r := range rows {
		if r.res.Errors > 0 || r.res.Requests != r.res.Status[200] {
			return fmt.Errorf("%s: %d errors, statuses %v, samples %v", r.name, r.res.Errors, r.res.Status, r.res.Samples)
		}
	}
	return nil
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func numCPU() int {
	n := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(b), "\nprocessor")
		if strings.HasPrefix(string(b), "processor") {
			n++
		}
	}
	return n
}

// startChild runs cmd, waits for it to print "addr=<host:port>" and
// returns that address and a function that stops the process.
func startChild(cmd *exec.Cmd) (string, func(), error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("no address from the child: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr=")
	if !ok {
		stop()
		return "", nil, fmt.Errorf("child said %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return addr, stop, nil
}

// serveProxy is the child process: the proxy with a backend that answers
// 200 at once, limits opened wide for the benchmark, logs off as nginx's are.
func serveProxy(certFile, keyFile, route string, conns int) error {
	cfg := proxy.Config{
		CertFile: certFile, KeyFile: keyFile,
		MaxConns: 2*conns + 100, MaxConnsPerIP: 2*conns + 100, MaxInFlight: 2*conns + 100,
		RouteRate: 1e9, RouteBurst: 1 << 30, InstallationRate: 1e9, InstallationBurst: 1 << 30,
		DisableSIGHUPReload: true,
		Admin:               proxy.AdminConfig{Disabled: true},
	}
	srv, err := proxy.New(cfg, benchBackend{route: route}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("addr=%s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	return srv.Serve(ln)
}

type benchBackend struct{ route string }

func (b benchBackend) Lookup(id string) (proxy.Target, bool) {
	if id != b.route {
		return proxy.Target{}, false
	}
	return proxy.Target{Installation: "bench", Kind: proxy.WebTrigger, Trigger: "webhook"}, true
}

var okResponse = []proxy.Header{{Name: "Content-Type", Value: "text/plain"}}

func (benchBackend) Invoke(_ context.Context, _ proxy.Target, _ *proxy.Request) (*proxy.Response, error) {
	return &proxy.Response{Status: 200, Headers: okResponse, Body: []byte("ok")}, nil
}
func (benchBackend) Ready(context.Context) error  { return nil }
func (benchBackend) WriteMetrics(io.Writer) error { return nil }

// startNginx writes an nginx.conf into dir that answers 200 over TLS with
// the same certificate, runs nginx in the foreground and returns its
// address and a function that stops it.
func startNginx(bin, dir, certFile, keyFile string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o700); err != nil {
			return "", nil, err
		}
	}
	conf := fmt.Sprintf(`worker_processes 2;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen %[2]s ssl;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:1m;
        location / {
            default_type text/plain;
            return 200 "ok";
        }
    }
}
`, prefix, addr, certFile, keyFile)
	confFile := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confFile, "-e", filepath.Join(prefix, "logs", "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
			return "", nil, fmt.Errorf("nginx exited (%v): %s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("nginx did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
