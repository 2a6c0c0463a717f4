// Command edgebench measures the proxy against nginx on this machine with
// the same load generator, certificate and request: a trivial web trigger
// (the backend answers 200 at once) over TLS keep-alive connections on
// loopback, and nginx answering "return 200" over TLS. Each server runs in
// its own process; the table gives requests/s, latency percentiles and the
// proxy/nginx ratio.
//
//	go run ./proxy/cmd/edgebench [-conns 64] [-duration 10s] [-warmup 2s] [-nginx nginx]
package main
