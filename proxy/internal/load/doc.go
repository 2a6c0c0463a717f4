// Package load is a small closed-loop HTTP/1.1 load generator over TLS
// keep-alive connections, used by the proxy's load test and by edgebench
// to measure the proxy and nginx with the same client.
package load
