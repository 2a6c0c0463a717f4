package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// uploadKeyPrefix keys the token buckets of upload requests, one per client
// address, as downloadKeyPrefix does for downloads.
const uploadKeyPrefix = "ul "

// serveUpload answers POST /ul/{token} from the backend's Uploader, handing
// it the body as it arrives: the edge never holds more of it than
// fasthttp's read buffer. The body gets UploadTimeout instead of
// ReadTimeout, and at most MaxUploadBytes.
func (s *Server) serveUpload(ctx *fasthttp.RequestCtx, token []byte, a *access) {
	up, ok := s.backend.(Uploader)
	if !ok {
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	}
	if ok, wait := s.routes.allow(uploadKeyPrefix+ctx.RemoteIP().String(), time.Now()); !ok {
		s.rateLimited(ctx, scopeRoute, wait)
		return
	}
	length := int64(ctx.Request.Header.ContentLength())
	if length > s.cfg.MaxUploadBytes {
		s.respond(ctx, fasthttp.StatusRequestEntityTooLarge)
		ctx.SetConnectionClose()
		lingerAfterError(ctx.Conn())
		return
	}
	if length < 0 {
		length = -1 // chunked
	}
	// An upload may take UploadTimeout: it takes a slot of its own pool,
	// never one of the invocations' (MaxInFlight), and one address takes
	// at most MaxUploadsPerIP of them.
	ip := ctx.RemoteIP().String()
	if !s.uploads.take(ip) {
		ctx.Response.Header.Set("Retry-After", "1")
		s.respond(ctx, fasthttp.StatusServiceUnavailable)
		ctx.SetConnectionClose()
		lingerAfterError(ctx.Conn())
		return
	}
	defer s.uploads.give(ip)
	// A file takes longer than a webhook: the connection's read deadline,
	// set from ReadTimeout when the request began, moves to UploadTimeout.
	deadline := time.Now().Add(s.cfg.UploadTimeout)
	_ = ctx.SetReadDeadline(deadline)
	uctx, cancel := context.WithTimeout(s.invokeCtx, s.cfg.UploadTimeout)
	defer cancel()
	var body io.Reader
	if ctx.Request.IsBodyStream() {
		body = ctx.Request.BodyStream()
	} else {
		body = bytes.NewReader(ctx.Request.Body())
	}
	counted := &cappedBody{r: body, left: s.cfg.MaxUploadBytes, deadline: deadline}
	origin := string(ctx.Request.Header.Peek("Origin"))
	err := up.Upload(uctx, string(token), &UploadRequest{
		Origin:      origin,
		ContentType: string(ctx.Request.Header.ContentType()),
		Length:      length,
		Body:        counted,
	})
	a.bytesIn = int(counted.read)
	status, answer := fasthttp.StatusOK, "ok"
	switch {
	case errors.Is(err, ErrNotFound):
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	case errors.Is(err, ErrForbidden):
		s.respond(ctx, fasthttp.StatusForbidden)
		return
	case err == nil:
	// What the body reader saw decides, whatever the backend made of the
	// failed read (host/medialink says only that the form was not read):
	// a body past MaxUploadBytes is 413, one still arriving at
	// UploadTimeout 408.
	case counted.over, errors.Is(err, ErrTooLarge), errors.Is(err, errUploadOverEdge):
		status, answer = fasthttp.StatusRequestEntityTooLarge, "too large"
	case counted.timedOut:
		status, answer = fasthttp.StatusRequestTimeout, "timeout"
	case errors.Is(err, ErrBadRequest):
		status, answer = fasthttp.StatusBadRequest, "not understood"
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		status, answer = fasthttp.StatusGatewayTimeout, "timeout"
	default:
		status, answer = fasthttp.StatusBadGateway, "not sent"
	}
	if status != fasthttp.StatusOK {
		// Whatever the client still sends is not read: end the
		// connection after the answer, lingering so that it gets it.
		ctx.SetConnectionClose()
		lingerAfterError(ctx.Conn())
	}
	// The backend has checked the page's origin against the link's: it may
	// read the answer.
	answerBody := []byte(`{"ok":true}`)
	if err != nil {
		answerBody, _ = json.Marshal(map[string]any{"ok": false, "error": answer})
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if origin != "" && validHeaderValue(origin) {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", origin)
		ctx.Response.Header.Set("Vary", "Origin")
	}
	ctx.SetBody(answerBody)
}

// uploadSlots counts the uploads being read, in all and per client address.
type uploadSlots struct {
	mu     sync.Mutex
	max    int
	perIP  int
	total  int
	byAddr map[string]int
}

func newUploadSlots(max, perIP int) *uploadSlots {
	return &uploadSlots{max: max, perIP: perIP, byAddr: map[string]int{}}
}

// take claims a slot for an upload from ip: false when the pool or ip's
// share of it is full.
func (u *uploadSlots) take(ip string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.total >= u.max || u.byAddr[ip] >= u.perIP {
		return false
	}
	u.total++
	u.byAddr[ip]++
	return true
}

// give returns ip's slot.
func (u *uploadSlots) give(ip string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.total--
	if u.byAddr[ip]--; u.byAddr[ip] <= 0 {
		delete(u.byAddr, ip)
	}
}

// errUploadOverEdge is what a read past MaxUploadBytes fails with.
var errUploadOverEdge = errors.New("proxy: upload over the edge's limit")

// cappedBody counts what the backend reads and fails a read past the
// edge's limit, for a chunked body whose length nobody announced. It
// records why a read failed, so that the edge answers 413 or 408 even when
// the backend wraps the error into one of its own.
type cappedBody struct {
	r        io.Reader
	left     int64
	read     int64
	deadline time.Time // the connection's read deadline

	over     bool // a byte past the limit arrived
	timedOut bool // a read failed at the deadline
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.over = true
			return 0, errUploadOverEdge
		}
		if err != nil && err != io.EOF {
			c.failed(err)
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.read += int64(n)
	if err != nil && err != io.EOF {
		c.failed(err)
	}
	return n, err
}

// failed records a read error: a timeout of the connection (fasthttp may
// wrap it in an error of its own), or any failure once the read deadline
// has passed, is the body's timeout.
func (c *cappedBody) failed(err error) {
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(c.deadline) {
		c.timedOut = true
	}
}
