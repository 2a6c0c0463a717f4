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

// TestAdminListener_WritesNeedASameOriginProof: a state-changing request
// is served only with the admin token or from the listener's own origin
// (issue 21: "every state-changing request must carry a same-origin proof
// ... a missing Origin on a non-simple request is refused"), so no page can
// change state (the console's config.set, the simulators' control API),
// while the operator's tools with the token and the console's own page can.
func TestAdminListener_WritesNeedASameOriginProof(t *testing.T) {
	const token = "0123456789abcdef"
	cfg := testConfig(t)
	var writes atomic.Int64
	cfg.Admin.Extra = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" {
			writes.Add(1)
		}
		io.WriteString(w, "done")
	})
	cfg.Admin.Token, cfg.Admin.TokenFile = token, "data/admin.token"
	ts := startServer(t, cfg, nil)
	_, port, _ := net.SplitHostPort(ts.admin)
	self := "http://" + ts.admin
	bearer := "Bearer " + token

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
		{"a same-origin Origin without Sec-Fetch-Site writes (browsers before 2023)", "DELETE", "",
			[]string{"Origin", self, "User-Agent", chromeAgent}, 200},
		{"curl with the admin token writes (README's lines)", "POST", "",
			[]string{"User-Agent", curlAgent, "Content-Type", "application/x-www-form-urlencoded", "Authorization", bearer}, 200},
		{"a script's JSON post with the token writes", "POST", "",
			[]string{"User-Agent", "Go-http-client/1.1", "Content-Type", "application/json", "Authorization", bearer}, 200},
		{"a PUT with the token writes (dev -sims registering the Jira webhook)", "PUT", "",
			[]string{"Authorization", bearer}, 200},
		{"a DELETE with the token writes", "DELETE", "",
			[]string{"Authorization", bearer}, 200},
		{"a JSON post without Origin or token is refused (not CORS-simple)", "POST", "",
			[]string{"User-Agent", curlAgent, "Content-Type", "application/json"}, 403},
		{"a PUT without Origin or token is refused", "PUT", "",
			[]string{"User-Agent", "Go-http-client/1.1"}, 403},
		{"a DELETE without Origin or token is refused", "DELETE", "", nil, 403},
		{"curl -d without the token is refused (a form post without Origin)", "POST", "",
			[]string{"User-Agent", curlAgent, "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"an old browser's form post without Origin is refused", "POST", "",
			[]string{"User-Agent", chromeAgent, "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"a browser's post without Origin or Content-Type is refused", "POST", "",
			[]string{"User-Agent", chromeAgent}, 403},
		{"Sec-Fetch-Site same-origin without Origin is refused", "POST", "",
			[]string{"Sec-Fetch-Site", "same-origin", "User-Agent", chromeAgent}, 403},
		{"a wrong token is refused", "POST", "",
			[]string{"User-Agent", curlAgent, "Content-Type", "application/json", "Authorization", "Bearer " + token + "0"}, 401},
		{"the token in another scheme is refused", "POST", "",
			[]string{"Authorization", "Basic " + token}, 401},
		{"two Authorization headers are refused", "POST", "",
			[]string{"Authorization", bearer, "Authorization", "Bearer x"}, 401},
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
			[]string{"Origin", self, "Origin", self}, 403},
		{"a read from another origin is served (the browser keeps its answer from the page)", "GET", "",
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 200},
		{"a read without Origin or token is served", "GET", "", nil, 200},
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
			if tt.want == 403 || tt.want == 401 {
				// The refusal tells the operator what to send, and never
				// echoes the token.
				if !strings.Contains(string(body), `-H "Authorization: Bearer $(cat data/admin.token)"`) || strings.Contains(string(body), token) {
					t.Fatalf("refusal %q does not say what to send, or shows the token", body)
				}
			}
		})
	}
}

// TestLocalGuard_WithoutATokenOnlyTheListenersOwnPagesWrite: the zero
// value (no token) accepts a write only from its own origin.
func TestLocalGuard_WithoutATokenOnlyTheListenersOwnPagesWrite(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"own origin", []string{"Origin", "http://127.0.0.1:9091"}, 200},
		{"no Origin", nil, 403},
		{"any bearer token", []string{"Authorization", "Bearer "}, 403},
		{"another origin with a bearer token", []string{"Origin", "http://evil.example", "Authorization", "Bearer x"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/_sim/telegram/send", nil)
			r.Host = "127.0.0.1:9091"
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				r.Header.Add(tt.hdr[i], tt.hdr[i+1])
			}
			w := httptest.NewRecorder()
			LocalGuard{}.Handler(ok).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if w.Code == 403 && !strings.Contains(w.Body.String(), "own pages only") {
				t.Fatalf("refusal %q does not say what writes", w.Body)
			}
		})
	}
}

func TestLocalGuard_RefusalQuotesTheTokenFileForTheShell(t *testing.T) {
	for file, want := range map[string]string{
		"data/admin.token":           "$(cat data/admin.token)",
		"/home/a b/admin.token":      "$(cat '/home/a b/admin.token')",
		"/tmp/it's/admin.token":      `$(cat '/tmp/it'\''s/admin.token')`,
		"/tmp/$(reboot)/admin.token": "$(cat '/tmp/$(reboot)/admin.token')",
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Host = "localhost"
		w := httptest.NewRecorder()
		LocalGuard{Token: "t", TokenFile: file}.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %q does not contain %q", file, w.Body, want)
		}
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
