package proxy

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// downloadKeyPrefix keys the token buckets of download requests, one per
// client address: a token is unknown before the backend redeems it, so the
// route's own bucket cannot be used.
const downloadKeyPrefix = "dl "

// serveDownload answers GET and HEAD /dl/{token} from the backend's
// Downloader, streaming the body: nothing is buffered whole.
func (s *Server) serveDownload(ctx *fasthttp.RequestCtx, token []byte) {
	dl, ok := s.backend.(Downloader)
	if !ok {
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	}
	if ok, wait := s.routes.allow(downloadKeyPrefix+ctx.RemoteIP().String(), time.Now()); !ok {
		s.rateLimited(ctx, scopeRoute, wait)
		return
	}
	select {
	case s.inFlight <- struct{}{}:
	default:
		ctx.Response.Header.Set("Retry-After", "1")
		s.respond(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	// The body is copied after this handler returns, within WriteTimeout;
	// the context lives until then.
	dctx, cancel := context.WithTimeout(s.invokeCtx, s.cfg.InvokeTimeout+s.cfg.WriteTimeout)
	s.metrics.inFlight.Add(1)
	f, err := dl.Download(dctx, string(token), !ctx.IsHead())
	s.metrics.inFlight.Add(-1)
	<-s.inFlight
	switch {
	case errors.Is(err, ErrNotFound):
		cancel()
		s.respond(ctx, fasthttp.StatusNotFound)
		return
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		cancel()
		s.respond(ctx, fasthttp.StatusGatewayTimeout)
		return
	case err != nil || f == nil || f.Body == nil:
		cancel()
		s.respond(ctx, fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ct := f.ContentType
	if ct == "" || !validHeaderValue(ct) {
		ct = "application/octet-stream"
	}
	ctx.Response.Header.SetContentType(ct)
	cd := f.ContentDisposition
	if cd == "" || !validHeaderValue(cd) {
		cd = "attachment"
	}
	ctx.Response.Header.Set("Content-Disposition", cd)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	size := f.Size
	if size < 0 {
		size = -1 // chunked
	}
	if ctx.IsHead() {
		_ = f.Body.Close()
		cancel()
		if size >= 0 {
			ctx.Response.Header.Set("Content-Length", strconv.FormatInt(size, 10))
		}
		return
	}
	ctx.SetBodyStream(&streamBody{f: f, cancel: cancel}, int(size))
}

// streamBody ends the download's context when fasthttp closes the body.
type streamBody struct {
	f      *File
	cancel context.CancelFunc
	once   sync.Once
}

func (b *streamBody) Read(p []byte) (int, error) { return b.f.Body.Read(p) }

func (b *streamBody) Close() error {
	err := b.f.Body.Close()
	b.once.Do(b.cancel)
	return err
}

// bytesOut is the response size for the access log, without draining a
// streamed body (Response.Body would read it all into memory).
func bytesOut(r *fasthttp.Response) int {
	if r.IsBodyStream() {
		return 0
	}
	return len(r.Body())
}
