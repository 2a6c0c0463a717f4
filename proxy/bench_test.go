package proxy

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHandle_WebTrigger is the proxy's own cost per request, without
// TLS or sockets: routing, lookup, both rate limits, the copy into Forge's
// shape, the invocation goroutine, the response and the access log check.
func BenchmarkHandle_WebTrigger(b *testing.B) {
	be := newFakeBackend()
	id := be.add(WebTrigger, "inst-a")
	cfg := testConfig(b)
	cfg.RouteRate, cfg.RouteBurst = 1e12, 1<<40
	cfg.InstallationRate, cfg.InstallationBurst = 1e12, 1<<40
	s, err := New(cfg, be, nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := "POST " + WebTriggerPath(id) + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n" +
		"X-Telegram-Bot-Api-Secret-Token: t\r\nContent-Length: 15\r\n\r\n{\"update_id\":1}"
	req := parseRequest(b, raw)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		ctx.Init(req, nil, nil)
		s.handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(ctx.Response.StatusCode())
		}
	}
}

func BenchmarkToWebTriggerRequest_Telegram(b *testing.B) {
	req := parseRequest(b, "POST /x/abc HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"+
		"X-Telegram-Bot-Api-Secret-Token: t\r\nContent-Length: 15\r\n\r\n{\"update_id\":1}")
	b.ReportAllocs()
	for b.Loop() {
		_ = toRequest(req)
	}
}
