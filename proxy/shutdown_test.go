package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestShutdown(t *testing.T) {
	t.Run("in-flight requests finish, new connections are refused, Shutdown returns nil", func(t *testing.T) {
		ts := startServer(t, testConfig(t), nil)
		started, release := make(chan struct{}), make(chan struct{})
		ts.backend.setInvoke(func(context.Context, Target, *Request) (*Response, error) {
			close(started)
			<-release
			return &Response{Status: 200, Body: []byte("done")}, nil
		})
		type result struct {
			code  int
			close bool
			err   error
		}
		got := make(chan result, 1)
		go func() {
			c := ts.client()
			resp, err := c.Post(ts.url(WebTriggerPath(ts.route)), "application/json", nil)
			if err != nil {
				got <- result{err: err}
				return
			}
			resp.Body.Close()
			got <- result{code: resp.StatusCode, close: resp.Close}
		}()
		<-started

		shut := make(chan error, 1)
		begun := time.Now()
		go func() { shut <- ts.Shutdown(context.Background()) }()
		waitfor.Until(t, 2*time.Second, "the listener to close", waitfor.True(func() bool {
			c, err := net.DialTimeout("tcp", ts.addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err != nil
		}))

		rec := httptest.NewRecorder()
		ts.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+AdminReadyz, nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("readyz while draining: %d, want 503", rec.Code)
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a request in flight", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		r := <-got
		if r.err != nil || r.code != 200 {
			t.Fatalf("in-flight request: %d %v, want 200", r.code, r.err)
		}
		if !r.close {
			t.Error("in-flight response did not carry Connection: close")
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if d := time.Since(begun); d > 2*time.Second {
			t.Errorf("Shutdown took %v", d)
		}
	})

	t.Run("idle keep-alive connections are closed at once", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.IdleTimeout = time.Minute
		ts := startServer(t, cfg, nil)
		c := ts.dial()
		io.WriteString(c, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		begun := time.Now()
		if err := ts.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begun); d > time.Second {
			t.Errorf("Shutdown with an idle connection took %v", d)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("idle connection still open after Shutdown (%v)", err)
		}
	})

	t.Run("a request that outlives the bound is cut off and its invocation cancelled", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.InvokeTimeout = 10 * time.Second
		cfg.ShutdownTimeout = 300 * time.Millisecond
		ts := startServer(t, cfg, nil)
		started, cancelled := make(chan struct{}), make(chan struct{})
		ts.backend.setInvoke(func(ctx context.Context, _ Target, _ *Request) (*Response, error) {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		})
		clientErr := make(chan error, 1)
		go func() {
			resp, err := ts.client().Post(ts.url(WebTriggerPath(ts.route)), "application/json", nil)
			if err == nil {
				resp.Body.Close()
			}
			clientErr <- err
		}()
		<-started
		begun := time.Now()
		err := ts.Shutdown(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(begun); d < cfg.ShutdownTimeout || d > cfg.ShutdownTimeout+time.Second {
			t.Errorf("Shutdown took %v, bound %v", d, cfg.ShutdownTimeout)
		}
		select {
		case <-cancelled:
		case <-time.After(2 * time.Second):
			t.Error("the invocation's context was not cancelled")
		}
		select {
		case <-clientErr:
		case <-time.After(2 * time.Second):
			t.Error("the client still waits")
		}
		waitfor.Until(t, 2*time.Second, "connections to close", waitfor.True(func() bool { return ts.conns.count() == 0 }))
	})

	t.Run("the caller's context bounds it too", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.InvokeTimeout = 10 * time.Second
		cfg.ShutdownTimeout = 20 * time.Second
		ts := startServer(t, cfg, nil)
		started := make(chan struct{})
		ts.backend.setInvoke(func(ctx context.Context, _ Target, _ *Request) (*Response, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		go func() {
			if resp, err := ts.client().Post(ts.url(WebTriggerPath(ts.route)), "application/json", nil); err == nil {
				resp.Body.Close()
			}
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		begun := time.Now()
		if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(begun); d > 1500*time.Millisecond {
			t.Errorf("Shutdown took %v with a 200ms context", d)
		}
	})

	t.Run("Serve after Shutdown returns at once", func(t *testing.T) {
		ts := startServer(t, testConfig(t), nil)
		if err := ts.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- ts.Serve(ln) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Serve after Shutdown blocks")
		}
	})
}
