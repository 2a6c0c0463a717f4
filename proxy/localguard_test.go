package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	curlAgent   = "curl/8.5.0"
	chromeAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)

// TestAdminListener_AnswersOnlyTheHostNamesItServes: a page that rebinds
// its own name to the admin listener's address (DNS rebinding) reads
// nothing there, not even /metrics.
func TestAdminListener_AnswersOnlyTheHostNamesItServes(t *testing.T) {
	cfg := testConfig(t)
	var extra atomic.Int64
	cfg.Admin.Extra = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		extra.Add(1)
		io.WriteString(w, "secret")
	})
	cfg.Admin.Hosts = []string{"Admin.Internal."}
	ts := startServer(t, cfg, nil)
	_, port, _ := net.SplitHostPort(ts.admin)

	tests := []struct {
		name, host, path string
		want             int
	}{
		{"the listen address is served", ts.admin, AdminMetrics, 200},
		{"localhost is served", "localhost:" + port, AdminMetrics, 200},
		{"localhost. is served", "localhost.:" + port, AdminMetrics, 200},
		{"the IPv6 loopback is served", "[::1]:" + port, AdminMetrics, 200},
		{"a name from Hosts is served, in any case", "admin.INTERNAL:" + port, "/_console/state", 200},
		{"a rebound name cannot read metrics", "rebind.evil.example:" + port, AdminMetrics, 421},
		{"a rebound name cannot read health", "rebind.evil.example:" + port, AdminHealthz, 421},
		{"a rebound name cannot read the console", "rebind.evil.example:" + port, "/_console/storage?space=secret", 421},
		{"a rebound name without a port is refused", "rebind.evil.example", "/_sim/telegram/sent", 421},
		{"a subdomain of localhost is refused", "a.localhost:" + port, AdminMetrics, 421},
		{"an address the connection did not come in on is refused", "10.1.2.3:" + port, AdminMetrics, 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := extra.Load()
			req, _ := http.NewRequest("GET", "http://"+ts.admin+tt.path, nil)
			req.Host = tt.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == 421 && (extra.Load() != before || strings.Contains(string(body), "secret") || strings.Contains(string(body), "chatbridge_")) {
				t.Fatalf("a refused request was served: %s", body)
			}
		})
	}
	t.Run("a request without Host (HTTP/1.0) is refused", func(t *testing.T) {
		c, err := net.Dial("tcp", ts.admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /metrics HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 421 {
			t.Fatalf("status %d, want 421", resp.StatusCode)
		}
	})
}

// TestAdminListener_WritesNeedASameOriginProof: no page can change state
// through the admin listener (the console's config.set, the simulators'
// control API), while curl, the CLI and the console's own page can.
func TestAdminListener_WritesNeedASameOriginProof(t *testing.T) {
	cfg := testConfig(t)
	var writes atomic.Int64
	cfg.Admin.Extra = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" {
			writes.Add(1)
		}
		io.WriteString(w, "done")
	})
	ts := startServer(t, cfg, nil)
	_, port, _ := net.SplitHostPort(ts.admin)
	self := "http://" + ts.admin

	tests := []struct {
		name   string
		method string
		host   string // default ts.admin
		hdr    []string
		want   int
	}{
		{"the console's own page writes (Origin and Sec-Fetch-Site same-origin)", "POST", "",
			[]string{"Origin", self, "Sec-Fetch-Site", "same-origin", "User-Agent", chromeAgent, "Content-Type", "application/json"}, 200},
		{"the same page reached as localhost writes", "POST", "localhost:" + port,
			[]string{"Origin", "http://localhost:" + port, "Sec-Fetch-Site", "same-origin", "User-Agent", chromeAgent}, 200},
		{"a page elsewhere cannot write (Origin of another site)", "POST", "",
			[]string{"Origin", "https://evil.example", "User-Agent", chromeAgent, "Content-Type", "text/plain"}, 403},
		{"a page on another loopback port cannot write", "POST", "",
			[]string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site", "User-Agent", chromeAgent}, 403},
		{"a page at localhost cannot write to 127.0.0.1", "POST", "",
			[]string{"Origin", "http://localhost:" + port, "User-Agent", chromeAgent}, 403},
		{"an opaque origin cannot write (Origin: null)", "POST", "",
			[]string{"Origin", "null", "User-Agent", chromeAgent, "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"Sec-Fetch-Site same-site is refused even with a matching Origin", "POST", "",
			[]string{"Origin", self, "Sec-Fetch-Site", "same-site", "User-Agent", chromeAgent}, 403},
		{"Sec-Fetch-Site cross-site is refused", "POST", "",
			[]string{"Sec-Fetch-Site", "cross-site", "User-Agent", chromeAgent, "Content-Type", "text/plain"}, 403},
		{"Sec-Fetch-Site none is refused for a write", "POST", "",
			[]string{"Sec-Fetch-Site", "none", "User-Agent", chromeAgent}, 403},
		{"a DELETE from another origin is refused", "DELETE", "",
			[]string{"Origin", "https://evil.example"}, 403},
		{"a PUT from another origin is refused", "PUT", "",
			[]string{"Origin", "https://evil.example", "Content-Type", "application/json"}, 403},
		{"two Origin headers are refused", "POST", "",
			[]string{"Origin", self, "Origin", "https://evil.example"}, 403},
		{"an old browser's form post without Origin is refused", "POST", "",
			[]string{"User-Agent", chromeAgent, "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"an old browser's text/plain post without Origin is refused", "POST", "",
			[]string{"User-Agent", chromeAgent, "Content-Type", "text/plain; charset=utf-8"}, 403},
		{"a browser's post without Origin or Content-Type is refused", "POST", "",
			[]string{"User-Agent", chromeAgent}, 403},
		{"curl -d writes as README shows (a form post without Origin)", "POST", "",
			[]string{"User-Agent", curlAgent, "Content-Type", "application/x-www-form-urlencoded"}, 200},
		{"a script's JSON post without Origin writes", "POST", "",
			[]string{"User-Agent", "Go-http-client/1.1", "Content-Type", "application/json"}, 200},
		{"a JSON post with a browser's User-Agent but no Origin writes: no page can send it without a preflight", "POST", "",
			[]string{"User-Agent", chromeAgent, "Content-Type", "application/json"}, 200},
		{"a PUT without Origin writes (the CLI, sims -webhook registration)", "PUT", "",
			[]string{"User-Agent", "Go-http-client/1.1"}, 200},
		{"a post with the admin API's Authorization writes", "POST", "",
			[]string{"User-Agent", chromeAgent, "Authorization", "Bearer x", "Content-Type", "text/plain"}, 200},
		{"a read from another origin is served (the browser keeps its answer from the page)", "GET", "",
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := writes.Load()
			req, _ := http.NewRequest(tt.method, "http://"+ts.admin+"/_sim/telegram/send", strings.NewReader(`{"chat_id":1001,"text":"hi"}`))
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Del("User-Agent")
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Add(tt.hdr[i], tt.hdr[i+1])
			}
			if req.Header.Get("User-Agent") == "" {
				req.Header.Set("User-Agent", "") // Go's client then sends none
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			wrote := writes.Load() != before
			if wrote != (tt.want == 200 && tt.method != "GET") {
				t.Fatalf("write reached the handler: %v", wrote)
			}
		})
	}
}

func TestLocalGuard_ServesTheListenAddressHostName(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		addr, host string
		want       int
	}{
		{"admin.example:9091", "admin.example:9091", 200},
		{"admin.example:9091", "other.example:9091", 421},
		{"0.0.0.0:9091", "localhost:9091", 200},
		{"0.0.0.0:9091", "0.0.0.0:9091", 421},
		{":9091", "127.0.0.1:9091", 200},
		{"[::1]:9091", "[::1]:9091", 200},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" "+tt.host, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			LocalGuard{Addr: tt.addr}.Handler(ok).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}
