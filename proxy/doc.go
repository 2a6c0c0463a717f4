// Package proxy is the internet-facing edge: a fasthttp server that
// terminates HTTPS, applies limits, and routes bot and Jira webhooks to the
// host's installations through the Backend interface.
//
// New validates a Config (its zero value is the documented defaults), Serve
// or ListenAndServe run the public listener and the admin listener, and
// Shutdown drains them. The host never imports this package's internals:
// host/cmd wires a Backend in.
//
// # TLS
//
// TLS 1.2 is the minimum; Go negotiates 1.3 whenever the client offers it,
// with Go's default key exchange preferences, which put the hybrid
// post-quantum X25519MLKEM768 first. Session tickets are on. The
// certificate is served through tls.Config.GetCertificate, so
// ReloadCertificate (and SIGHUP, while Serve runs) swap it for new
// handshakes without touching open connections. DevCertificate makes a
// self-signed development certificate for 127.0.0.1 and localhost. Every
// response carries Strict-Transport-Security.
//
// # Routing
//
// Two public paths exist, each ending in an unguessable route id
// (NewRouteID: 192 bits from crypto/rand, URL-safe base64):
//
//	GET, POST  /x/{routeID}     a web trigger (bot webhooks; GET for verification handshakes)
//	POST       /jira/{routeID}  the installation's Jira product events
//
// Beside them the host's single-use links and the widget: GET and HEAD
// /dl/{token} (a download, Downloader), POST /ul/{token} (an upload whose
// body is streamed to the Uploader as it arrives), GET /rt/{token} (a
// realtime subscription, Subscriber) and GET /w/widget.js.
//
// Anything else is answered before the sandbox is entered: a path that is
// not one of these or an id of the wrong shape is 404 without asking the
// backend; a wrong method is 405 with Allow; an id Backend.Lookup does not
// know, or knows as the other kind, is 404. A routed request is copied
// out of fasthttp's reused buffers into a Request in
// Forge's shape (method, path, lower-case headers with every value, query
// parameters, body) and handed to Backend.Invoke under the proxy's own
// deadline, Config.InvokeTimeout; the request context's deadline is never
// used. The answer is the module's status, headers and body, except the
// headers that frame the response, which belong to the proxy. Backend
// failures map to 504 (ErrTimeout, or the deadline passed, even when the
// backend ignores it), 503 with Retry-After (ErrOverloaded, or
// MaxInFlight invocations already running), and 502 (anything else,
// including a panic).
//
// # Limits
//
// Each limit is answered with the status a client can act on, and each is
// tested over a real TLS connection:
//
//   - ReadTimeout bounds the TLS handshake plus one whole request, so a
//     slow-drip client is cut off; IdleTimeout bounds the wait for the next
//     request on a keep-alive connection; WriteTimeout bounds writing a
//     response to a client that stopped reading. Every answer gets a write
//     deadline of its own (fasthttp arms one only at the handshake and after
//     each handler), so a request that times out is answered 408 cleanly
//     even when ReadTimeout equals WriteTimeout.
//   - A request line of an HTTP major version other than 1 is 505 and
//     closes the connection (fasthttp would read "HTTP/2.0" as HTTP/1.x).
//   - A body over MaxBodyBytes is 413, refused before it is read when
//     Expect: 100-continue announces it, and after its first 8 KiB when
//     Content-Length does (every body is streamed, StreamRequestBody, and
//     fasthttp reads that much ahead before the handler; readBody reads
//     the rest of a body within the limit). An upload link's body is
//     handed to the Uploader as it arrives instead, up to MaxUploadBytes
//     within UploadTimeout (serveUpload); nothing else is. Uploads being
//     read take slots of their own pool, MaxUploadsInFlight, at most
//     MaxUploadsPerIP of them per client address, never MaxInFlight's
//     (503 with Retry-After beyond either). What the edge's reader of the
//     body saw decides the answer, whatever error the Uploader made of it:
//     a byte past MaxUploadBytes is 413, a body still arriving at
//     UploadTimeout 408. Headers over
//     MaxHeaderBytes are 431. fasthttp's own answers (400 for both) are
//     replaced through its ErrorHandler, and the connection closes with a
//     bounded lingering read so that the client sees the answer rather than
//     a reset.
//   - Ambiguous framing is 400 and closes the connection: Content-Length
//     with Transfer-Encoding, repeated or malformed Content-Length, a
//     transfer coding other than chunked, bad chunks, folded header lines.
//   - MaxConns and MaxConnsPerIP are enforced on accept, before the TLS
//     handshake; the connection is closed and counted.
//   - Token buckets per route id (RouteRate, RouteBurst) and per
//     installation (InstallationRate, InstallationBurst) answer 429 with
//     Retry-After in whole seconds, and so does a route's bucket per client
//     address (an IPv6 /64) when its Target.PerAddress is set (a trigger
//     browsers call), checked first so that a refused request spends none
//     of the shared buckets. On such a route the edge's 429 echoes the
//     request's Origin and exposes Retry-After, so that the page can read
//     how long to wait. The bucket maps are bounded.
//
// Logs are structured (log/slog) and carry no request contents: the access
// log has the route kind, method, status, duration, sizes, the
// installation, and a short hash of the route id, never the id itself (it
// is a capability), headers, query or body. fasthttp's own error logs run
// with SecureErrorLogMessage and are reduced to an event name and an error
// class, at most ten a second.
//
// # Admin
//
// The admin handler (AdminHandler; ServeAdmin, or ListenAndServe on
// Admin.Addr, loopback by default) serves /healthz, /readyz (Backend.Ready,
// and 503 while shutting down) and /metrics (Prometheus text: requests by
// route kind and status, a latency histogram, rate-limited requests,
// rejected connections, open connections, certificate expiry, then
// Backend.WriteMetrics). Every other path goes to AdminConfig.Extra, where
// development tooling can mount its own pages. All of it sits behind a
// LocalGuard: a Host other than the names the listener serves is 421 (DNS
// rebinding), and a write is served only with a same-origin proof, the
// admin token (Authorization: Bearer) or the listener's own Origin (with
// Sec-Fetch-Site, if sent, same-origin); without one it is 403.
//
// # Shutdown
//
// Shutdown closes the listeners, answers requests already in flight (with
// Connection: close), and closes keep-alive connections as they fall idle.
// It waits until the earlier of its context and Config.ShutdownTimeout;
// then it closes the remaining connections, cancels the invocations still
// running, and returns the context's error. Serve returns nil once
// Shutdown has begun.
package proxy
