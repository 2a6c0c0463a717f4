package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAdmin(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admin.Extra = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "extra:"+r.URL.Path)
	})
	ts := startServer(t, cfg, nil)
	ts.do("POST", WebTriggerPath(ts.route), "{}")     // one 200
	ts.do("POST", WebTriggerPath(NewRouteID()), "{}") // one 404

	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+ts.admin+path, nil)
		req.Header.Set("Origin", "http://"+ts.admin) // a write's same-origin proof
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	tests := []struct {
		name     string
		method   string
		path     string
		notReady error
		wantCode int
		wantBody []string
	}{
		{"healthz answers ok", "GET", AdminHealthz, nil, 200, []string{"ok"}},
		{"readyz answers ready when the backend is", "GET", AdminReadyz, nil, 200, []string{"ready"}},
		{"readyz answers 503 when the backend is not", "GET", AdminReadyz, errors.New("no bundle loaded"), 503, []string{"no bundle loaded"}},
		{"metrics carry requests by kind and status", "GET", AdminMetrics, nil, 200, []string{
			`chatbridge_proxy_requests_total{kind="web_trigger",code="200"} `,
			`chatbridge_proxy_requests_total{kind="web_trigger",code="404"} 1`,
		}},
		{"metrics carry the latency histogram", "GET", AdminMetrics, nil, 200, []string{
			"# TYPE chatbridge_proxy_request_duration_seconds histogram",
			`chatbridge_proxy_request_duration_seconds_bucket{kind="web_trigger",le="+Inf"} `,
			`chatbridge_proxy_request_duration_seconds_count{kind="web_trigger"} `,
		}},
		{"metrics carry rate limits, rejections and connections", "GET", AdminMetrics, nil, 200, []string{
			`chatbridge_proxy_rate_limited_total{scope="route"} 0`,
			`chatbridge_proxy_connections_rejected_total{reason="per_ip"} 0`,
			"chatbridge_proxy_connections_open ",
			"chatbridge_proxy_certificate_expiry_timestamp_seconds ",
		}},
		{"metrics end with the host's own", "GET", AdminMetrics, nil, 200, []string{"chatbridge_host_invocations_total 7"}},
		{"a POST to metrics is 405", "POST", AdminMetrics, nil, 405, nil},
		{"other paths go to the extra handler", "GET", "/_sim/telegram", nil, 200, []string{"extra:/_sim/telegram"}},
		{"the root goes to the extra handler", "GET", "/", nil, 200, []string{"extra:/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notReady != nil {
				ts.backend.ready.Store(&tt.notReady)
				defer ts.backend.ready.Store(nil)
			}
			code, body := get(tt.method, tt.path)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
		})
	}
	t.Run("without an extra handler other paths are 404", func(t *testing.T) {
		plain := startServer(t, testConfig(t), nil)
		resp, err := http.Get("http://" + plain.admin + "/_sim/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("the metrics are valid Prometheus text", func(t *testing.T) {
		_, body := get("GET", AdminMetrics)
		checkExposition(t, body)
	})
}

// checkExposition checks the lines a Prometheus scraper would parse: every
// sample belongs to a declared family and has a numeric value.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	typed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				t.Errorf("bad TYPE line %q", line)
				continue
			}
			typed[f[0]] = f[1]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		nameEnd := strings.IndexAny(line, "{ ")
		if nameEnd <= 0 {
			t.Errorf("bad sample %q", line)
			continue
		}
		name := line[:nameEnd]
		family := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && typed[b] == "histogram" {
				family = b
			}
		}
		if typed[family] == "" {
			t.Errorf("sample %q has no TYPE", line)
		}
		value := line[strings.LastIndexByte(line, ' ')+1:]
		if value == "" || strings.Trim(value, "0123456789.e+-Inf") != "" {
			t.Errorf("sample %q has a bad value", line)
		}
	}
}
