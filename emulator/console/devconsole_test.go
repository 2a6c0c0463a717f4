package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/capability"
)

func TestConsoleServesItsPageUnderAStrictPolicy(t *testing.T) {
	h := New().Handler()
	for _, path := range []string{"/", "/console/console.js", "/console/console.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Fatalf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if body := rec.Body.String(); !strings.Contains(body, `id="messenger"`) || strings.Contains(body, "<script>") {
		t.Fatal("the page has no messenger pane, or an inline script")
	}
}

func TestConsoleAnswersUnavailableUntilAttached(t *testing.T) {
	rec := httptest.NewRecorder()
	New().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_console/state", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("state before Attach: %d", rec.Code)
	}
}

func TestConsoleRefusesCrossSiteWrites(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/_console/resolve/x/config.list", strings.NewReader("{}"))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	New().Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("a cross-site POST: %d", rec.Code)
	}
}

func TestTraceKeepsTheNewestEvents(t *testing.T) {
	c := New()
	for i := 0; i < keep+10; i++ {
		c.Trace(capability.Event{Kind: "storage", Op: "get", Duration: time.Millisecond})
	}
	if len(c.events) > keep || c.events[len(c.events)-1].Seq != keep+10 {
		t.Fatalf("%d events, last %d", len(c.events), c.events[len(c.events)-1].Seq)
	}
}

func TestTraceAndStateHammer(t *testing.T) {
	c := New()
	h := c.Handler()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 2000; i++ {
				c.Trace(capability.Event{Kind: "queue", Op: "push"})
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 200; i++ {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/_console/state?after=10", nil))
			c.SetReload(Reload{State: "building"})
		}
	}()
	for i := 0; i < 5; i++ {
		<-done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != 8000 {
		t.Fatalf("%d events traced, want 8000", c.seq)
	}
}
