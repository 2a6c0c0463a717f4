package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/hostedge"
	"github.com/chatbridge/chatbridge/proxy"
)

// devTLS returns a TLS configuration trusting the dev certificate of data.
func devTLS(t *testing.T, data string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(data, "dev", "dev-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in dev-cert.pem")
	}
	return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
}

// TestBinaryAnswersASlowClient408OverTLSWithEqualTimeouts runs the real
// binary with ReadTimeout equal to WriteTimeout (as the defaults are): a
// client that stalls in its request must read a clean 408, not a broken TLS
// record (issue 21, item 1).
func TestBinaryAnswersASlowClient408OverTLSWithEqualTimeouts(t *testing.T) {
	// Not in parallel: its timing (a 1 s read timeout, a refilling
	// bucket) wants the machine no busier than the sequential tests make it.
	data := t.TempDir()
	dev := startDev(t, "-bundle", probeBundleDir(t), "-data", data, "-read-timeout", "1s", "-write-timeout", "1s")
	pub, err := url.Parse(dev.public)
	if err != nil {
		t.Fatal(err)
	}
	conf := devTLS(t, data)
	head := "POST /x/" + proxy.NewRouteID() + " HTTP/1.1\r\nHost: " + pub.Host + "\r\n"

	expect408 := func(t *testing.T, br *bufio.Reader) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to a stalled request: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusRequestTimeout || string(body) != "Request Timeout\n" {
			t.Fatalf("got %d %q (%v), want 408", resp.StatusCode, body, err)
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the 408: %v, want a clean close", err)
		}
	}
	dial := func(t *testing.T) (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", pub.Host, conf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		return c, bufio.NewReader(c)
	}
	t.Run("a request stalled in its headers", func(t *testing.T) {
		c, br := dial(t)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		expect408(t, br)
	})
	t.Run("a request stalled in its body", func(t *testing.T) {
		c, br := dial(t)
		if _, err := io.WriteString(c, head+"Content-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		expect408(t, br)
	})
	t.Run("a keep-alive request stalled after an answered one", func(t *testing.T) {
		c, br := dial(t)
		if _, err := io.WriteString(c, head+"Content-Length: 2\r\n\r\n{}"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusNotFound { // an unknown route id
			t.Fatalf("first request: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		expect408(t, br)
	})
}

// TestServePassesTheAdminAddressToTheEdge: serve opens the admin listener
// itself; the address still reaches the edge, which warns when it is off
// loopback and serves its host name (issue 21, item 7).
func TestServePassesTheAdminAddressToTheEdge(t *testing.T) {
	certFile, keyFile, err := proxy.DevCertificate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		admin string
		warn  bool
	}{
		{"0.0.0.0:9091", true},
		{":9091", true},
		{"[::]:9091", true},
		{"192.0.2.10:9091", true},
		{"admin.example:9091", true},
		{"127.0.0.1:9091", false},
		{"localhost:9091", false},
		{"[::1]:9091", false},
	}
	for _, tt := range tests {
		t.Run(tt.admin, func(t *testing.T) {
			var c serveConfig
			fs := newFlags("serve", io.Discard)
			c.flags(fs, false)
			if err := fs.Parse([]string{"-admin", tt.admin, "-admin-hosts", "ops.example, metrics.example"}); err != nil {
				t.Fatal(err)
			}
			c.certFile, c.keyFile = certFile, keyFile
			var logs strings.Builder
			nc, err := c.nodeConfig(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			edge, err := proxy.New(nc.EdgeConfig(nil, ""), hostedge.Backend{}, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if warned := strings.Contains(logs.String(), "not on loopback"); warned != tt.warn {
				t.Fatalf("warned %v, want %v; log:\n%s", warned, tt.warn, logs.String())
			}
			host, _, _ := net.SplitHostPort(tt.admin)
			served := map[string]int{"ops.example": http.StatusOK, "metrics.example": http.StatusOK, "rebind.example": http.StatusMisdirectedRequest}
			if host != "" && host != "0.0.0.0" && host != "::" {
				served[host] = http.StatusOK
			}
			for name, want := range served {
				req, _ := http.NewRequest("GET", "/healthz", nil)
				req.Host = net.JoinHostPort(name, "9091")
				w := &recorder{header: http.Header{}}
				edge.AdminHandler().ServeHTTP(w, req)
				if w.status != want {
					t.Errorf("host %s: status %d, want %d", name, w.status, want)
				}
			}
		})
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(status int) { r.status = status }

// TestDevListenerRefusesRebindingAndCrossOriginWrites drives the real
// binary's dev listener as a hostile page would (issue 21, items 4 to 6),
// as a tool without the admin token would (issue 21: every state-changing
// request carries a same-origin proof; a missing Origin is refused), and
// as README's curl lines (with the token) and the console's page do.
func TestDevListenerRefusesRebindingAndCrossOriginWrites(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	dev := startDev(t, "-bundle", bridgeBundleDir(t), "-data", data)
	admin, err := url.Parse(dev.admin)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(admin.Host)
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	bearer := "Bearer " + dev.token
	// What a refusal tells the operator to send.
	hint := `-H "Authorization: Bearer $(cat ` + shellWord(filepath.Join(data, adminTokenFile)) + `)"`

	do := func(t *testing.T, method, path, host, body string, hdr ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, dev.admin+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var st struct {
		Installations []struct{ ID string } `json:"installations"`
	}
	simGet(t, dev.admin+"/_console/state", &st)
	if len(st.Installations) == 0 {
		t.Fatal("no installation in the console's state")
	}
	inst := st.Installations[0].ID
	rebound := "rebind.evil.example:" + port

	t.Run("a rebound host name reads nothing", func(t *testing.T) {
		for _, path := range []string{
			"/_console/storage?installation=" + inst + "&space=secret", "/_console/state",
			"/_sim/telegram/sent?chat_id=1001", "/metrics", "/healthz", "/",
		} {
			if code, body := do(t, "GET", path, rebound, ""); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s as %s: %d %.80q", path, rebound, code, body)
			}
		}
	})

	// refused is a write that must be turned away: by its status, with a
	// message saying what to send.
	type refused struct {
		hdr  []string
		want int
	}
	check := func(t *testing.T, method, path, body string, cases []refused) {
		t.Helper()
		for _, c := range cases {
			code, answer := do(t, method, path, "", body, c.hdr...)
			if code != c.want {
				t.Errorf("%s %s with %v: %d %s, want %d", method, path, c.hdr, code, answer, c.want)
			}
			if !strings.Contains(answer, hint) {
				t.Errorf("%s %s with %v: the refusal %q does not say to send %s", method, path, c.hdr, answer, hint)
			}
		}
	}
	// Neither a page nor a tool without the token can write.
	noProof := []refused{
		{[]string{"Origin", "https://evil.example", "User-Agent", chrome, "Content-Type", "text/plain"}, 403},
		{[]string{"Origin", dev.admin, "Sec-Fetch-Site", "same-site", "User-Agent", chrome, "Content-Type", "application/json"}, 403},
		{[]string{"Origin", "null", "User-Agent", chrome, "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{[]string{"Origin", "http://localhost:" + port, "Sec-Fetch-Site", "same-site", "User-Agent", chrome}, 403},
		{[]string{"Sec-Fetch-Site", "cross-site", "User-Agent", chrome, "Content-Type", "text/plain"}, 403},
		{[]string{"User-Agent", chrome, "Content-Type", "text/plain"}, 403},
		// Not CORS-simple, no Origin, no token: refused (what main served before).
		{[]string{"User-Agent", "curl/8.5.0", "Content-Type", "application/json"}, 403},
		// CORS-simple (curl -d's form post), no Origin, no token: refused.
		{[]string{"User-Agent", "curl/8.5.0", "Content-Type", "application/x-www-form-urlencoded"}, 403},
		{[]string{"User-Agent", "curl/8.5.0", "Content-Type", "application/json", "Authorization", bearer + "0"}, 401},
	}

	configSet := "/_console/resolve/" + inst + "/config.set"
	greeting := func(t *testing.T) string {
		t.Helper()
		code, body := do(t, "POST", "/_console/resolve/"+inst+"/config.list", "", "{}", "Content-Type", "application/json", "Authorization", bearer)
		if code != http.StatusOK {
			t.Fatalf("config.list: %d %s", code, body)
		}
		return body
	}
	before := greeting(t)
	setTo := func(text string) string {
		b, _ := json.Marshal(map[string]any{"projectKey": "SUP", "channel": "telegram", "greeting": text})
		return string(b)
	}
	t.Run("config.set without a same-origin proof is refused and changes nothing", func(t *testing.T) {
		check(t, "POST", configSet, setTo("pwned"), noProof)
		if after := greeting(t); after != before || strings.Contains(after, "pwned") {
			t.Fatalf("the configuration changed:\n%s\n%s", before, after)
		}
	})
	t.Run("the console's own page sets the configuration", func(t *testing.T) {
		code, body := do(t, "POST", configSet, "", setTo("Welcome, same origin"),
			"Origin", dev.admin, "Sec-Fetch-Site", "same-origin", "User-Agent", chrome, "Content-Type", "application/json")
		if code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
			t.Fatalf("%d %s", code, body)
		}
		if !strings.Contains(greeting(t), "Welcome, same origin") {
			t.Fatal("config.set did not take")
		}
	})
	t.Run("a tool with the admin token sets the configuration", func(t *testing.T) {
		code, body := do(t, "POST", configSet, "", setTo("Welcome, token"),
			"User-Agent", "curl/8.5.0", "Content-Type", "application/json", "Authorization", bearer)
		if code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
			t.Fatalf("%d %s", code, body)
		}
		if !strings.Contains(greeting(t), "Welcome, token") {
			t.Fatal("config.set did not take")
		}
	})

	delivered := func(t *testing.T) int64 {
		t.Helper()
		var st struct {
			Delivered int64 `json:"delivered"`
		}
		simGet(t, dev.admin+"/_sim/telegram/stats", &st)
		return st.Delivered
	}
	var hook struct {
		URL string `json:"url"`
	}
	simGet(t, dev.admin+"/_sim/jira/webhook", &hook)
	d0 := delivered(t)
	send := `{"chat_id":1001,"text":"injected"}`
	t.Run("neither a page nor a tool without the token injects a customer message or moves the Jira webhook", func(t *testing.T) {
		check(t, "POST", "/_sim/telegram/send", send, noProof)
		check(t, "PUT", "/_sim/jira/webhook", `{"url":"https://evil.example/hook","secret":"s"}`, []refused{
			{[]string{"User-Agent", "Go-http-client/1.1", "Content-Type", "application/json"}, 403},
			{[]string{"Origin", "https://evil.example", "Content-Type", "application/json"}, 403},
		})
		if code, _ := do(t, "POST", "/_sim/telegram/send", rebound, send, "User-Agent", "curl/8.5.0", "Authorization", bearer); code != http.StatusMisdirectedRequest {
			t.Errorf("through a rebound name: %d", code)
		}
		var after struct {
			URL string `json:"url"`
		}
		simGet(t, dev.admin+"/_sim/jira/webhook", &after)
		if after.URL != hook.URL || hook.URL == "" {
			t.Errorf("the Jira webhook is %q, was %q", after.URL, hook.URL)
		}
	})
	t.Run("README's curl line with the token and the console's page each inject one", func(t *testing.T) {
		code, body := do(t, "POST", "/_sim/telegram/send", "", `{"chat_id":1001,"text":"Hello from curl"}`,
			"User-Agent", "curl/8.5.0", "Content-Type", "application/x-www-form-urlencoded", "Authorization", bearer)
		if code != http.StatusOK {
			t.Fatalf("curl: %d %s", code, body)
		}
		code, body = do(t, "POST", "/_sim/telegram/send", "", `{"chat_id":1001,"text":"Hello from the console"}`,
			"Origin", dev.admin, "Sec-Fetch-Site", "same-origin", "User-Agent", chrome, "Content-Type", "application/json")
		if code != http.StatusOK {
			t.Fatalf("the console: %d %s", code, body)
		}
		// The simulator delivers what it accepted: these two, and none of
		// the refused ones.
		pollUntil(t, "the deliveries", 30*time.Second, func() bool { return delivered(t) >= d0+2 })
		if d := delivered(t); d != d0+2 {
			t.Fatalf("%d deliveries since the refused ones, want 2", d-d0)
		}
	})
}
