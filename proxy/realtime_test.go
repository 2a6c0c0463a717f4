package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/proxy/widget"
)

// rtBackend is a fakeBackend that also holds realtime subscriptions: a
// token "ok-<origin-index>" subscribes, anything else is unknown.
type rtBackend struct {
	*fakeBackend
	mu      sync.Mutex // guards streams
	streams []*fakeStream
	expires time.Duration
	full    bool // every Subscribe is over the limit
	closed  atomic.Int64
}

const rtOrigin = "https://shop.example"

type fakeStream struct {
	b      *rtBackend
	events chan []byte
	done   chan struct{}
	exp    time.Time
	once   sync.Once
}

func (f *fakeStream) Events() <-chan []byte { return f.events }
func (f *fakeStream) Done() <-chan struct{} { return f.done }
func (f *fakeStream) Expires() time.Time    { return f.exp }
func (f *fakeStream) Close()                { f.once.Do(func() { f.b.closed.Add(1) }) }

func (b *rtBackend) Subscribe(_ context.Context, token, origin, addr string) (Stream, error) {
	switch {
	case token != "rt1.good.token":
		return nil, ErrNotFound
	case origin != rtOrigin:
		return nil, ErrForbidden
	case b.full:
		return nil, ErrTooMany
	}
	if net.ParseIP(addr) == nil {
		return nil, errors.New("no client address")
	}
	exp := b.expires
	if exp == 0 {
		exp = time.Hour
	}
	s := &fakeStream{b: b, events: make(chan []byte, 8), done: make(chan struct{}), exp: time.Now().Add(exp)}
	b.mu.Lock()
	b.streams = append(b.streams, s)
	b.mu.Unlock()
	return s, nil
}

func (b *rtBackend) open() []*fakeStream {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*fakeStream(nil), b.streams...)
}

var _ Subscriber = (*rtBackend)(nil)

func startRealtimeServer(t *testing.T, cfg Config, b *rtBackend) *testServer {
	t.Helper()
	b.fakeBackend = newFakeBackend()
	srv, err := New(cfg, b, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, t: t, addr: ln.Addr().String(), roots: mustRoots(t, srv.cfg.CertFile), served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-ts.served
	})
	return ts
}

// subscribe opens GET /rt/{token} from origin and returns the response
// with its body unread.
func (ts *testServer) subscribe(token, origin string) *http.Response {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", ts.url("/rt/"+token), nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	c := ts.client()
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readEvent reads one SSE event (up to the blank line), skipping comments.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v (read %q)", err, lines)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && len(lines) > 0:
			return strings.Join(lines, "\n")
		case line == "", strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		default:
			lines = append(lines, line)
		}
	}
}

func TestRealtimeStreamsWhatIsPublishedAsServerSentEvents(t *testing.T) {
	b := &rtBackend{}
	ts := startRealtimeServer(t, testConfig(t), b)
	resp := ts.subscribe("rt1.good.token", rtOrigin)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != rtOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want the page's origin", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	r := bufio.NewReader(resp.Body)
	st := b.open()[0]
	st.events <- []byte(`{"text":"hello"}`)
	if got := readEvent(t, r); got != `data: {"text":"hello"}` {
		t.Errorf("event = %q", got)
	}
	// A payload's line breaks cannot end the event or forge a field.
	st.events <- []byte("one\r\n\nevent: evil\rtwo")
	if got := readEvent(t, r); got != "data: one\ndata: \ndata: event: eviltwo" {
		t.Errorf("event = %q", got)
	}
	close(st.done)
	if got := readEvent(t, r); got != "event: closed\ndata: " {
		t.Errorf("last event = %q", got)
	}
	waitfor.Until(t, 10*time.Second, "the stream closed", waitfor.True(func() bool { return b.closed.Load() == 1 }))
}

func TestRealtimeRefusesWhatTheBackendRefuses(t *testing.T) {
	b := &rtBackend{}
	ts := startRealtimeServer(t, testConfig(t), b)
	for _, c := range []struct {
		name, path, origin, method string
		status                     int
	}{
		{"an unknown token", "/rt/rt1.other.token", rtOrigin, "GET", 404},
		{"another origin", "/rt/rt1.good.token", "https://evil.example", "GET", 403},
		{"no origin", "/rt/rt1.good.token", "", "GET", 403},
		{"a token of another alphabet", "/rt/rt1.go%2Fod", rtOrigin, "GET", 404},
		{"a token too long", "/rt/" + strings.Repeat("a", maxRealtimeTokenLen+1), rtOrigin, "GET", 404},
		{"a POST", "/rt/rt1.good.token", rtOrigin, "POST", 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, ts.url(c.path), nil)
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			resp, err := ts.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("a refused subscription carries Access-Control-Allow-Origin %q: the page could read it", got)
			}
		})
	}
	b.full = true
	if resp := ts.subscribe("rt1.good.token", rtOrigin); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if len(b.open()) != 0 {
		t.Errorf("%d streams opened", len(b.open()))
	}
}

func TestRealtimeStreamEndsAtExpiryWithAnEventThePageRenewsOn(t *testing.T) {
	b := &rtBackend{expires: 300 * time.Millisecond}
	ts := startRealtimeServer(t, testConfig(t), b)
	r := bufio.NewReader(ts.subscribe("rt1.good.token", rtOrigin).Body)
	if got := readEvent(t, r); got != "event: expired\ndata: " {
		t.Errorf("event = %q", got)
	}
	waitfor.Until(t, 10*time.Second, "the stream closed", waitfor.True(func() bool { return b.closed.Load() == 1 }))
}

func TestRealtimeStreamClosesWhenTheClientGoes(t *testing.T) {
	cfg := testConfig(t)
	cfg.RealtimeHeartbeat = 20 * time.Millisecond
	b := &rtBackend{}
	ts := startRealtimeServer(t, cfg, b)
	resp := ts.subscribe("rt1.good.token", rtOrigin)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitfor.Until(t, 10*time.Second, "the stream counted", func() string {
		if !strings.Contains(ts.metricsTextPublic(), "chatbridge_proxy_realtime_streams 1") {
			return "gauge not 1"
		}
		return ""
	})
	resp.Body.Close()
	// The next heartbeat finds the connection gone.
	waitfor.Until(t, 10*time.Second, "the stream closed", waitfor.True(func() bool { return b.closed.Load() == 1 }))
	waitfor.Until(t, 10*time.Second, "the gauge back to 0", func() string {
		if !strings.Contains(ts.metricsTextPublic(), "chatbridge_proxy_realtime_streams 0") {
			return "gauge not 0"
		}
		return ""
	})
}

func TestShutdownEndsOpenRealtimeStreams(t *testing.T) {
	b := &rtBackend{}
	ts := startRealtimeServer(t, testConfig(t), b)
	for range 3 {
		if resp := ts.subscribe("rt1.good.token", rtOrigin); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A stream never falls idle: without ending them, Shutdown would wait
	// out its whole timeout and report it.
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	waitfor.Until(t, 10*time.Second, "every stream closed", waitfor.True(func() bool { return b.closed.Load() == 3 }))
}

// metricsTextPublic renders the edge's metrics without the admin listener.
func (ts *testServer) metricsTextPublic() string {
	var sb strings.Builder
	_ = ts.metrics.write(&sb)
	return sb.String()
}

func TestTheEdgeServesTheWidgetScriptToAnyPage(t *testing.T) {
	ts := startRealtimeServer(t, testConfig(t), &rtBackend{})
	req, _ := http.NewRequest("GET", ts.url("/w/widget.js"), nil)
	req.Header.Set("Origin", "https://any.example")
	resp, err := ts.client().Do(req) // the transport asks for gzip and decodes it
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, widget.Script) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		resp.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" || !resp.Uncompressed {
		t.Fatalf("GET: %d, %d bytes, %v, gzip %v", resp.StatusCode, len(body), resp.Header, resp.Uncompressed)
	}
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err := ts.client().Do(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("revalidation: %v %v", resp, err)
	}
	if code, _, _ := ts.do("POST", "/w/widget.js", ""); code != 405 {
		t.Errorf("POST: %d", code)
	}
	if code, _, _ := ts.do("GET", "/w/other.js", ""); code != 404 {
		t.Errorf("another script: %d", code)
	}
}
