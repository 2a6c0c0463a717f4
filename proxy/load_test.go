package proxy

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/proxy/internal/load"
)

// TestLoad_HoldsThousandsOfKeepAliveTLSConnections is the load test. It is
// bounded (2,000 connections for 30 s on loopback, then it stops) and runs
// only when asked:
//
//	CHATBRIDGE_LOADTEST=1 go test ./proxy -run TestLoad -v -timeout 5m
//
// CHATBRIDGE_LOADTEST_CONNS and CHATBRIDGE_LOADTEST_SECONDS override the size.
// One connection in ten uses a route whose bucket is deliberately small;
// its 429s are the only answers other than 200 the test allows.
func TestLoad_HoldsThousandsOfKeepAliveTLSConnections(t *testing.T) {
	if os.Getenv("CHATBRIDGE_LOADTEST") != "1" {
		t.Skip("set CHATBRIDGE_LOADTEST=1 to run the load test")
	}
	conns := envInt(t, "CHATBRIDGE_LOADTEST_CONNS", 2000)
	seconds := envInt(t, "CHATBRIDGE_LOADTEST_SECONDS", 30)
	raiseFileLimit(t, uint64(3*conns+1024))

	cfg := testConfig(t)
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = 30*time.Second, 30*time.Second, 60*time.Second
	cfg.InvokeTimeout = 25 * time.Second
	cfg.MaxConns, cfg.MaxConnsPerIP = 2*conns, 2*conns // every client is 127.0.0.1
	cfg.MaxInFlight = 2 * conns
	cfg.RouteRate, cfg.RouteBurst = 1e6, 1e6
	cfg.InstallationRate, cfg.InstallationBurst = 1e6, 1e6

	// Every connection has a route of its own, far below its bucket, except
	// one in ten, which share a route that allows 500 requests/s: their
	// excess gets the intended 429s.
	cfg.RouteRate, cfg.RouteBurst = 500, 500
	cfg.InstallationRate, cfg.InstallationBurst = 1e6, 1_000_000
	b := newFakeBackend()
	ts := startServerLogging(t, cfg, b, slog.New(slog.NewJSONHandler(io.Discard, nil))) // access log on, written nowhere
	shared := b.add(WebTrigger, "inst-shared")
	body := `{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"hello"}}`
	requests := make([][]byte, conns)
	for i := range requests {
		id := shared
		if i%10 != 0 {
			id = b.add(WebTrigger, "inst-"+strconv.Itoa(i%20))
		}
		requests[i] = []byte("POST " + WebTriggerPath(id) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
			"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: t\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}

	peak := 0
	stopPeak := make(chan struct{})
	peakDone := make(chan struct{})
	go func() {
		defer close(peakDone)
		for {
			select {
			case <-stopPeak:
				return
			case <-time.After(100 * time.Millisecond):
				peak = max(peak, ts.conns.count())
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+120)*time.Second)
	defer cancel()
	res, err := load.Run(ctx, load.Config{
		Addr:     ts.addr,
		TLS:      ts.tlsConfig(),
		Conns:    conns,
		Warmup:   2 * time.Second,
		Duration: time.Duration(seconds) * time.Second,
		Requests: requests,
	})
	close(stopPeak)
	<-peakDone
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %v", res)
	t.Logf("server: peak open connections %d, invocations %d", peak, b.calls.Load())

	if res.Conns != conns {
		t.Errorf("%d of %d connections established", res.Conns, conns)
	}
	if peak < conns {
		t.Errorf("server held at most %d connections at once, want %d", peak, conns)
	}
	if res.Errors != 0 || res.Reconnect != 0 {
		t.Errorf("%d errors, %d reconnects: %v", res.Errors, res.Reconnect, res.Samples)
	}
	for code, n := range res.Status {
		if code != 200 && code != 429 {
			t.Errorf("%d responses with status %d", n, code)
		}
	}
	if res.Status[429] == 0 {
		t.Error("no 429s: the shared route's bucket never ran dry, so the test did not exercise it")
	}
	if res.Status[200] == 0 || res.RPS() < 1000 {
		t.Errorf("only %.0f requests/s", res.RPS())
	}
	ts.assertHealthy()
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to at least n (up to the hard limit).
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", n, err)
	}
	if lim.Cur < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d the test needs", lim.Max, n)
	}
}
