package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientFrom returns an HTTPS client whose connections leave from ip, a
// loopback address of its own.
func (ts *testServer) clientFrom(ip string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ts.tlsConfig(), DialContext: d.DialContext}}
}

func (ts *testServer) post(c *http.Client, path string) (int, http.Header) {
	ts.t.Helper()
	resp, err := c.Post(ts.url(path), "text/plain", strings.NewReader(`{"t":"send"}`))
	if err != nil {
		ts.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestServe_PerAddressLimitStopsAFloodFromOneAddressAndNotTheOthers(t *testing.T) {
	cfg := testConfig(t)
	// A route bucket that a flood's refused requests would drain at once
	// if they reached it; it barely refills during the test.
	cfg.RouteRate, cfg.RouteBurst = 0.001, 12
	ts := startServer(t, cfg, nil)
	// A widget's route: 4 at once per address, then one an hour, so that
	// every count below is exact however slow the machine.
	widget := NewRouteID()
	limit := AddressLimit{Every: time.Hour, Burst: 4}
	ts.backend.mu.Lock()
	ts.backend.routes[widget] = Target{Installation: "inst-a", Kind: WebTrigger, Trigger: "web-widget", PerAddress: limit}
	ts.backend.mu.Unlock()

	flooder, other := ts.clientFrom("127.0.0.2"), ts.clientFrom("127.0.0.1")
	defer flooder.CloseIdleConnections()
	defer other.CloseIdleConnections()

	const flood = 40
	passed, refused := 0, 0
	for range flood {
		code, hdr := ts.post(flooder, WebTriggerPath(widget))
		switch code {
		case 200:
			passed++
		case 429:
			refused++
			if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q, want whole seconds >= 1", hdr.Get("Retry-After"))
			}
		default:
			t.Fatalf("flood: status %d", code)
		}
	}
	if passed != limit.Burst || refused != flood-limit.Burst {
		t.Fatalf("flood from one address: %d served, %d refused; want %d and %d", passed, refused, limit.Burst, flood-limit.Burst)
	}
	if got := ts.backend.calls.Load(); got != int64(limit.Burst) {
		t.Fatalf("backend saw %d requests, want %d: a refused request reached it", got, limit.Burst)
	}
	// Another address still gets through: its own bucket is full, and the
	// flood's refused requests took nothing from the route's.
	for i := range limit.Burst {
		if code, _ := ts.post(other, WebTriggerPath(widget)); code != 200 {
			t.Fatalf("another address, request %d: status %d", i, code)
		}
	}
	if code, _ := ts.post(other, WebTriggerPath(widget)); code != 429 {
		t.Errorf("the other address over its own burst: status %d, want 429", code)
	}
	if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_rate_limited_total{scope="address"} `+strconv.Itoa(flood-limit.Burst+1)) {
		t.Errorf("refusals not counted under scope address:\n%s", m)
	}
	// A route without a per-address limit (a messenger's webhook, whose
	// few servers send everything) is limited per route only.
	hook := ts.backend.add(WebTrigger, "inst-b")
	for i := range limit.Burst + 3 {
		if code, _ := ts.post(flooder, WebTriggerPath(hook)); code != 200 {
			t.Fatalf("webhook route, request %d from one address: status %d", i, code)
		}
	}
}

func TestAddressBucketKeysIPv6ByItsSlash64AndNamesTheLimit(t *testing.T) {
	l := AddressLimit{Every: time.Second, Burst: 5}
	key := func(ip string) string { return addressBucket("route", l, net.ParseIP(ip)) }
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
	} {
		if got := key(c.a) == key(c.b); got != c.same {
			t.Errorf("%s and %s share a bucket: %v, want %v", c.a, c.b, got, c.same)
		}
	}
	if addressBucket("route", AddressLimit{Every: time.Minute, Burst: 5}, net.ParseIP("192.0.2.1")) == key("192.0.2.1") {
		t.Error("a changed limit keeps the bucket made at the old rate")
	}
	if addressBucket("other", l, net.ParseIP("192.0.2.1")) == key("192.0.2.1") {
		t.Error("two routes share an address's bucket")
	}
}

// The edge's refusals on a browser's route (one with a per-address limit,
// a website widget's) are readable by the calling page: its Origin echoed
// and Retry-After exposed. Nothing else changes: the route's answers that
// pass, a refusal without an Origin, a refusal on a route without a
// per-address limit, and the module's own 429.
func TestServe_ABrowserRoutesRefusalIsReadableCrossOriginAndNothingElseChanges(t *testing.T) {
	const origin = "https://shop.example"
	cors := func(h http.Header) string {
		return h.Get("Access-Control-Allow-Origin") + "|" + h.Get("Access-Control-Expose-Headers")
	}
	t.Run("the per-address limit", func(t *testing.T) {
		ts := startServer(t, testConfig(t), nil)
		widget := NewRouteID()
		ts.backend.mu.Lock()
		ts.backend.routes[widget] = Target{Installation: "inst-a", Kind: WebTrigger, Trigger: "web-widget", PerAddress: AddressLimit{Every: time.Hour, Burst: 2}}
		ts.backend.mu.Unlock()
		for i := range 2 {
			code, h, _ := ts.do("POST", WebTriggerPath(widget), "{}", "Origin", origin)
			if code != 200 || cors(h) != "|" {
				t.Fatalf("request %d within the limit: %d, CORS %q; want 200 and the module's headers only", i, code, cors(h))
			}
		}
		code, h, _ := ts.do("POST", WebTriggerPath(widget), "{}", "Origin", origin)
		if code != 429 || cors(h) != origin+"|Retry-After" || h.Get("Retry-After") == "" || h.Get("Vary") != "Origin" {
			t.Fatalf("over the limit: %d, CORS %q, Retry-After %q, Vary %q; want 429 readable by %s", code, cors(h), h.Get("Retry-After"), h.Get("Vary"), origin)
		}
		code, h, _ = ts.do("POST", WebTriggerPath(widget), "{}")
		if code != 429 || cors(h) != "|" {
			t.Errorf("over the limit without an Origin: %d, CORS %q; want a bare 429", code, cors(h))
		}
	})
	t.Run("the route's bucket", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.RouteRate, cfg.RouteBurst = 0.001, 1
		ts := startServer(t, cfg, nil)
		widget := NewRouteID()
		ts.backend.mu.Lock()
		ts.backend.routes[widget] = Target{Installation: "inst-a", Kind: WebTrigger, Trigger: "web-widget", PerAddress: AddressLimit{Every: time.Millisecond, Burst: 100}}
		ts.backend.mu.Unlock()
		hook := ts.backend.add(WebTrigger, "inst-b")
		for _, c := range []struct {
			name, route, want string
		}{
			{"a widget's route", widget, origin + "|Retry-After"},
			{"a route without a per-address limit", hook, "|"},
		} {
			if code, _, _ := ts.do("POST", WebTriggerPath(c.route), "{}", "Origin", origin); code != 200 {
				t.Fatalf("%s, first request: %d", c.name, code)
			}
			code, h, _ := ts.do("POST", WebTriggerPath(c.route), "{}", "Origin", origin)
			if code != 429 || cors(h) != c.want {
				t.Errorf("%s over the route's bucket: %d, CORS %q; want 429, %q", c.name, code, cors(h), c.want)
			}
		}
	})
	t.Run("the module's own 429", func(t *testing.T) {
		ts := startServer(t, testConfig(t), nil)
		widget := NewRouteID()
		ts.backend.mu.Lock()
		ts.backend.routes[widget] = Target{Installation: "inst-a", Kind: WebTrigger, Trigger: "web-widget", PerAddress: AddressLimit{Every: time.Millisecond, Burst: 100}}
		ts.backend.mu.Unlock()
		ts.backend.setInvoke(func(context.Context, Target, *Request) (*Response, error) {
			return &Response{Status: 429, Headers: []Header{{Name: "Retry-After", Value: "7"}}}, nil
		})
		code, h, _ := ts.do("POST", WebTriggerPath(widget), "{}", "Origin", origin)
		if code != 429 || cors(h) != "|" || h.Get("Retry-After") != "7" {
			t.Errorf("the module's 429: %d, CORS %q, Retry-After %q; want it as the module gave it", code, cors(h), h.Get("Retry-After"))
		}
	})
}
