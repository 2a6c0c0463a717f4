package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// With ReadTimeout equal to WriteTimeout (the defaults are), the write
// deadline fasthttp sets at the handshake, or after the previous response,
// has passed by the time a read times out. Every answer the edge writes must
// get a deadline of its own, or the client reads a broken TLS record instead
// of the answer.
func TestServe_AnswersEveryTimeoutCleanlyWhenReadAndWriteTimeoutsAreEqual(t *testing.T) {
	cfg := testConfig(t)
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = time.Second, time.Second, 5*time.Second
	ts := startServer(t, cfg, nil)
	head := "POST " + WebTriggerPath(ts.route) + " HTTP/1.1\r\nHost: x\r\n"

	// readTimeoutAnswer reads the 408 and then a clean end of the stream.
	readTimeoutAnswer := func(t *testing.T, br *bufio.Reader) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to a timed-out request: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading the 408's body: %v", err)
		}
		if resp.StatusCode != http.StatusRequestTimeout || string(body) != "Request Timeout\n" {
			t.Fatalf("got %d %q, want 408", resp.StatusCode, body)
		}
		if !resp.Close {
			t.Error("the 408 did not close the connection")
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the 408: %v, want a clean close (EOF)", err)
		}
	}

	t.Run("a first request that stalls in its headers gets 408", func(t *testing.T) {
		c := ts.dial()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		readTimeoutAnswer(t, bufio.NewReader(c))
	})
	t.Run("a first request that stalls in its body gets 408", func(t *testing.T) {
		c := ts.dial()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, head+"Content-Length: 10\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		readTimeoutAnswer(t, bufio.NewReader(c))
	})
	t.Run("a keep-alive request that stalls gets 408", func(t *testing.T) {
		c := ts.dial()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, head+"Content-Length: 2\r\n\r\n{}"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		readTimeoutAnswer(t, br)
	})
	t.Run("100 Continue is written under a deadline of its own", func(t *testing.T) {
		// The second request's headers end after the first response's
		// write deadline has passed but within the second's ReadTimeout.
		c := ts.dial()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, head+"Content-Length: 2\r\n\r\n{}"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		answered := time.Now()
		time.Sleep(cfg.WriteTimeout / 2)
		next := head + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"
		if _, err := io.WriteString(c, next[:10]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(answered.Add(cfg.WriteTimeout + cfg.WriteTimeout/5)))
		if _, err := io.WriteString(c, next[10:]); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("got %q %v, want 100 Continue", line, err)
		}
		if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
			t.Fatalf("after 100 Continue: %q %v", blank, err)
		}
		if _, err := io.WriteString(c, "{}"); err != nil {
			t.Fatal(err)
		}
		resp, err = http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("the continued request: %v %v", resp, err)
		}
		resp.Body.Close()
	})
	ts.assertHealthy()
}

func TestServe_RefusesRequestLinesOfOtherHTTPMajorVersionsWith505(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	path := WebTriggerPath(ts.route)
	tests := []struct {
		proto  string
		status int
	}{
		{"HTTP/2.0", http.StatusHTTPVersionNotSupported},
		{"HTTP/3.0", http.StatusHTTPVersionNotSupported},
		{"HTTP/0.9", http.StatusHTTPVersionNotSupported},
		{"HTTP/9.9", http.StatusHTTPVersionNotSupported},
		// A higher minor version of 1 is read as the highest one served
		// (RFC 9110 section 2.5).
		{"HTTP/1.0", http.StatusOK},
		{"HTTP/1.1", http.StatusOK},
		{"HTTP/1.2", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			calls := ts.backend.calls.Load()
			resp, _, closed, err := ts.rawExchange("POST " + path + " " + tt.proto + "\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if invoked := ts.backend.calls.Load() > calls; invoked != (tt.status == http.StatusOK) {
				t.Errorf("reached the backend: %v", invoked)
			}
			if !closed {
				t.Error("connection left open")
			}
		})
	}
	t.Run("the HTTP/2 connection preface is refused (400: no Host)", func(t *testing.T) {
		calls := ts.backend.calls.Load()
		resp, _, closed, err := ts.rawExchange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		if (resp.StatusCode != http.StatusHTTPVersionNotSupported && resp.StatusCode != http.StatusBadRequest) || !closed || ts.backend.calls.Load() != calls {
			t.Errorf("status %d, closed %v", resp.StatusCode, closed)
		}
	})
	ts.assertHealthy()
}
