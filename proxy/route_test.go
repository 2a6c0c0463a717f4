package proxy

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestNewRouteID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRouteID()
		if len(id) != 32 {
			t.Fatalf("len(%q) = %d, want 32 (192 bits)", id, len(id))
		}
		if !ValidRouteID(id) {
			t.Fatalf("NewRouteID made an id it does not accept: %q", id)
		}
		if seen[id] {
			t.Fatalf("NewRouteID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestRoute(t *testing.T) {
	id := NewRouteID()
	tests := []struct {
		name       string
		method     string
		path       string
		wantKind   Kind
		wantStatus int
	}{
		{"POST /x/{id} is a web trigger", "POST", "/x/" + id, WebTrigger, 0},
		{"GET /x/{id} is a web trigger", "GET", "/x/" + id, WebTrigger, 0},
		{"POST /jira/{id} is a Jira event", "POST", "/jira/" + id, JiraEvents, 0},
		{"HEAD /x/{id} is 405", "HEAD", "/x/" + id, WebTrigger, 405},
		{"GET /jira/{id} is 405", "GET", "/jira/" + id, JiraEvents, 405},
		{"GET /dl/{token} is a download", "GET", "/dl/" + id, Download, 0},
		{"HEAD /dl/{token} is a download", "HEAD", "/dl/" + id, Download, 0},
		{"POST /dl/{token} is 405", "POST", "/dl/" + id, Download, 405},
		{"a short token is 404", "GET", "/dl/" + id[:20], 0, 404},
		{"lower-case post is 405", "post", "/x/" + id, WebTrigger, 405},
		{"22 characters is the shortest id", "POST", "/x/" + strings.Repeat("a", 22), WebTrigger, 0},
		{"21 characters is too short", "POST", "/x/" + strings.Repeat("a", 21), 0, 404},
		{"64 characters is the longest id", "POST", "/x/" + strings.Repeat("a", 64), WebTrigger, 0},
		{"65 characters is too long", "POST", "/x/" + strings.Repeat("a", 65), 0, 404},
		{"padding is not part of the alphabet", "POST", "/x/" + id[:30] + "==", 0, 404},
		{"a trailing slash is 404", "POST", "/x/" + id + "/", 0, 404},
		{"a dot segment is 404", "POST", "/x/../" + id, 0, 404},
		{"no id is 404", "POST", "/x/", 0, 404},
		{"an empty path is 404", "POST", "", 0, 404},
		{"the prefix without its slash is 404", "POST", "/x" + id, 0, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := route([]byte(tt.method), []byte(tt.path))
			if r.kind != tt.wantKind || r.status != tt.wantStatus {
				t.Errorf("route = kind %d status %d, want kind %d status %d", r.kind, r.status, tt.wantKind, tt.wantStatus)
			}
		})
	}
}

func TestRouteTag_IsShortAndDoesNotRevealTheID(t *testing.T) {
	id := NewRouteID()
	tag := routeTag([]byte(id))
	if len(tag) != 8 || strings.Contains(id, tag) {
		t.Errorf("routeTag(%q) = %q", id, tag)
	}
	if routeTag([]byte(id)) != tag {
		t.Error("routeTag is not stable")
	}
}

func TestAmbiguousFraming(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"Content-Length alone is fine", "Host: x\r\nContent-Length: 2\r\n\r\n", false},
		{"chunked alone is fine", "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"both are ambiguous", "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"both in any case are ambiguous", "content-LENGTH: 2\r\ntransfer-encoding: chunked\r\n\r\n", true},
		{"a folded line is ambiguous", "X-A: 1\r\n\tmore\r\n\r\n", true},
		{"bare LF lines are read too", "Content-Length: 2\nTransfer-Encoding: chunked\n\n", true},
		{"a header named like a prefix is fine", "Content-Length-X: 2\r\nTransfer-Encoding: chunked\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ambiguousFraming([]byte(tt.raw)); got != tt.want {
				t.Errorf("ambiguousFraming = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzRoute drives the whole public handler with arbitrary methods and
// paths: it must never panic, answer only 200, 404 or 405, and invoke the
// backend only for the one known route.
func FuzzRoute(f *testing.F) {
	b := newFakeBackend()
	known := b.add(WebTrigger, "inst-a")
	jira := b.add(JiraEvents, "inst-a")
	cfg := testConfig(f)
	cfg.RouteRate, cfg.RouteBurst = 1e9, 1<<30
	cfg.InstallationRate, cfg.InstallationBurst = 1e9, 1<<30
	s, err := New(cfg, b, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ method, path string }{
		{"POST", "/x/" + known}, {"GET", "/x/" + known + "?hub.challenge=1"}, {"POST", "/jira/" + jira},
		{"PUT", "/x/" + known}, {"POST", "/x/" + known + "/"}, {"POST", "/x/%2e%2e/" + known},
		{"POST", "/x/" + NewRouteID()}, {"GET", "/"}, {"POST", "//x//" + known}, {"", ""},
		{"POST", "/x/" + strings.ToUpper(known)}, {"POST", "http://h/x/" + known}, {"POST", "*"},
	} {
		f.Add(seed.method, seed.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r := route([]byte(method), []byte(path))
		if r.status == 0 && !validRouteID(r.id) {
			t.Fatalf("route accepted id %q", r.id)
		}

		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI(path)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		before := b.calls.Load()
		s.handle(&ctx)
		code := ctx.Response.StatusCode()
		switch code {
		case 200, 404, 405:
		default:
			t.Fatalf("%q %q: status %d", method, path, code)
		}
		if len(ctx.Response.Header.Peek("Strict-Transport-Security")) == 0 {
			t.Fatal("no HSTS")
		}
		invoked := b.calls.Load() != before
		if invoked != (code == 200) {
			t.Fatalf("%q %q: status %d but invoked = %v", method, path, code, invoked)
		}
		if invoked {
			got := b.lastRequest().Path
			if got != "/x/"+known && got != "/jira/"+jira {
				t.Fatalf("%q %q: invoked for path %q", method, path, got)
			}
		}
	})
}
