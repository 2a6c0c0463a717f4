package proxy

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"

	"github.com/valyala/fasthttp"

	"github.com/chatbridge/chatbridge/proxy/widget"
)

// The widget's script, its gzip encoding and its ETag, made once.
var (
	scriptGzip = gzipped(widget.Script)
	scriptETag = etag(widget.Script)
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// serveScript answers GET and HEAD /w/widget.js: the website widget, which
// any page may load (Cross-Origin-Resource-Policy: cross-origin); what it
// may then do is the project's allowed origins' business (the web
// trigger's CORS and the realtime token's origin).
func serveScript(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.SetContentType("text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("ETag", scriptETag)
	h.Set("Vary", "Accept-Encoding")
	if bytes.Equal(ctx.Request.Header.Peek("If-None-Match"), []byte(scriptETag)) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	body := widget.Script
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set("Content-Encoding", "gzip")
		body = scriptGzip
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
		ctx.Response.Header.SetContentLength(len(body))
		return
	}
	ctx.SetBody(body)
}
