package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// uploadBackend is a fakeBackend that takes upload links: token "good"
// from origin https://shop.example, reading the body as it comes.
type uploadBackend struct {
	*fakeBackend
	calls    atomic.Int64
	received atomic.Int64
	// firstMiB is closed once a megabyte has been read.
	firstMiB chan struct{}
	once     sync.Once
	// limit, when set, is the link's own size: reading past it is
	// ErrTooLarge.
	limit int64
	// heap is the largest heap in use seen while reading, in bytes.
	heap atomic.Uint64
	// wrap makes every failed read of the body ErrBadRequest, as
	// host/medialink (ErrBadUpload) and host/hostedge do.
	wrap bool
}

func (b *uploadBackend) Upload(ctx context.Context, token string, u *UploadRequest) error {
	b.calls.Add(1)
	if token != strings.Repeat("g", 43) {
		return ErrNotFound
	}
	if u.Origin != "https://shop.example" {
		return ErrForbidden
	}
	buf := make([]byte, 64<<10)
	signalled := false
	for {
		n, err := u.Body.Read(buf)
		got := b.received.Add(int64(n))
		if !signalled && got >= 1<<20 {
			signalled = true
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.heap.Store(ms.HeapInuse)
			b.once.Do(func() { close(b.firstMiB) })
		}
		if b.limit > 0 && got > b.limit {
			return ErrTooLarge
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && b.wrap {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if err != nil {
			return err
		}
	}
}

var _ Uploader = (*uploadBackend)(nil)

func startUploadServer(t *testing.T, cfg Config) (*uploadBackend, *testServer) {
	t.Helper()
	b := &uploadBackend{fakeBackend: newFakeBackend(), firstMiB: make(chan struct{})}
	srv, err := New(cfg, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := serveTest(t, srv, b.fakeBackend)
	return b, ts
}

var goodUpload = "/ul/" + strings.Repeat("g", 43)

// A 5 MiB upload reaches the backend while the client is still sending it:
// the client holds back the second half until the backend has read the
// first megabyte, which never happens if the edge reads the body whole
// first. Its 1 MiB limit for every other route stays.
func TestAnUploadLinksBodyIsStreamedToTheBackendAsItArrives(t *testing.T) {
	cfg := testConfig(t)
	b, ts := startUploadServer(t, cfg)
	const size = 5 << 20
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if sent == size/2 {
				select {
				case <-b.firstMiB:
				case <-time.After(time.Minute):
					pw.CloseWithError(errors.New("the backend had read nothing while the client waited"))
					return
				}
			}
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.url(goodUpload), pr)
	req.ContentLength = size
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := ts.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	if n := b.received.Load(); n != size {
		t.Errorf("the backend read %d bytes, want %d", n, size)
	}
	t.Logf("heap in use when the backend had read the first MiB of 5: %d KiB", b.heap.Load()>>10)

	// Any other route still refuses more than MaxBodyBytes.
	over := strings.Repeat("a", ts.cfg.MaxBodyBytes+1)
	if status, _, _ := ts.do("POST", WebTriggerPath(ts.route), over); status != 413 {
		t.Errorf("a web trigger body over the limit: %d, want 413", status)
	}
}

func TestAnUploadLinkAnswersOnlyItsOriginAndRefusesWhatIsTooLarge(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUploadBytes = 2 << 20
	b, ts := startUploadServer(t, cfg)

	for _, c := range []struct {
		name    string
		path    string
		origin  string
		body    string
		status  int
		cors    bool
		reached bool
	}{
		{"an unknown link is 404 without CORS", "/ul/" + strings.Repeat("u", 43), "https://shop.example", "x", 404, false, true},
		{"another origin is 403 without CORS", goodUpload, "https://evil.example", "x", 403, false, true},
		{"the link's origin may read the answer", goodUpload, "https://shop.example", "file", 200, true, true},
		{"an announced body over MaxUploadBytes is 413 unread", goodUpload, "https://shop.example", strings.Repeat("z", 2<<20+1), 413, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := b.calls.Load()
			status, h, _ := ts.do("POST", c.path, c.body, "Origin", c.origin)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if got := h.Get("Access-Control-Allow-Origin") != ""; got != c.cors {
				t.Errorf("CORS header %q", h.Get("Access-Control-Allow-Origin"))
			}
			if got := b.calls.Load() != before; got != c.reached {
				t.Errorf("reached the backend: %v, want %v", got, c.reached)
			}
		})
	}

	// A chunked body says nothing of its size: reading past the edge's
	// limit fails, and the page of the link's origin reads a 413.
	req, _ := http.NewRequest("POST", ts.url(goodUpload), io.MultiReader(strings.NewReader(strings.Repeat("c", 3<<20))))
	req.ContentLength = -1
	req.Header.Set("Origin", "https://shop.example")
	resp, err := ts.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("chunked over the limit: %d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	if status, h, _ := ts.do("GET", goodUpload, ""); status != 405 || h.Get("Allow") != "POST" {
		t.Errorf("GET of an upload link: %d, Allow %q", status, h.Get("Allow"))
	}
	if m := ts.metricsText(); !strings.Contains(m, `chatbridge_proxy_requests_total{kind="upload",code="200"}`) {
		t.Errorf("uploads not counted under their kind:\n%s", m)
	}
}

func TestAnUploadLinkIs404WithoutAnUploader(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	if status, _, _ := ts.do("POST", goodUpload, "x", "Origin", "https://shop.example"); status != 404 {
		t.Errorf("status %d, want 404", status)
	}
}

// heldUpload sends a POST to goodUpload whose body stays open until
// release is closed; it returns the answer's status on done.
func heldUpload(ts *testServer, release <-chan struct{}) <-chan int {
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("first bytes"))
		<-release
		pw.Close()
	}()
	go func() {
		req, _ := http.NewRequest("POST", ts.url(goodUpload), pr)
		req.ContentLength = -1
		req.Header.Set("Origin", "https://shop.example")
		resp, err := ts.client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// Uploads held open by a slow body fill their own pool, not the
// invocations': a web trigger still runs, while one more upload gets 503
// with Retry-After. One address takes at most MaxUploadsPerIP of the pool.
func TestSlowUploadsLeaveTheInvocationSlotsToWebhooks(t *testing.T) {
	for _, c := range []struct {
		name          string
		pool, perIP   int
		held          int
		invocationCap int
	}{
		{"the upload pool is full", 2, 2, 2, 2},
		{"one address has its share", 8, 2, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MaxInFlight = c.invocationCap
			cfg.MaxUploadsInFlight = c.pool
			cfg.MaxUploadsPerIP = c.perIP
			b, ts := startUploadServer(t, cfg)
			release := make(chan struct{})
			var held []<-chan int
			for i := 0; i < c.held; i++ {
				held = append(held, heldUpload(ts, release))
			}
			// Every held upload is in the backend, reading.
			waitfor.Until(t, 30*time.Second, "every held upload in the backend, reading", func() string {
				if calls, got := b.calls.Load(), b.received.Load(); calls < int64(c.held) || got < int64(c.held*len("first bytes")) {
					return fmt.Sprintf("%d uploads reached the backend, %d bytes read", calls, got)
				}
				return ""
			})
			for i := 0; i < c.invocationCap; i++ {
				if status, _, body := ts.do("POST", WebTriggerPath(ts.route), `{"update_id":1}`); status != 200 {
					t.Fatalf("a web trigger while uploads are held: %d %s", status, body)
				}
			}
			before := b.calls.Load()
			status, h, _ := ts.do("POST", goodUpload, "x", "Origin", "https://shop.example")
			if status != 503 || h.Get("Retry-After") == "" {
				t.Errorf("one more upload: %d, Retry-After %q; want 503 with Retry-After", status, h.Get("Retry-After"))
			}
			if b.calls.Load() != before {
				t.Error("the refused upload reached the backend")
			}
			close(release)
			for _, d := range held {
				if s := <-d; s != 200 {
					t.Errorf("a held upload ended %d", s)
				}
			}
			// The slots are given back.
			if status, _, _ := ts.do("POST", goodUpload, "x", "Origin", "https://shop.example"); status != 200 {
				t.Errorf("an upload after the held ones: %d", status)
			}
		})
	}
}

// A body over MaxUploadBytes is 413 and a body still arriving at
// UploadTimeout 408, readable by the link's page, even from a backend that
// makes every failed read of the body "not understood" (host/medialink
// does): the edge's own reader says what happened.
func TestAnUploadTooLargeOrTooSlowIsSaidSoWhateverTheBackendSays(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUploadBytes = 1 << 20
	cfg.UploadTimeout = time.Second
	b, ts := startUploadServer(t, cfg)
	b.wrap = true

	post := func(body io.Reader) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.url(goodUpload), body)
		req.ContentLength = -1 // chunked: nobody announces the size
		req.Header.Set("Origin", "https://shop.example")
		resp, err := ts.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	resp := post(strings.NewReader(strings.Repeat("c", 2<<20)))
	if resp.StatusCode != 413 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("chunked over MaxUploadBytes: %d, CORS %q; want 413", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// A body that sends a little and then nothing, until the edge's
	// answer has come.
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte("a start")) }()
	resp = post(pr)
	pw.Close()
	if resp.StatusCode != 408 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("a body stalled past UploadTimeout: %d, CORS %q; want 408", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
