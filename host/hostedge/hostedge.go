package hostedge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/host/realtime"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/proxy"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Backend is the host as the proxy sees it.
type Backend struct{ Host *host.Host }

var _ proxy.Backend = Backend{}

// Lookup finds the installation and trigger of a route id.
func (e Backend) Lookup(routeID string) (proxy.Target, bool) {
	t, ok := e.Host.Registry().Lookup(routeID)
	if !ok {
		return proxy.Target{}, false
	}
	kind := proxy.WebTrigger
	if t.Trigger == tenant.JiraEventsRoute {
		kind = proxy.JiraEvents
	}
	return proxy.Target{Installation: t.Installation, Kind: kind, Trigger: t.Trigger, PerAddress: e.perAddress(kind, t.Trigger)}, true
}

// perAddress is the running bundle's modules.webtrigger[].perAddress of
// trigger, the edge's bucket per client address on its routes.
func (e Backend) perAddress(kind proxy.Kind, trigger string) proxy.AddressLimit {
	b := e.Host.Bundle()
	if kind != proxy.WebTrigger || b == nil || b.Manifest == nil {
		return proxy.AddressLimit{}
	}
	for _, w := range b.Manifest.Modules.WebTrigger {
		if w.Key != trigger {
			continue
		}
		if every, burst, ok := w.PerAddress.Pace(); ok {
			return proxy.AddressLimit{Every: every, Burst: burst}
		}
		break
	}
	return proxy.AddressLimit{}
}

// Invoke runs a web trigger, or hands a Jira webhook to the host, mapping
// the engine's overload and timeout errors to the proxy's.
func (e Backend) Invoke(ctx context.Context, t proxy.Target, req *proxy.Request) (*proxy.Response, error) {
	if t.Kind == proxy.JiraEvents {
		return FromABI(jiraevent.Webhook(ctx, e.Host, t.Installation, ToABI(req))), nil
	}
	resp, err := webtrigger.Invoke(ctx, e.Host, t.Installation, t.Trigger, ToABI(req))
	switch {
	case errors.Is(err, engine.ErrTimeout):
		return nil, fmt.Errorf("%w: %w", proxy.ErrTimeout, err)
	case errors.Is(err, engine.ErrBusy), errors.Is(err, host.ErrNoBundle):
		return nil, fmt.Errorf("%w: %w", proxy.ErrOverloaded, err)
	case err != nil:
		return nil, err
	}
	return FromABI(resp), nil
}

// ToABI is the edge's request in the guest ABI's shape, for a web trigger;
// the caller sets its Context and Trigger. Strings and the body are shared,
// not copied: the edge's request is the callee's to keep.
func ToABI(r *proxy.Request) *abi.WebTriggerRequest {
	return &abi.WebTriggerRequest{Method: r.Method, Path: r.Path, Headers: toABIHeaders(r.Headers), Query: toABIHeaders(r.Query), Body: r.Body}
}

// FromABI is a module's answer in the edge's shape.
func FromABI(r *abi.Response) *proxy.Response {
	if r == nil {
		return nil
	}
	out := &proxy.Response{Status: r.Status, Body: r.Body}
	if r.Headers != nil {
		out.Headers = make([]proxy.Header, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = proxy.Header{Name: h.Name, Value: h.Value}
		}
	}
	return out
}

func toABIHeaders(hs []proxy.Header) []abi.Header {
	if hs == nil {
		return nil
	}
	out := make([]abi.Header, len(hs))
	for i, h := range hs {
		out[i] = abi.Header{Name: h.Name, Value: h.Value}
	}
	return out
}

// Ready reports whether a bundle is loaded.
func (e Backend) Ready(ctx context.Context) error { return e.Host.Ready(ctx) }

var _ proxy.Downloader = Backend{}

// Download serves a download link of jira.attachment-link (host/medialink).
func (e Backend) Download(ctx context.Context, token string, consume bool) (*proxy.File, error) {
	links := e.Host.Links()
	if links == nil {
		return nil, proxy.ErrNotFound
	}
	d, err := links.Open(ctx, token, consume)
	switch {
	case errors.Is(err, medialink.ErrNotFound):
		return nil, proxy.ErrNotFound
	case err != nil:
		return nil, err
	}
	return &proxy.File{ContentType: d.ContentType, ContentDisposition: d.ContentDisposition(), Size: d.Size, Body: d.Body}, nil
}

// WriteMetrics writes the engine's and the queue's counters for /metrics.
func (e Backend) WriteMetrics(w io.Writer) error {
	eng := e.Host.Engine()
	if eng == nil {
		return nil
	}
	s := eng.Stats()
	q := e.Host.Queue().Stats()
	rt := e.Host.Realtime().Stats()
	for _, m := range []struct {
		name, kind, help string
		v                int64
	}{
		{"chatbridge_invocations_total", "counter", "Module invocations started.", s.Calls.Load()},
		{"chatbridge_traps_total", "counter", "Invocations that trapped; the instance was discarded.", s.Traps.Load()},
		{"chatbridge_timeouts_total", "counter", "Invocations stopped at their deadline.", s.Timeouts.Load()},
		{"chatbridge_instantiations_total", "counter", "Module instances created.", s.Instantiations.Load()},
		{"chatbridge_instances", "gauge", "Live module instances.", int64(eng.Live())},
		{"chatbridge_queue_depth", "gauge", "Queued deliveries not yet consumed, retries included.", q.Pending},
		{"chatbridge_queue_delivered_total", "counter", "Queue deliveries consumed.", q.Delivered},
		{"chatbridge_queue_retries_total", "counter", "Queue deliveries scheduled for another attempt.", q.Retried},
		{"chatbridge_queue_dead_lettered_total", "counter", "Queue messages that ran out of attempts.", q.DeadLettered},
		{"chatbridge_queue_dead_letters", "gauge", "Dead letters kept for replay.", q.DeadLetters},
		{"chatbridge_queue_push_too_large_total", "counter", "Queue pushes refused for a payload over the cap; the module drops such an event.", e.Host.Refused().QueueTooLarge.Load()},
		{"chatbridge_realtime_published_total", "counter", "Realtime publishes accepted.", rt.Published.Load()},
		{"chatbridge_realtime_delivered_total", "counter", "Realtime payloads handed to a subscriber on this node.", rt.Delivered.Load()},
		{"chatbridge_realtime_dropped_total", "counter", "Realtime subscribers dropped for falling behind.", rt.Dropped.Load()},
		{"chatbridge_realtime_refused_total", "counter", "Realtime operations and subscriptions refused for a limit, a token or an origin.", rt.Refused.Load()},
	} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.kind, m.name, m.v); err != nil {
			return err
		}
	}
	return nil
}

var _ proxy.Uploader = Backend{}

// Upload serves an upload link of jira.upload-link (host/medialink): the
// body goes on to the site as it arrives.
func (e Backend) Upload(ctx context.Context, token string, u *proxy.UploadRequest) error {
	links := e.Host.Links()
	if links == nil {
		return proxy.ErrNotFound
	}
	_, err := links.Receive(ctx, token, medialink.Upload{Origin: u.Origin, ContentType: u.ContentType, Length: u.Length, Body: u.Body})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, medialink.ErrNotFound):
		return proxy.ErrNotFound
	case errors.Is(err, medialink.ErrOrigin):
		return proxy.ErrForbidden
	case errors.Is(err, medialink.ErrTooLarge):
		return proxy.ErrTooLarge
	case errors.Is(err, medialink.ErrBadUpload):
		return proxy.ErrBadRequest
	}
	return err
}

var _ proxy.Subscriber = Backend{}

// Subscribe opens a browser's realtime subscription (host/realtime) for
// GET /rt/{token}.
func (e Backend) Subscribe(ctx context.Context, token, origin, addr string) (proxy.Stream, error) {
	s, err := e.Host.Realtime().Subscribe(ctx, token, origin, addr)
	switch {
	case errors.Is(err, realtime.ErrToken):
		return nil, proxy.ErrNotFound
	case errors.Is(err, realtime.ErrOrigin):
		return nil, proxy.ErrForbidden
	case errors.Is(err, realtime.ErrTooMany):
		return nil, proxy.ErrTooMany
	case err != nil:
		return nil, err
	}
	return stream{s}, nil
}

// stream is a realtime.Subscription as the edge reads it.
type stream struct{ s *realtime.Subscription }

func (s stream) Events() <-chan []byte { return s.s.C }
func (s stream) Done() <-chan struct{} { return s.s.Done() }
func (s stream) Expires() time.Time    { return s.s.Claims.Expires }
func (s stream) Close()                { s.s.Close() }
