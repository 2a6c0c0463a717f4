package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestServe_CapsConnectionsPerIP(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConnsPerIP = 3
	ts := startServer(t, cfg, nil)

	var open []*tls.Conn
	for range cfg.MaxConnsPerIP {
		open = append(open, ts.dial()) // a completed handshake holds its slot
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, ts.tlsConfig())
	if err == nil {
		// TLS 1.3 clients may finish before the server's close arrives; the
		// first read then fails.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection over MaxConnsPerIP was served (err %v)", err)
	}
	if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_connections_rejected_total{reason="per_ip"} 1`) {
		t.Errorf("rejection not counted:\n%s", m)
	}
	open[0].Close()
	waitfor.Until(t, 5*time.Second, "the slot to free", waitfor.True(func() bool { return ts.conns.count() < cfg.MaxConnsPerIP }))
	ts.assertHealthy()
}

func TestServe_RateLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Run("a route's bucket runs dry", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.RouteRate, cfg.RouteBurst = 0.5, 3
		ts := startServer(t, cfg, nil)
		other := ts.backend.add(WebTrigger, "inst-a")
		for i := range cfg.RouteBurst {
			if code, _, _ := ts.do("POST", WebTriggerPath(ts.route), "{}"); code != 200 {
				t.Fatalf("request %d within the burst: %d", i, code)
			}
		}
		calls := ts.backend.calls.Load()
		code, hdr, _ := ts.do("POST", WebTriggerPath(ts.route), "{}")
		if code != 429 {
			t.Fatalf("status %d, want 429", code)
		}
		if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
			t.Errorf("Retry-After %q, want 1..2 s at 0.5 requests/s", hdr.Get("Retry-After"))
		}
		if hdr.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS on 429")
		}
		if ts.backend.calls.Load() != calls {
			t.Error("a rate-limited request reached the backend")
		}
		// Another route of the same installation has its own bucket.
		if code, _, _ := ts.do("POST", WebTriggerPath(other), "{}"); code != 200 {
			t.Errorf("another route: %d", code)
		}
		if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_rate_limited_total{scope="route"} 1`) {
			t.Errorf("not counted:\n%s", m)
		}
	})
	t.Run("an installation's bucket runs dry across its routes", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.InstallationRate, cfg.InstallationBurst = 0.2, 4
		ts := startServer(t, cfg, nil)
		routes := []string{ts.route, ts.backend.add(WebTrigger, "inst-a"), ts.backend.add(JiraEvents, "inst-a")}
		paths := []string{WebTriggerPath(routes[0]), WebTriggerPath(routes[1]), JiraPath(routes[2])}
		for i := range cfg.InstallationBurst {
			if code, _, _ := ts.do("POST", paths[i%3], "{}"); code != 200 {
				t.Fatalf("request %d within the burst: %d", i, code)
			}
		}
		code, hdr, _ := ts.do("POST", paths[2], "{}")
		if code != 429 {
			t.Fatalf("status %d, want 429", code)
		}
		if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 5 {
			t.Errorf("Retry-After %q, want 1..5 s at 0.2 requests/s", hdr.Get("Retry-After"))
		}
		// Another installation is not affected.
		b := ts.backend.add(WebTrigger, "inst-b")
		if code, _, _ := ts.do("POST", WebTriggerPath(b), "{}"); code != 200 {
			t.Errorf("another installation: %d", code)
		}
		if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_rate_limited_total{scope="installation"} 1`) {
			t.Errorf("not counted:\n%s", m)
		}
	})
}

func TestServe_SlowOrFailingBackendGetsATimelyAnswer(t *testing.T) {
	cfg := testConfig(t)
	cfg.InvokeTimeout = 300 * time.Millisecond
	release := make(chan struct{})
	defer close(release)

	tests := []struct {
		name       string
		invoke     invokeFunc
		wantStatus int
		wantRetry  bool
	}{
		{"a backend that ignores its deadline gets 504 at the deadline", func(context.Context, Target, *Request) (*Response, error) {
			<-release
			return &Response{Status: 200}, nil
		}, 504, false},
		{"a backend that honours its deadline gets 504", func(ctx context.Context, _ Target, _ *Request) (*Response, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, 504, false},
		{"ErrTimeout is 504", func(context.Context, Target, *Request) (*Response, error) {
			return nil, fmt.Errorf("host: %w", ErrTimeout)
		}, 504, false},
		{"ErrOverloaded is 503 with Retry-After", func(context.Context, Target, *Request) (*Response, error) {
			return nil, fmt.Errorf("host: %w", ErrOverloaded)
		}, 503, true},
		{"any other error is 502", func(context.Context, Target, *Request) (*Response, error) {
			return nil, errors.New("trap: unreachable")
		}, 502, false},
		{"a panic is 502", func(context.Context, Target, *Request) (*Response, error) {
			panic("boom")
		}, 502, false},
		{"no response and no error is 502", func(context.Context, Target, *Request) (*Response, error) {
			return nil, nil
		}, 502, false},
		{"an informational status is 502", func(context.Context, Target, *Request) (*Response, error) {
			return &Response{Status: 101}, nil
		}, 502, false},
		{"an out-of-range status is 502", func(context.Context, Target, *Request) (*Response, error) {
			return &Response{Status: 1000}, nil
		}, 502, false},
		{"status 0 means 200", func(context.Context, Target, *Request) (*Response, error) {
			return &Response{}, nil
		}, 200, false},
	}
	ts := startServer(t, cfg, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.backend.setInvoke(tt.invoke)
			code, hdr, _ := ts.do("POST", WebTriggerPath(ts.route), "{}")
			if code != tt.wantStatus {
				t.Errorf("status %d, want %d", code, tt.wantStatus)
			}
			if got := hdr.Get("Retry-After") != ""; got != tt.wantRetry {
				t.Errorf("Retry-After present = %v, want %v", got, tt.wantRetry)
			}
		})
	}
	ts.backend.setInvoke(nil)
	ts.assertHealthy()
}

func TestServe_InvocationDeadlineComesFromConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.InvokeTimeout = 1500 * time.Millisecond
	ts := startServer(t, cfg, nil)
	type seen struct {
		deadline, called time.Time
		ok               bool
	}
	got := make(chan seen, 1)
	ts.backend.setInvoke(func(ctx context.Context, _ Target, _ *Request) (*Response, error) {
		dl, ok := ctx.Deadline()
		got <- seen{dl, time.Now(), ok}
		return &Response{Status: 204}, nil
	})
	// The deadline is InvokeTimeout after the edge took the request, which
	// lies between sending it and the backend's call: no slack to guess.
	sent := time.Now()
	if code, _, _ := ts.do("POST", WebTriggerPath(ts.route), "{}"); code != 204 {
		t.Fatalf("status %d", code)
	}
	s := <-got
	if !s.ok {
		t.Fatal("the invocation had no deadline")
	}
	if s.deadline.Before(sent.Add(cfg.InvokeTimeout)) || s.deadline.After(s.called.Add(cfg.InvokeTimeout)) {
		t.Errorf("deadline %v after sending, want InvokeTimeout (%v) after the edge took the request", s.deadline.Sub(sent), cfg.InvokeTimeout)
	}
}

func TestServe_StuckBackendFillsMaxInFlightThenGets503(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxInFlight = 2
	cfg.InvokeTimeout = 200 * time.Millisecond
	ts := startServer(t, cfg, nil)
	release := make(chan struct{})
	ts.backend.setInvoke(func(context.Context, Target, *Request) (*Response, error) {
		<-release
		return &Response{Status: 200, Body: []byte("ok")}, nil
	})
	for range cfg.MaxInFlight {
		if code, _, _ := ts.do("POST", WebTriggerPath(ts.route), "{}"); code != 504 {
			t.Fatalf("stuck call: %d, want 504", code)
		}
	}
	calls := ts.backend.calls.Load()
	// Answered while the stuck calls still hold every slot (release is
	// still open): the edge refused at once rather than wait for one.
	code, hdr, _ := ts.do("POST", WebTriggerPath(ts.route), "{}")
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("status %d Retry-After %q, want 503 with Retry-After", code, hdr.Get("Retry-After"))
	}
	if ts.backend.calls.Load() != calls {
		t.Error("the backend got a call beyond MaxInFlight")
	}
	close(release)
	ts.backend.setInvoke(nil)
	waitfor.Until(t, 5*time.Second, "stuck calls to return", waitfor.True(func() bool { return ts.metrics.inFlight.Load() == 0 }))
	ts.assertHealthy()
}

func TestServe_LogsCarryNoRequestContents(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	const secret = "SECRET-7c1e"
	ts.do("POST", WebTriggerPath(ts.route)+"?token="+secret, `{"chat":{"id":"`+secret+`"}}`,
		"X-Telegram-Bot-Api-Secret-Token", secret, "Authorization", "Bearer "+secret)
	// A malformed request quoting the secret, and an oversize header.
	ts.rawExchange("POST " + WebTriggerPath(ts.route) + " HTTP/1.1\r\nHost: x\r\nX-Token: " + secret + "\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
	ts.rawExchange("GET /x/" + secret + " HTTP/1.1\r\nHost: x\r\nX-Big: " + secret + strings.Repeat("b", 9000) + "\r\n\r\n")
	ts.rawExchange("P\x00ST /" + secret + " HTTP/1.1\r\n\r\n")
	ts.rawExchange(secret + " " + secret + "\r\n\r\n")

	logs := ts.logs.String()
	for _, forbidden := range []string{secret, ts.route, "Bearer"} {
		if strings.Contains(logs, forbidden) {
			t.Errorf("logs contain %q:\n%s", forbidden, logs)
		}
	}
	for _, want := range []string{`"kind":"web_trigger"`, `"status":200`, `"duration":`, `"bytes_in":`,
		`"route":"` + routeTag([]byte(ts.route)) + `"`, `"status":431`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
}

func TestServe_SurvivesManyConcurrentClients(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ts.client()
			defer c.CloseIdleConnections()
			for range 10 {
				resp, err := c.Post(ts.url(WebTriggerPath(ts.route)), "application/json", strings.NewReader("{}"))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
