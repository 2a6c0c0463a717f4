package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestServe_RoutesOnlyKnownIDsAndMethods(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	jira := ts.backend.add(JiraEvents, "inst-a")
	unknown := NewRouteID()

	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantInvoked bool
		wantLookup  bool
		wantAllow   string
	}{
		{"POST to a web trigger route invokes it", "POST", WebTriggerPath(ts.route), 200, true, true, ""},
		{"GET to a web trigger route invokes it (verification handshakes)", "GET", WebTriggerPath(ts.route) + "?hub.mode=subscribe&hub.challenge=42", 200, true, true, ""},
		{"POST to a Jira route invokes it", "POST", JiraPath(jira), 200, true, true, ""},
		{"PUT to a web trigger route is 405", "PUT", WebTriggerPath(ts.route), 405, false, false, "GET, POST"},
		{"DELETE to a web trigger route is 405", "DELETE", WebTriggerPath(ts.route), 405, false, false, "GET, POST"},
		{"GET to a Jira route is 405", "GET", JiraPath(jira), 405, false, false, "POST"},
		{"an unknown well-formed id is 404", "POST", WebTriggerPath(unknown), 404, false, true, ""},
		{"a web trigger id under /jira/ is 404", "POST", JiraPath(ts.route), 404, false, true, ""},
		{"a Jira id under /x/ is 404", "POST", WebTriggerPath(jira), 404, false, true, ""},
		{"a short id is 404 without a lookup", "POST", "/x/abc", 404, false, false, ""},
		{"an id with bad characters is 404 without a lookup", "POST", "/x/" + strings.Repeat("a", 30) + "!!", 404, false, false, ""},
		{"a path below a route is 404", "POST", WebTriggerPath(ts.route) + "/more", 404, false, false, ""},
		{"the root is 404", "GET", "/", 404, false, false, ""},
		{"an unknown prefix is 404", "POST", "/y/" + ts.route, 404, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, lookups := ts.backend.calls.Load(), ts.backend.lookups.Load()
			code, hdr, _ := ts.do(tt.method, tt.path, "{}")
			if code != tt.wantStatus {
				t.Errorf("status %d, want %d", code, tt.wantStatus)
			}
			if got := ts.backend.calls.Load() > calls; got != tt.wantInvoked {
				t.Errorf("invoked = %v, want %v", got, tt.wantInvoked)
			}
			if got := ts.backend.lookups.Load() > lookups; got != tt.wantLookup {
				t.Errorf("looked up = %v, want %v", got, tt.wantLookup)
			}
			if got := hdr.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if hdr.Get("Strict-Transport-Security") == "" {
				t.Error("no Strict-Transport-Security header")
			}
		})
	}
	ts.assertHealthy()
}

func TestServe_HandsTheBackendACopyInForgeShape(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	raw := "POST " + WebTriggerPath(ts.route) + "?a=1&b=two&a=3 HTTP/1.1\r\n" +
		"Host: example.test\r\n" +
		"Content-Type: application/json\r\n" +
		"X-Telegram-Bot-Api-Secret-Token: s3cret\r\n" +
		"X-Multi: one\r\n" +
		"X-Multi: two\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"\r\n" +
		"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n"
	resp, _, _, err := ts.rawExchange(raw)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := ts.backend.lastRequest()
	// The proxy's buffers are reused by later requests; the copy must not change.
	for range 20 {
		ts.do("POST", WebTriggerPath(ts.route), strings.Repeat("z", 200), "X-Multi", "overwritten")
	}
	if got.Method != "POST" || got.Path != WebTriggerPath(ts.route) || string(got.Body) != `{"a": 1}` {
		t.Errorf("method/path/body = %q %q %q", got.Method, got.Path, got.Body)
	}
	if tg := ts.backend.target(); tg.Trigger != "trigger-inst-a" {
		t.Errorf("trigger %q", tg.Trigger)
	}
	want := map[string][]string{
		"host":                            {"example.test"},
		"content-type":                    {"application/json"},
		"x-telegram-bot-api-secret-token": {"s3cret"},
		"x-multi":                         {"one", "two"},
	}
	have := map[string][]string{}
	for _, h := range got.Headers {
		have[h.Name] = append(have[h.Name], h.Value)
	}
	for name, vals := range want {
		if fmt.Sprint(have[name]) != fmt.Sprint(vals) {
			t.Errorf("header %s = %v, want %v (all: %v)", name, have[name], vals, have)
		}
	}
	if _, ok := have["transfer-encoding"]; ok {
		t.Error("hop-by-hop Transfer-Encoding reached the module")
	}
	q := fmt.Sprint(got.Query)
	if q != "[{a 1} {b two} {a 3}]" {
		t.Errorf("query = %s", q)
	}
}

func TestServe_PassesTheModuleResponseButNotItsFraming(t *testing.T) {
	b := newFakeBackend()
	b.setInvoke(func(context.Context, Target, *Request) (*Response, error) {
		return &Response{Status: 201, Headers: []Header{
			{Name: "Content-Type", Value: "application/json"},
			{Name: "X-Reply", Value: "yes"},
			{Name: "Content-Length", Value: "9999"},
			{Name: "Transfer-Encoding", Value: "chunked"},
			{Name: "Strict-Transport-Security", Value: "max-age=0"},
			{Name: "X-Split", Value: "a\r\nInjected: 1"},
			{Name: "Bad Name", Value: "x"},
		}, Body: []byte(`{"ok":true}`)}, nil
	})
	ts := startServer(t, testConfig(t), b)
	code, hdr, body := ts.do("POST", WebTriggerPath(ts.route), "{}")
	if code != 201 || body != `{"ok":true}` {
		t.Fatalf("got %d %q", code, body)
	}
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("X-Reply") != "yes" {
		t.Errorf("module headers lost: %v", hdr)
	}
	if hdr.Get("Strict-Transport-Security") == "max-age=0" || hdr.Get("Strict-Transport-Security") == "" {
		t.Errorf("module changed HSTS: %q", hdr.Get("Strict-Transport-Security"))
	}
	if hdr.Get("Injected") != "" || hdr.Get("X-Split") != "" {
		t.Error("a header value with CR LF was passed on")
	}
	b.setInvoke(nil)
	ts.assertHealthy()
}

func TestServe_CutsOffSlowClients(t *testing.T) {
	cfg := testConfig(t)
	cfg.ReadTimeout = 700 * time.Millisecond
	cfg.IdleTimeout = 700 * time.Millisecond
	ts := startServer(t, cfg, nil)

	// closedWithin reads until the server closes c or the limit passes.
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(limit))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", limit)
		}
		return time.Since(start)
	}

	t.Run("a client that drips its headers is cut off at ReadTimeout", func(t *testing.T) {
		c := ts.dial()
		req := "POST " + WebTriggerPath(ts.route) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
		start := time.Now()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for i := 0; i < len(req); i++ {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		closedWithin(t, c, 5*time.Second)
		if d := time.Since(start); d > cfg.ReadTimeout+time.Second {
			t.Errorf("cut off after %v, ReadTimeout is %v", d, cfg.ReadTimeout)
		}
		<-stopped
		if ts.backend.calls.Load() != 0 {
			t.Error("a dripped request reached the backend")
		}
	})
	t.Run("a client that drips its body is cut off at ReadTimeout", func(t *testing.T) {
		c := ts.dial()
		if _, err := io.WriteString(c, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		go func() {
			for range 100 {
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		if d := closedWithin(t, c, 5*time.Second); d > cfg.ReadTimeout+time.Second {
			t.Errorf("cut off after %v", d)
		}
	})
	t.Run("a client that never starts the TLS handshake is cut off", func(t *testing.T) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if d := closedWithin(t, c, 5*time.Second); d > cfg.ReadTimeout+time.Second {
			t.Errorf("cut off after %v", d)
		}
	})
	t.Run("an idle keep-alive connection is closed at IdleTimeout", func(t *testing.T) {
		c := ts.dial()
		if _, err := io.WriteString(c, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(5 * time.Second))
		_, err = br.ReadByte()
		if d := time.Since(start); err == nil || d > cfg.IdleTimeout+time.Second || d < cfg.IdleTimeout/2 {
			t.Errorf("idle connection closed after %v (err %v), IdleTimeout is %v", d, err, cfg.IdleTimeout)
		}
	})
	ts.assertHealthy()
}

func TestServe_CutsOffAClientThatStopsReading(t *testing.T) {
	cfg := testConfig(t)
	cfg.WriteTimeout = 500 * time.Millisecond
	b := newFakeBackend()
	big := make([]byte, 48<<20) // more than loopback socket buffers hold
	b.setInvoke(func(context.Context, Target, *Request) (*Response, error) {
		return &Response{Status: 200, Body: big}, nil
	})
	ts := startServer(t, cfg, b)
	c := ts.dial()
	if _, err := io.WriteString(c, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Never read: the server's write blocks until WriteTimeout closes it.
	waitfor.Until(t, 10*time.Second, "the server to drop the connection", waitfor.True(func() bool { return ts.conns.count() == 0 }))
	b.setInvoke(nil)
	ts.assertHealthy()
}

func TestServe_AnswersOversizeRequestsWith413And431(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxHeaderBytes = 4 << 10
	ts := startServer(t, cfg, nil)
	path := WebTriggerPath(ts.route)
	over := strings.Repeat("a", cfg.MaxBodyBytes+1)

	tests := []struct {
		name string
		raw  string
		want int
	}{
		{"a Content-Length over the limit is 413 once its first 8 KiB came, the rest unread",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + over[:8<<10], 413},
		{"a whole body one byte over the limit is 413",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(over)) + "\r\n\r\n" + over, 413},
		{"a chunked body over the limit is 413",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(over), over), 413},
		{"Expect: 100-continue with an oversize Content-Length is 413 before any body",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n", 413},
		{"one header over the limit is 431",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\nContent-Length: 0\r\n\r\n", 431},
		{"many small headers over the limit are 431",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-H: 0123456789\r\n", 400) + "Content-Length: 0\r\n\r\n", 431},
		{"a request line over the limit is 431",
			"GET " + path + "?q=" + strings.Repeat("q", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
		{"a body at the limit is accepted",
			"POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(cfg.MaxBodyBytes) + "\r\n\r\n" + over[1:], 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := ts.backend.calls.Load()
			resp, _, closed, err := ts.rawExchange(tt.raw)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if resp.Header.Get("Strict-Transport-Security") == "" {
				t.Error("no Strict-Transport-Security header")
			}
			if tt.want != 200 {
				if ts.backend.calls.Load() != calls {
					t.Error("an oversize request reached the backend")
				}
				if !closed {
					t.Error("connection left open after an oversize request")
				}
			}
		})
	}
	if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_requests_total{kind="none",code="413"}`) ||
		!strings.Contains(m, `chatbridge_proxy_requests_total{kind="none",code="431"}`) {
		t.Errorf("413/431 not counted in metrics:\n%s", m)
	}
	ts.assertHealthy()
}

func TestServe_RejectsRequestSmugglingShapesWith400(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	path := WebTriggerPath(ts.route)
	start := "POST " + path + " HTTP/1.1\r\nHost: x\r\n"

	tests := []struct {
		name string
		raw  string
	}{
		{"Content-Length and Transfer-Encoding together",
			start + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"Transfer-Encoding and Content-Length together",
			start + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
		{"two different Content-Lengths",
			start + "Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}xyz"},
		{"two equal Content-Lengths",
			start + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"},
		{"a Content-Length list",
			start + "Content-Length: 2, 2\r\n\r\n{}"},
		{"a negative Content-Length",
			start + "Content-Length: -1\r\n\r\n{}"},
		{"a signed Content-Length",
			start + "Content-Length: +2\r\n\r\n{}"},
		{"a Content-Length with hex digits",
			start + "Content-Length: 0x2\r\n\r\n{}"},
		{"a Transfer-Encoding other than chunked",
			start + "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"},
		{"chunked not last",
			start + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
		{"two Transfer-Encoding headers",
			start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"a chunk size that is not hex",
			start + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
		{"a chunk longer than its size",
			start + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n"},
		{"a chunk size that overflows",
			start + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n"},
		{"a space before the header colon",
			start + "Content-Length : 2\r\n\r\n{}"},
		{"an obsolete folded header line",
			start + "X-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\n{}"},
		{"a NUL in a header value",
			start + "X-A: a\x00b\r\nContent-Length: 2\r\n\r\n{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := ts.backend.calls.Load()
			resp, _, closed, err := ts.rawExchange(tt.raw)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != 400 {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if ts.backend.calls.Load() != calls {
				t.Error("an ambiguous request reached the backend")
			}
			if !closed {
				t.Error("connection left open after an ambiguous request")
			}
		})
	}
	ts.assertHealthy()
}
