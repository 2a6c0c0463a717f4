package load

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun_CountsResponsesByStatusOverKeepAliveConnections(t *testing.T) {
	var newConns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.WriteHeader(429)
			return
		}
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // forces chunked framing
		}
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	req := func(path string) []byte {
		return []byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	}
	res, err := Run(context.Background(), Config{
		Addr:     addr,
		TLS:      &tls.Config{InsecureSkipVerify: true},
		Conns:    3,
		Duration: 300 * time.Millisecond,
		Requests: [][]byte{req("/ok"), req("/limited"), req("/chunked")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Conns != 3 {
		t.Fatalf("errors %d conns %d: %v", res.Errors, res.Conns, res.Samples)
	}
	if res.Status[200] == 0 || res.Status[429] == 0 || res.Requests != res.Status[200]+res.Status[429] {
		t.Errorf("status counts %v, requests %d", res.Status, res.Requests)
	}
	if res.Reconnect != 0 || newConns.Load() != 3 {
		t.Errorf("connections not kept alive: %d reconnects, %d accepted", res.Reconnect, newConns.Load())
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("percentiles out of order: %v", res)
	}
}
