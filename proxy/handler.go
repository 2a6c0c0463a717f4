package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// errBackendPanic stands for a panic inside Backend.Invoke, which the proxy
// contains so that one bad call cannot take the edge down.
var errBackendPanic = errors.New("proxy: backend panicked")

// access is what one request leaves in the access log and metrics.
type access struct {
	parsed       bool // the request line was read: its method means something
	kind         Kind
	id           []byte // the route id, aliasing the request; logged only as a hash
	installation string
	bytesIn      int // the body's bytes read
	// body is the request body readBody read: the edge's own copy, handed
	// to the backend as it is.
	body []byte
}

// handle serves one public request. Everything it hands to the backend is a
// copy: fasthttp reuses ctx and its buffers once handle returns.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	a := access{parsed: true}
	defer func() {
		if p := recover(); p != nil {
			// The panic value may quote the request; log its type only.
			s.log.Error("proxy: handler panic", "panic_type", fmt.Sprintf("%T", p))
			ctx.Response.Reset()
			s.respond(ctx, fasthttp.StatusInternalServerError)
		}
		s.finish(ctx, &a, start)
		s.armWrite(ctx)
	}()
	s.serve(ctx, &a)
}

// armWrite gives the answer about to be written a WriteTimeout of its own.
// fasthttp arms the write deadline at the TLS handshake and after each
// handler only, so the answers it writes itself (100 Continue, and error
// answers such as 408) would inherit a deadline that may have passed: with
// ReadTimeout equal to WriteTimeout, always when a read times out, and the
// client would read a broken TLS record instead of the 408. Every answer
// therefore arms its own: handle, handleExpect and handleError.
func (s *Server) armWrite(ctx *fasthttp.RequestCtx) {
	if _, ok := ctx.Conn().(*tls.Conn); !ok {
		return // not a connection Serve accepted (a RequestCtx made by Init)
	}
	_ = ctx.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, a *access) {
	if !httpMajorOne(ctx.Request.Header.Protocol()) {
		// fasthttp reads any HTTP/d.d request line as HTTP/1.x. A major
		// version other than 1 on this framing is not a request the edge
		// can read as its sender meant it (RFC 9112 section 2.3).
		ctx.SetConnectionClose()
		s.respond(ctx, fasthttp.StatusHTTPVersionNotSupported)
		return
	}
	if ambiguousFraming(ctx.Request.Header.RawHeaders()) {
		// fasthttp let chunked win; refuse instead, and end the connection
		// so that nothing framed the other way can follow.
		ctx.SetConnectionClose()
		s.respond(ctx, fasthttp.StatusBadRequest)
		return
	}
	r := route(ctx.Method(), ctx.Path())
	a.kind = r.kind
	switch r.status {
	case 0:
	case fasthttp.StatusMethodNotAllowed:
		ctx.Response.Header.Set("Allow", r.allow)
		s.respond(ctx, r.status)
		return
	default:
		s.respond(ctx, r.status)
		return
	}
	if r.kind == Upload {
		s.serveUpload(ctx, r.id, a)
		return
	}
	if status := s.readBody(ctx, a); status != 0 {
		// As fasthttp's own refusals of a body: counted under no kind.
		*a = access{parsed: true}
		s.respond(ctx, status)
		ctx.SetConnectionClose()
		lingerAfterError(ctx.Conn())
		return
	}
	if r.kind == Download {
		s.serveDownload(ctx, r.id)
		return
	}
	if r.kind == Realtime {
		s.serveRealtime(ctx, r.id)
		return
	}
	if r.kind == Script {
		serveScript(ctx)
		return
	}
	id := string(r.id)
	t, ok := s.backend.Lookup(id)
	if !ok || t.Kind != r.kind {
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	}
	a.id, a.installation = r.id, t.Installation

	now := time.Now()
	// A route with a per-address limit is one a browser calls (a website
	// widget's): its refusals are readable cross-origin (limitReadable).
	browser := t.PerAddress.Every > 0
	if browser {
		l := t.PerAddress
		// First, so that an address over its own limit spends nothing of
		// the route's and installation's buckets, which every client of the
		// route shares: one address spends at most its own rate of them.
		if ok, wait := s.addresses.allowAt(addressBucket(id, l, ctx.RemoteIP()), float64(time.Second)/float64(l.Every), float64(max(l.Burst, 1)), now); !ok {
			s.limitReadable(ctx, browser)
			s.rateLimited(ctx, scopeAddress, wait)
			return
		}
	}
	if ok, wait := s.routes.allow(id, now); !ok {
		s.limitReadable(ctx, browser)
		s.rateLimited(ctx, scopeRoute, wait)
		return
	}
	if ok, wait := s.installations.allow(t.Installation, now); !ok {
		s.limitReadable(ctx, browser)
		s.rateLimited(ctx, scopeInstallation, wait)
		return
	}
	select {
	case s.inFlight <- struct{}{}:
	default:
		ctx.Response.Header.Set("Retry-After", "1")
		s.respond(ctx, fasthttp.StatusServiceUnavailable)
		return
	}

	resp, err := s.invoke(t, toRequestBody(&ctx.Request, a.body))
	switch {
	case err == nil && resp != nil:
		s.writeResponse(ctx, resp)
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		s.respond(ctx, fasthttp.StatusGatewayTimeout)
	case errors.Is(err, ErrOverloaded), errors.Is(err, context.Canceled):
		ctx.Response.Header.Set("Retry-After", "1")
		s.respond(ctx, fasthttp.StatusServiceUnavailable)
	default:
		// The error text is the host's and may name the request; log its
		// category through the status only.
		s.respond(ctx, fasthttp.StatusBadGateway)
	}
}

// limitReadable lets the page that called a browser's route read the
// edge's refusal and its Retry-After, so that a website widget can say how
// long to wait: the request's Origin is echoed, whatever it is, since the
// refusal carries nothing but the wait (RATIONALE.md, "Why may any page
// read the edge's 429 on a widget's route?"). Other routes' refusals, and
// every answer the module gives, are left as they are.
func (s *Server) limitReadable(ctx *fasthttp.RequestCtx, browser bool) {
	origin := ctx.Request.Header.Peek("Origin")
	if !browser || len(origin) == 0 || !validHeaderValue(string(origin)) {
		return
	}
	ctx.Response.Header.SetBytesV("Access-Control-Allow-Origin", origin)
	ctx.Response.Header.Set("Access-Control-Expose-Headers", "Retry-After")
	ctx.Response.Header.Set("Vary", "Origin")
}

func (s *Server) rateLimited(ctx *fasthttp.RequestCtx, scope int, wait time.Duration) {
	s.metrics.rateLimited[scope].Add(1)
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	s.respond(ctx, fasthttp.StatusTooManyRequests)
}

type invokeResult struct {
	resp *Response
	err  error
}

// invoke runs the backend call under the proxy's own deadline, in its own
// goroutine so that a backend which ignores its context still cannot hold
// the client past the deadline. The call keeps its in-flight slot until it
// really returns, so a stuck backend fills MaxInFlight and then gets 503s
// instead of piling up goroutines.
func (s *Server) invoke(t Target, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(s.invokeCtx, s.cfg.InvokeTimeout)
	defer cancel()
	done := make(chan invokeResult, 1)
	s.metrics.inFlight.Add(1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("proxy: backend panic", "panic_type", fmt.Sprintf("%T", p))
				done <- invokeResult{err: errBackendPanic}
			}
			s.metrics.inFlight.Add(-1)
			<-s.inFlight
		}()
		resp, err := s.backend.Invoke(ctx, t, req)
		done <- invokeResult{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		select {
		case r := <-done: // finished at the same moment: prefer the answer
			return r.resp, r.err
		default:
			return nil, ctx.Err()
		}
	}
}

// Response headers the module may not set: framing and connection
// management belong to the proxy, and HSTS is the proxy's promise.
var droppedResponseHeaders = map[string]bool{
	"connection": true, "content-length": true, "date": true, "keep-alive": true,
	"proxy-connection": true, "server": true, "strict-transport-security": true,
	"te": true, "trailer": true, "transfer-encoding": true, "upgrade": true,
}

func (s *Server) writeResponse(ctx *fasthttp.RequestCtx, resp *Response) {
	status := int(resp.Status)
	if status == 0 {
		status = fasthttp.StatusOK
	}
	if status < 200 || status > 599 {
		s.respond(ctx, fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/octet-stream")
	for _, h := range resp.Headers {
		name := lowerASCII([]byte(h.Name))
		if droppedResponseHeaders[name] || !validHeaderName(h.Name) || !validHeaderValue(h.Value) {
			continue
		}
		if name == "content-type" {
			ctx.Response.Header.SetContentType(h.Value)
			continue
		}
		ctx.Response.Header.Add(h.Name, h.Value)
	}
	ctx.SetBody(resp.Body) // copies
}

// respond answers with status and its reason phrase as a short text body.
func (s *Server) respond(ctx *fasthttp.RequestCtx, status int) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(http.StatusText(status) + "\n")
}

// finish adds the headers every response carries, then counts and logs.
func (s *Server) finish(ctx *fasthttp.RequestCtx, a *access, start time.Time) {
	setSecurityHeaders(&ctx.Response.Header, s.hsts)
	d := time.Since(start)
	status := ctx.Response.StatusCode()
	s.metrics.request(a.kind, status, d)
	if !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	method := "-"
	if a.parsed {
		method = methodLabel(ctx.Method())
	}
	attrs := [8]slog.Attr{
		slog.String("kind", kindLabel(a.kind)),
		slog.String("method", method),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int("bytes_in", a.bytesIn),
		slog.Int("bytes_out", bytesOut(&ctx.Response)),
	}
	n := 6
	if a.id != nil {
		attrs[n] = slog.String("route", routeTag(a.id))
		attrs[n+1] = slog.String("installation", a.installation)
		n += 2
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "proxy: request", attrs[:n]...)
}

func setSecurityHeaders(h *fasthttp.ResponseHeader, hsts string) {
	h.Set("Strict-Transport-Security", hsts)
	h.Set("X-Content-Type-Options", "nosniff")
}

// methodLabel keeps attacker-chosen method text out of logs.
func methodLabel(m []byte) string {
	switch string(m) {
	case "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE":
		return string(m)
	}
	return "other"
}

// handleError answers what fasthttp could not parse. It is called with the
// connection about to close.
func (s *Server) handleError(ctx *fasthttp.RequestCtx, err error) {
	start := time.Now()
	if st := ctx.TLSConnectionState(); st != nil && !st.HandshakeComplete {
		s.metrics.handshakes.Add(1)
		return // nothing can be written on this connection
	}
	status := fasthttp.StatusBadRequest
	switch errorClass(err) {
	case "body_too_large":
		status = fasthttp.StatusRequestEntityTooLarge
	case "header_too_large":
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
	case "timeout":
		status = fasthttp.StatusRequestTimeout
	}
	ctx.Response.Reset()
	s.respond(ctx, status)
	ctx.SetConnectionClose()
	lingerAfterError(ctx.Conn())
	s.finish(ctx, &access{}, start)
	s.armWrite(ctx)
}

// handleExpect refuses "Expect: 100-continue" requests that announce an
// oversize body, so the client never sends it.
func (s *Server) handleExpect(ctx *fasthttp.RequestCtx) int {
	limit := int64(s.cfg.MaxBodyBytes)
	if bytes.HasPrefix(ctx.Path(), []byte(uploadPrefix)) {
		limit = s.cfg.MaxUploadBytes
	}
	if n := ctx.Request.Header.ContentLength(); int64(n) > limit {
		status := fasthttp.StatusRequestEntityTooLarge
		s.respond(ctx, status)
		lingerAfterError(ctx.Conn()) // the client may send the body anyway
		s.finish(ctx, &access{parsed: true}, time.Now())
		s.armWrite(ctx)
		return status
	}
	s.armWrite(ctx) // for the 100 Continue; handle arms the answer again
	return fasthttp.StatusContinue
}

// readBody reads the streamed body of a request on any route but an upload
// link's, at most MaxBodyBytes of it, into a.body. It returns 0, or
// the status to refuse the request with: 413 over the limit (before
// reading when Content-Length announces it), 408 when the client is too
// slow, 400 for a broken body.
func (s *Server) readBody(ctx *fasthttp.RequestCtx, a *access) int {
	r := &ctx.Request
	if !r.IsBodyStream() {
		a.body = bytes.Clone(r.Body())
		a.bytesIn = len(a.body)
		return 0
	}
	n := r.Header.ContentLength()
	if n > s.cfg.MaxBodyBytes {
		return fasthttp.StatusRequestEntityTooLarge
	}
	var (
		b   []byte
		err error
	)
	if n >= 0 {
		b = make([]byte, n)
		_, err = io.ReadFull(r.BodyStream(), b)
	} else { // chunked
		b, err = io.ReadAll(io.LimitReader(r.BodyStream(), int64(s.cfg.MaxBodyBytes)+1))
	}
	switch {
	case err != nil && isTimeout(err):
		return fasthttp.StatusRequestTimeout
	case err != nil:
		return fasthttp.StatusBadRequest
	case len(b) > s.cfg.MaxBodyBytes:
		return fasthttp.StatusRequestEntityTooLarge
	}
	a.bytesIn, a.body = len(b), b
	return 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hopByHop are request headers that describe this connection, not the
// request; the module does not see them.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true, "expect": true,
}

// toRequest copies r into the Request a Backend gets. Every
// string and slice is a fresh copy: nothing aliases fasthttp's buffers.
// Header names are lower-cased as Forge delivers them; repeated headers and
// query parameters stay as repeated pairs, in order.
func toRequest(r *fasthttp.Request) *Request { return toRequestBody(r, bytes.Clone(r.Body())) }

// toRequestBody is toRequest with the body already copied (readBody's).
func toRequestBody(r *fasthttp.Request, body []byte) *Request {
	out := &Request{
		Method: string(r.Header.Method()),
		Path:   string(r.URI().Path()),
		Body:   body,
	}
	if out.Body == nil {
		out.Body = []byte{}
	}
	out.Headers = make([]Header, 0, r.Header.Len())
	for k, v := range r.Header.All() {
		name := lowerASCII(k)
		if hopByHop[name] {
			continue
		}
		out.Headers = append(out.Headers, Header{Name: name, Value: string(v)})
	}
	args := r.URI().QueryArgs()
	if n := args.Len(); n > 0 {
		out.Query = make([]Header, 0, n)
		for k, v := range args.All() {
			out.Query = append(out.Query, Header{Name: string(k), Value: string(v)})
		}
	}
	return out
}

func lowerASCII(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// validHeaderName accepts an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than tab, so that a
// module cannot split the response.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// httpMajorOne reports whether a request line's version, which fasthttp
// has checked to be "HTTP/d.d", is HTTP/1.x.
func httpMajorOne(proto []byte) bool {
	return len(proto) == len("HTTP/1.1") && proto[5] == '1'
}

// ambiguousFraming reports a header block that two HTTP parsers could
// read differently: Content-Length together with Transfer-Encoding, or an
// obsolete folded line. fasthttp accepts both (chunked wins; folds are
// joined); the edge refuses them. raw is the header block as received.
func ambiguousFraming(raw []byte) bool {
	var cl, te bool
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return true
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			cl = true
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			te = true
		}
	}
	return cl && te
}
