package proxy

import (
	"context"
	"errors"
	"io"
	"time"
)

// Kind is what a route leads to.
type Kind uint8

const (
	// WebTrigger routes to one of the module's web triggers (bot webhooks).
	WebTrigger Kind = iota + 1
	// JiraEvents routes Jira's webhooks to the installation's product-event triggers.
	JiraEvents
	// Download is a single-use download link, served by a Downloader.
	Download
	// Realtime is a browser's realtime subscription, served by a
	// Subscriber with Server-Sent Events.
	Realtime
	// Script is the website widget's script, served by the edge itself.
	Script
	// Upload is a single-use upload link, served by an Uploader with the
	// request body streamed to it.
	Upload
)

// Target is what an unguessable route id resolves to.
type Target struct {
	Installation string
	Kind         Kind
	Trigger      string // the manifest's module key
	// PerAddress, when its Every is above zero, gives each client address
	// its own token bucket on this route (a trigger browsers call, such as
	// a website widget's); over it the edge answers 429 with Retry-After,
	// which the calling page may read (its Origin echoed).
	// Zero: only the route's and the installation's buckets.
	PerAddress AddressLimit
}

// AddressLimit is a token bucket per client address: one request every
// Every, Burst at once (at least 1). An IPv6 client's address is its /64,
// the block one subscriber line usually gets.
type AddressLimit struct {
	Every time.Duration
	Burst int
}

var (
	// ErrOverloaded is returned by a backend that cannot take the call now; the proxy answers 503.
	ErrOverloaded = errors.New("proxy: backend overloaded")
	// ErrTimeout is returned when the invocation ran out of time; the proxy answers 504.
	ErrTimeout = errors.New("proxy: invocation timed out")
	// ErrNotFound is returned by a Downloader for a link that is unknown,
	// used or expired; the proxy answers 404 and says nothing more.
	ErrNotFound = errors.New("proxy: not found")
	// ErrForbidden is returned by a Subscriber for a page whose origin the
	// token does not allow; the proxy answers 403 without CORS headers, so
	// the page reads nothing.
	ErrForbidden = errors.New("proxy: forbidden")
	// ErrTooMany is returned by a Subscriber over a subscriber limit; the
	// proxy answers 429.
	ErrTooMany = errors.New("proxy: too many subscriptions")
	// ErrTooLarge is returned by an Uploader for a file over its link's
	// limit; the proxy answers 413.
	ErrTooLarge = errors.New("proxy: upload too large")
	// ErrBadRequest is returned by an Uploader for a body it cannot read;
	// the proxy answers 400, unless its own reader of the body saw a byte
	// past MaxUploadBytes (413) or a read fail at UploadTimeout (408).
	ErrBadRequest = errors.New("proxy: upload not understood")
)

// Request is a web request as the edge hands it to its Backend: copied out
// of fasthttp's reused buffers, owned by the callee. The edge speaks its own
// types; the backend maps them to whatever its side speaks (host/hostedge:
// the guest ABI's).
type Request struct {
	Method string
	Path   string
	// Headers and Query keep the order and repetition they arrived in.
	Headers []Header
	Query   []Header
	Body    []byte
}

// Header is one header or query parameter.
type Header struct {
	Name  string
	Value string
}

// Response is the backend's answer. Status 0 means 200.
type Response struct {
	Status  uint16
	Headers []Header
	Body    []byte
}

// Backend is the host as the proxy sees it. The proxy never imports the host;
// host/cmd wires the two together.
type Backend interface {
	// Lookup resolves a route id without entering the sandbox; false means 404.
	Lookup(routeID string) (Target, bool)
	// Invoke runs the request in the module under ctx's deadline, which the
	// proxy sets from its own configuration. The request is the proxy's copy,
	// owned by the callee.
	Invoke(ctx context.Context, t Target, req *Request) (*Response, error)
	// Ready reports nil when a bundle is loaded and storage is open.
	Ready(ctx context.Context) error
	// WriteMetrics appends the host's own metrics (invocations, traps,
	// timeouts, queue depth) in the Prometheus text format.
	WriteMetrics(w io.Writer) error
}

// Downloader is implemented by a Backend that serves download links: GET
// and HEAD /dl/{token}. Without it those paths are 404.
type Downloader interface {
	// Download redeems token: with consume (GET) the link is used up, without
	// it (HEAD) it stays. It returns ErrNotFound for a link it does not
	// know. The proxy reads Body after Download returns, under ctx, and
	// closes it; ctx ends when the body is closed or the proxy gives up.
	Download(ctx context.Context, token string, consume bool) (*File, error)
}

// File is what a download link streams to the client.
type File struct {
	ContentType string
	// ContentDisposition is sent as it is; "" sends "attachment".
	ContentDisposition string
	// Size is the length in bytes, or -1 when unknown (sent chunked).
	Size int64
	Body io.ReadCloser
}

// Uploader is implemented by a Backend that takes upload links: POST
// /ul/{token}, whose body is handed over as it arrives, never read whole
// by the edge. Without it that path is 404.
type Uploader interface {
	// Upload redeems token with the request in u, reading u.Body while
	// the client sends it. It returns ErrNotFound for a link it does not
	// know and ErrForbidden for a page of another origin than the link's,
	// both before it reads anything; ErrTooLarge over the link's limit;
	// ErrBadRequest for a body it cannot read. Any other answer is for a
	// page of the link's own origin, which the edge lets read it (CORS).
	Upload(ctx context.Context, token string, u *UploadRequest) error
}

// UploadRequest is an upload as the edge hands it to its Uploader.
type UploadRequest struct {
	// Origin is the Origin header, "" when none was sent.
	Origin string
	// ContentType is the Content-Type header.
	ContentType string
	// Length is the Content-Length, or -1 when the body is chunked.
	Length int64
	// Body is the request body, streamed from the connection: read it
	// before Upload returns, never after. Reading past the edge's
	// MaxUploadBytes fails.
	Body io.Reader
}

// Subscriber is implemented by a Backend that holds realtime subscriptions:
// GET /rt/{token}, answered with Server-Sent Events. Without it that path
// is 404.
type Subscriber interface {
	// Subscribe opens a subscription for token from a page of origin (the
	// Origin header, "" when none was sent) at client address addr. It
	// returns ErrNotFound for a token it does not accept, ErrForbidden for
	// an origin the token does not allow, ErrTooMany over a limit.
	Subscribe(ctx context.Context, token, origin, addr string) (Stream, error)
}

// Stream is an open subscription. The proxy reads Events until Done is
// closed or Expires passes, then calls Close; it calls Close as well when
// the client goes.
type Stream interface {
	Events() <-chan []byte
	Done() <-chan struct{}
	Expires() time.Time
	Close()
}
