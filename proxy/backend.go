package proxy

import (
	"context"
	"errors"
	"io"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// Kind is what a route leads to.
type Kind uint8

const (
	// WebTrigger routes to one of the module's web triggers (bot webhooks).
	WebTrigger Kind = iota + 1
	// JiraEvents routes Jira's webhooks to the installation's product-event triggers.
	JiraEvents
)

// Target is what an unguessable route id resolves to.
type Target struct {
	Installation string
	Kind         Kind
	Trigger      string // the manifest's module key
}

var (
	// ErrOverloaded is returned by a backend that cannot take the call now; the proxy answers 503.
	ErrOverloaded = errors.New("proxy: backend overloaded")
	// ErrTimeout is returned when the invocation ran out of time; the proxy answers 504.
	ErrTimeout = errors.New("proxy: invocation timed out")
)

// Backend is the host as the proxy sees it. The proxy never imports the host;
// host/cmd wires the two together.
type Backend interface {
	// Lookup resolves a route id without entering the sandbox; false means 404.
	Lookup(routeID string) (Target, bool)
	// Invoke runs the request in the module under ctx's deadline, which the
	// proxy sets from its own configuration. The request is the proxy's copy,
	// owned by the callee.
	Invoke(ctx context.Context, t Target, req *abi.WebTriggerRequest) (*abi.Response, error)
	// Ready reports nil when a bundle is loaded and storage is open.
	Ready(ctx context.Context) error
	// WriteMetrics appends the host's own metrics (invocations, traps,
	// timeouts, queue depth) in the Prometheus text format.
	WriteMetrics(w io.Writer) error
}
