// Package hostedge adapts a host.Host to the edge proxy's Backend: route
// lookup, web trigger and Jira webhook invocation with the proxy's error
// kinds, readiness, single-use download links, realtime subscriptions
// (host/realtime, as Server-Sent Events at /rt/{token}) and the host's metrics. The
// CLI and the benchmarks serve the host through it.
package hostedge
