package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBackend records calls and answers as told.
type fakeBackend struct {
	mu         sync.Mutex // guards routes, calls, reqs
	routes     map[string]Target
	reqs       []*Request
	lastTarget Target

	lookups atomic.Int64
	calls   atomic.Int64
	ready   atomic.Pointer[error]
	// invoke, when set, answers instead of the default 200 "ok".
	invoke atomic.Pointer[invokeFunc]
}

type invokeFunc func(ctx context.Context, t Target, req *Request) (*Response, error)

func (b *fakeBackend) setInvoke(f invokeFunc) {
	if f == nil {
		b.invoke.Store(nil)
		return
	}
	b.invoke.Store(&f)
}

func newFakeBackend() *fakeBackend { return &fakeBackend{routes: map[string]Target{}} }

func (b *fakeBackend) add(kind Kind, installation string) string {
	id := NewRouteID()
	b.mu.Lock()
	b.routes[id] = Target{Installation: installation, Kind: kind, Trigger: "trigger-" + installation}
	b.mu.Unlock()
	return id
}

func (b *fakeBackend) Lookup(id string) (Target, bool) {
	b.lookups.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.routes[id]
	return t, ok
}

func (b *fakeBackend) Invoke(ctx context.Context, t Target, req *Request) (*Response, error) {
	b.calls.Add(1)
	b.mu.Lock()
	if len(b.reqs) < 1000 {
		b.reqs = append(b.reqs, req)
	}
	b.lastTarget = t
	b.mu.Unlock()
	if f := b.invoke.Load(); f != nil {
		return (*f)(ctx, t, req)
	}
	return &Response{Status: 200, Headers: []Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("ok")}, nil
}

func (b *fakeBackend) Ready(context.Context) error {
	if p := b.ready.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *fakeBackend) WriteMetrics(w io.Writer) error {
	_, err := io.WriteString(w, "# TYPE chatbridge_host_invocations_total counter\nchatbridge_host_invocations_total 7\n")
	return err
}

func (b *fakeBackend) target() Target {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastTarget
}

func (b *fakeBackend) lastRequest() *Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		return nil
	}
	return b.reqs[len(b.reqs)-1]
}

// syncBuffer is a log sink tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a Server serving real TLS on loopback.
type testServer struct {
	*Server
	t       *testing.T
	backend *fakeBackend
	addr    string
	admin   string
	roots   *x509.CertPool
	logs    *syncBuffer
	route   string // a web trigger route of installation "inst-a"
	served  chan error
}

// testConfig is a Config with short timeouts so that tests finish quickly.
func testConfig(t testing.TB) Config {
	t.Helper()
	certFile, keyFile, err := DevCertificate(sharedCertDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		CertFile:            certFile,
		KeyFile:             keyFile,
		DisableSIGHUPReload: true,
		ReadTimeout:         2 * time.Second,
		WriteTimeout:        2 * time.Second,
		IdleTimeout:         2 * time.Second,
		InvokeTimeout:       2 * time.Second,
		ShutdownTimeout:     3 * time.Second,
		RouteRate:           1000,
		RouteBurst:          1000,
		InstallationRate:    1000,
		InstallationBurst:   1000,
	}
}

var (
	certDirOnce sync.Once
	certDir     string
)

// sharedCertDir holds one development certificate for the whole test
// binary; generating one per test would only cost time.
func sharedCertDir(t testing.TB) string {
	certDirOnce.Do(func() {
		d, err := os.MkdirTemp("", "proxy-test-cert-*")
		if err != nil {
			t.Fatal(err)
		}
		certDir = d
	})
	return certDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if certDir != "" {
		os.RemoveAll(certDir)
	}
	os.Exit(code)
}

func startServer(t *testing.T, cfg Config, b *fakeBackend) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	ts := startServerLogging(t, cfg, b, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ts.logs = logs
	return ts
}

func startServerLogging(t *testing.T, cfg Config, b *fakeBackend, logger *slog.Logger) *testServer {
	t.Helper()
	if b == nil {
		b = newFakeBackend()
	}
	srv, err := New(cfg, b, logger)
	if err != nil {
		t.Fatal(err)
	}
	return serveTest(t, srv, b)
}

// serveTest serves srv, whose backend is or wraps b, on loopback until the
// test ends.
func serveTest(t *testing.T, srv *Server, b *fakeBackend) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		Server: srv, t: t, backend: b, served: make(chan error, 2),
		addr: ln.Addr().String(), admin: aln.Addr().String(),
		route: b.add(WebTrigger, "inst-a"),
	}
	pem, err := os.ReadFile(srv.cfg.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	ts.roots = x509.NewCertPool()
	ts.roots.AppendCertsFromPEM(pem)
	go func() { ts.served <- srv.Serve(ln) }()
	go func() { ts.served <- srv.ServeAdmin(aln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		for range 2 {
			select {
			case err := <-ts.served:
				if err != nil {
					t.Errorf("Serve returned %v after Shutdown", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Serve did not return after Shutdown")
			}
		}
	})
	return ts
}

func (ts *testServer) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: ts.roots, ServerName: "127.0.0.1"}
}

// client returns an HTTPS client trusting the test certificate; each call
// gets its own connection pool.
func (ts *testServer) client() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   ts.tlsConfig(),
			ForceAttemptHTTP2: false,
		},
	}
}

func (ts *testServer) url(path string) string { return "https://" + ts.addr + path }

// do sends one request on a fresh connection and returns status, headers and body.
func (ts *testServer) do(method, path string, body string, hdr ...string) (int, http.Header, string) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url(path), strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := ts.client()
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// assertHealthy checks that a normal web trigger request still succeeds:
// every attack test ends with it.
func (ts *testServer) assertHealthy() {
	ts.t.Helper()
	before := ts.backend.calls.Load()
	code, _, body := ts.do("POST", WebTriggerPath(ts.route), `{"update_id":1}`)
	if code != 200 || body != "ok" {
		ts.t.Fatalf("server unhealthy after the test: status %d body %q", code, body)
	}
	if ts.backend.calls.Load() != before+1 {
		ts.t.Fatalf("healthy request did not reach the backend")
	}
}

// dial opens a raw TLS connection to the public listener.
func (ts *testServer) dial() *tls.Conn {
	ts.t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, ts.tlsConfig())
	if err != nil {
		ts.t.Fatalf("dial: %v", err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// rawExchange writes raw bytes on a fresh TLS connection and reads one
// response. It also reports whether the server then closed the connection.
func (ts *testServer) rawExchange(raw string) (resp *http.Response, body string, closed bool, err error) {
	c := ts.dial()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, "", false, fmt.Errorf("write: %w", err)
	}
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", false, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, rerr := br.ReadByte()
	closed = rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded)
	return resp, string(b), closed, nil
}

// metricsText fetches /metrics from the admin listener.
func (ts *testServer) metricsText() string {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.admin + AdminMetrics)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
