package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
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

// linkBackend is a fakeBackend that also serves single-use download links.
type linkBackend struct {
	*fakeBackend
	mu     sync.Mutex // guards links
	links  map[string][]byte
	closed atomic.Int64 // bodies the proxy closed
}

func (b *linkBackend) add(content []byte) string {
	var r [32]byte
	rand.Read(r[:])
	tok := base64.RawURLEncoding.EncodeToString(r[:])
	b.mu.Lock()
	b.links[tok] = content
	b.mu.Unlock()
	return tok
}

func (b *linkBackend) Download(ctx context.Context, token string, consume bool) (*File, error) {
	b.mu.Lock()
	content, ok := b.links[token]
	if ok && consume {
		delete(b.links, token)
	}
	b.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	return &File{ContentType: "application/pdf", ContentDisposition: `attachment; filename="guide.pdf"`, Size: int64(len(content)),
		Body: &trackedBody{r: bytes.NewReader(content), b: b, ctx: ctx}}, nil
}

type trackedBody struct {
	r   io.Reader
	b   *linkBackend
	ctx context.Context
}

func (t *trackedBody) Read(p []byte) (int, error) { return t.r.Read(p) }
func (t *trackedBody) Close() error {
	t.b.closed.Add(1)
	return nil
}

var _ Downloader = (*linkBackend)(nil)

func startLinkServer(t *testing.T, cfg Config) (*linkBackend, *testServer) {
	return startLinkServerLogging(t, cfg, slog.New(slog.DiscardHandler))
}

func startLinkServerLogging(t *testing.T, cfg Config, logger *slog.Logger) (*linkBackend, *testServer) {
	t.Helper()
	b := &linkBackend{fakeBackend: newFakeBackend(), links: map[string][]byte{}}
	srv, err := New(cfg, b, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, t: t, addr: ln.Addr().String()}
	ts.roots = mustRoots(t, srv.cfg.CertFile)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return b, ts
}

func mustRoots(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return roots
}

func TestDownloadLinkStreamsOnceThen404(t *testing.T) {
	b, ts := startLinkServer(t, testConfig(t))
	content := bytes.Repeat([]byte("%PDF guide "), 20000) // 220 kB
	tok := b.add(content)
	c := ts.client()
	url := "https://" + ts.addr + DownloadPath(tok)

	head, err := c.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(content)) {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}

	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, content) {
		t.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/pdf", "Content-Disposition": `attachment; filename="guide.pdf"`,
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	} {
		if v := resp.Header.Get(name); v != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS")
	}

	again, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != 404 || strings.Contains(string(body), tok) || len(body) > 20 {
		t.Errorf("second GET: %d %q", again.StatusCode, body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.closed.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.closed.Load(); n != 2 {
		t.Errorf("%d bodies closed, want 2 (HEAD and GET)", n)
	}
}

func TestDownloadRoutesRefuseOtherMethodsAndMalformedTokens(t *testing.T) {
	b, ts := startLinkServer(t, testConfig(t))
	tok := b.add([]byte("x"))
	c := ts.client()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", DownloadPath(tok), 405},
		{"PUT", DownloadPath(tok), 405},
		{"GET", DownloadPath(tok[:20]), 404},
		{"GET", DownloadPath(tok) + "/", 404},
		{"GET", DownloadPath(strings.Repeat("A", 43)), 404},
	} {
		req, _ := http.NewRequest(tc.method, "https://"+ts.addr+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	// The link survived all of that.
	resp, err := c.Get("https://" + ts.addr + DownloadPath(tok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET after refusals: %d", resp.StatusCode)
	}
}

func TestDownloadsAreRateLimitedPerClient(t *testing.T) {
	cfg := testConfig(t)
	cfg.RouteRate, cfg.RouteBurst = 0.001, 3
	_, ts := startLinkServer(t, cfg)
	c := ts.client()
	var codes []int
	for range 5 {
		resp, err := c.Get("https://" + ts.addr + DownloadPath(strings.Repeat("B", 43)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 404 || codes[2] != 404 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("codes %v, want three 404s then 429s", codes)
	}
}

func TestWithoutADownloaderDownloadPathsAre404(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	resp, err := ts.client().Get("https://" + ts.addr + DownloadPath(strings.Repeat("C", 43)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("%d", resp.StatusCode)
	}
}

func TestDownloadLogsCarryNoToken(t *testing.T) {
	logs := &syncBuffer{}
	b, ts := startLinkServerLogging(t, testConfig(t), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	tok := b.add([]byte("secret file"))
	c := ts.client()
	for range 2 { // served, then 404
		resp, err := c.Get("https://" + ts.addr + DownloadPath(tok))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(logs.String(), `"kind":"download"`) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if strings.Count(out, `"kind":"download"`) != 2 {
		t.Fatalf("access log:\n%s", out)
	}
	for _, leak := range []string{tok, tok[:12], "secret file"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds %q:\n%s", leak, out)
		}
	}
}
