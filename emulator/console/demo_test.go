package console

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/devca"
	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// The demo page embeds the widget of the installation's web-widget trigger
// from the edge, under a policy that allows the edge and nothing else.
func TestDemoPageEmbedsTheWidgetFromTheEdge(t *testing.T) {
	ca, err := devca.New()
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ca.Leaf("example.atlassian.net")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	site := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/rest/api/3/myself":
			fmt.Fprint(w, `{"accountId":"app-1","accountType":"app"}`)
		case "/rest/servicedeskapi/servicedesk":
			fmt.Fprint(w, `{"size":1,"start":0,"limit":50,"isLastPage":true,"values":[{"id":"1","projectKey":"SUP"}]}`)
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = site.Serve(ln) }()
	t.Cleanup(func() { _ = site.Close() })
	const edge = "https://127.0.0.1:8443"
	h, err := host.New(context.Background(), host.Config{Store: memstore.New(), Trust: bundletest.Trust(t), PublicURL: edge,
		Engine: engine.Config{CacheDir: cacheDir}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTP: reroute.Client(map[string]string{"example.atlassian.net": ln.Addr().String()}, ca.Pool())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m = []byte(strings.Replace(string(m), "    - key: probe\n      function: main\n", "    - key: probe\n      function: main\n    - key: web-widget\n      function: main\n", 1))
	if err := h.Load(context.Background(), bundletest.Probe(t, m)); err != nil {
		t.Fatal(err)
	}
	in, _, err := h.Install(context.Background(), tenant.Site{URL: "https://example.atlassian.net", Authorization: "Basic c2l0ZTp0b2tlbg=="})
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	if resp, err := http.Get(httptest.NewServer(c.Handler()).URL + "/demo/widget?project=SUP"); err != nil || resp.StatusCode != 503 {
		t.Errorf("before Attach: %v %v", resp, err)
	}
	c.Attach(h, nil)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	if resp, _ := http.Get(srv.URL + "/demo/widget"); resp.StatusCode != 400 {
		t.Errorf("without a project: %d", resp.StatusCode)
	}
	resp, err := http.Get(srv.URL + "/demo/widget?project=SUP")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `<script src="` + edge + `/w/widget.js" async data-endpoint="` + edge + `/x/` + in.Routes["web-widget"] + `?project=SUP"></script>`
	if resp.StatusCode != 200 || in.Routes["web-widget"] == "" || !strings.Contains(string(body), want) {
		t.Fatalf("%d, want %s in:\n%s", resp.StatusCode, want, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src "+edge+";") || !strings.Contains(csp, "connect-src "+edge+";") || !strings.HasPrefix(csp, "default-src 'none'") ||
		!strings.Contains(csp, "frame-ancestors 'self';") {
		t.Errorf("policy %q", csp)
	}
	if !strings.Contains(string(body), "<code>"+srv.URL+"</code>") {
		t.Errorf("the page does not name its own origin to allow")
	}
}
