package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// realtimeKeyPrefix keys the token buckets of subscription requests, one
// per client address, as downloads do.
const realtimeKeyPrefix = "rt "

// Heartbeat is how often an idle stream sends an SSE comment, so that a
// client that went away is found and proxies in between keep the
// connection open. Tests shorten it through Config.RealtimeHeartbeat.
const defaultRealtimeHeartbeat = 15 * time.Second

// serveRealtime answers GET /rt/{token} with a Server-Sent Events stream
// of what the module publishes to the token's channel, until the token
// expires, the subscription ends, the client goes or the edge shuts down.
// CORS: the page's origin is echoed in Access-Control-Allow-Origin only
// when the backend accepted it; a refused origin gets a bare 403, which a
// browser does not let the page read.
func (s *Server) serveRealtime(ctx *fasthttp.RequestCtx, token []byte) {
	sub, ok := s.backend.(Subscriber)
	if !ok {
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	}
	if ok, wait := s.routes.allow(realtimeKeyPrefix+ctx.RemoteIP().String(), time.Now()); !ok {
		s.rateLimited(ctx, scopeRoute, wait)
		return
	}
	origin := string(ctx.Request.Header.Peek("Origin"))
	if !validHeaderValue(origin) {
		s.respond(ctx, fasthttp.StatusForbidden)
		return
	}
	sctx, cancel := context.WithTimeout(s.invokeCtx, s.cfg.InvokeTimeout)
	st, err := sub.Subscribe(sctx, string(token), origin, ctx.RemoteIP().String())
	cancel()
	switch {
	case errors.Is(err, ErrNotFound):
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	case errors.Is(err, ErrForbidden):
		s.respond(ctx, fasthttp.StatusForbidden)
		return
	case errors.Is(err, ErrTooMany):
		s.metrics.rateLimited[scopeInstallation].Add(1)
		ctx.Response.Header.Set("Retry-After", "5")
		s.respond(ctx, fasthttp.StatusTooManyRequests)
		return
	case err != nil || st == nil:
		s.respond(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentType("text/event-stream; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	// Tells nginx-style proxies in front of the edge not to buffer.
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	ctx.Response.Header.Set("Vary", "Origin")
	if origin != "" {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", origin)
	}
	conn := ctx.Conn()
	s.metrics.streams.Add(1)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.metrics.streams.Add(-1)
		defer st.Close()
		s.stream(w, conn, st)
	})
}

// stream writes st's events to w until it ends. Each write gets its own
// WriteTimeout: a stream outlives any one deadline.
func (s *Server) stream(w *bufio.Writer, conn net.Conn, st Stream) {
	flush := func() bool {
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		return w.Flush() == nil
	}
	// retry: how long a browser waits before it reconnects on its own.
	_, _ = w.WriteString("retry: 3000\n: open\n\n")
	if !flush() {
		return
	}
	expiry := time.NewTimer(time.Until(st.Expires()))
	defer expiry.Stop()
	beat := time.NewTicker(s.cfg.RealtimeHeartbeat)
	defer beat.Stop()
	for {
		select {
		case p := <-st.Events():
			writeEvent(w, "", p)
		case <-beat.C:
			_, _ = w.WriteString(": ping\n\n")
		case <-expiry.C:
			// The page asks for a new token and subscribes again.
			writeEvent(w, "expired", nil)
			flush()
			return
		case <-st.Done():
			writeEvent(w, "closed", nil)
			flush()
			return
		case <-s.streamsEnd:
			return
		}
		if !flush() {
			return // the client went
		}
	}
}

// writeEvent writes one SSE event; each line of p becomes a data line, so
// a payload cannot end the event early or forge a field.
func writeEvent(w *bufio.Writer, name string, p []byte) {
	if name != "" {
		_, _ = w.WriteString("event: " + name + "\n")
	}
	for {
		line, rest, more := bytes.Cut(p, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		_, _ = w.WriteString("data: ")
		_, _ = w.Write(bytes.ReplaceAll(line, []byte("\r"), nil))
		_ = w.WriteByte('\n')
		if !more {
			break
		}
		p = rest
	}
	_ = w.WriteByte('\n')
}
