package proxy

import (
	"bufio"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// kindNone labels requests that never reached a route: parse errors, 404s.
const kindNone Kind = 0

var kindLabels = [...]string{kindNone: "none", WebTrigger: "web_trigger", JiraEvents: "jira", Download: "download", Realtime: "realtime", Script: "script", Upload: "upload"}

func kindLabel(k Kind) string {
	if int(k) < len(kindLabels) {
		return kindLabels[k]
	}
	return "none"
}

// Rate limit scopes and connection rejection reasons, as metric labels.
const (
	scopeRoute = iota
	scopeInstallation
	scopeAddress
	numScopes
)

var scopeLabels = [numScopes]string{"route", "installation", "address"}

const (
	rejectPerIP = iota
	rejectMaxConns
	rejectShutdown
	numRejects
)

var rejectLabels = [numRejects]string{"per_ip", "max_conns", "shutting_down"}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 55}

type histogram struct {
	counts   [len(latencyBuckets) + 1]atomic.Uint64 // the last is +Inf
	sumNanos atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && s > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(uint64(max(d, 0)))
}

// metrics are lock-free counters; the /metrics handler reads them.
type metrics struct {
	requests    [len(kindLabels)][600]atomic.Uint64 // by kind and status code
	latency     [len(kindLabels)]histogram
	rateLimited [numScopes]atomic.Uint64
	rejected    [numRejects]atomic.Uint64
	accepted    atomic.Uint64
	open        atomic.Int64
	inFlight    atomic.Int64
	streams     atomic.Int64  // realtime subscriptions open now
	handshakes  atomic.Uint64 // failed TLS handshakes
	connErrors  [len(connErrorLabels)]atomic.Uint64
	reloads     [2]atomic.Uint64
	certExpiry  atomic.Int64 // unix seconds
}

func (m *metrics) request(k Kind, status int, d time.Duration) {
	if int(k) >= len(kindLabels) {
		k = kindNone
	}
	if status < 100 || status >= 600 {
		status = 500
	}
	m.requests[k][status].Add(1)
	m.latency[k].observe(d)
}

// write appends the metrics in the Prometheus text exposition format.
func (m *metrics) write(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

	p("# HELP chatbridge_proxy_requests_total Public requests answered, by route kind and status code.\n",
		"# TYPE chatbridge_proxy_requests_total counter\n")
	for k := range m.requests {
		for code := range m.requests[k] {
			if n := m.requests[k][code].Load(); n > 0 {
				p("chatbridge_proxy_requests_total{kind=\"", kindLabels[k], "\",code=\"", strconv.Itoa(code), "\"} ", u(n), "\n")
			}
		}
	}

	p("# HELP chatbridge_proxy_request_duration_seconds Time from a parsed request to its answer, by route kind.\n",
		"# TYPE chatbridge_proxy_request_duration_seconds histogram\n")
	for k := range m.latency {
		h := &m.latency[k]
		var cum uint64
		for j, ub := range latencyBuckets {
			cum += h.counts[j].Load()
			p("chatbridge_proxy_request_duration_seconds_bucket{kind=\"", kindLabels[k], "\",le=\"", f(ub), "\"} ", u(cum), "\n")
		}
		cum += h.counts[len(latencyBuckets)].Load()
		p("chatbridge_proxy_request_duration_seconds_bucket{kind=\"", kindLabels[k], "\",le=\"+Inf\"} ", u(cum), "\n")
		p("chatbridge_proxy_request_duration_seconds_sum{kind=\"", kindLabels[k], "\"} ", f(time.Duration(h.sumNanos.Load()).Seconds()), "\n")
		p("chatbridge_proxy_request_duration_seconds_count{kind=\"", kindLabels[k], "\"} ", u(cum), "\n")
	}

	p("# HELP chatbridge_proxy_rate_limited_total Requests answered 429, by the bucket that ran dry.\n",
		"# TYPE chatbridge_proxy_rate_limited_total counter\n")
	for s := range m.rateLimited {
		p("chatbridge_proxy_rate_limited_total{scope=\"", scopeLabels[s], "\"} ", u(m.rateLimited[s].Load()), "\n")
	}

	p("# HELP chatbridge_proxy_connections_rejected_total Connections closed on accept, by reason.\n",
		"# TYPE chatbridge_proxy_connections_rejected_total counter\n")
	for r := range m.rejected {
		p("chatbridge_proxy_connections_rejected_total{reason=\"", rejectLabels[r], "\"} ", u(m.rejected[r].Load()), "\n")
	}

	p("# HELP chatbridge_proxy_connections_accepted_total Connections accepted.\n",
		"# TYPE chatbridge_proxy_connections_accepted_total counter\n",
		"chatbridge_proxy_connections_accepted_total ", u(m.accepted.Load()), "\n")
	p("# HELP chatbridge_proxy_connections_open Connections open now.\n",
		"# TYPE chatbridge_proxy_connections_open gauge\n",
		"chatbridge_proxy_connections_open ", i(m.open.Load()), "\n")
	p("# HELP chatbridge_proxy_tls_handshake_errors_total Connections whose TLS handshake failed.\n",
		"# TYPE chatbridge_proxy_tls_handshake_errors_total counter\n",
		"chatbridge_proxy_tls_handshake_errors_total ", u(m.handshakes.Load()), "\n")
	p("# HELP chatbridge_proxy_connection_errors_total Connections that ended in an error fasthttp reported, by class.\n",
		"# TYPE chatbridge_proxy_connection_errors_total counter\n")
	for c := range m.connErrors {
		p("chatbridge_proxy_connection_errors_total{class=\"", connErrorLabels[c], "\"} ", u(m.connErrors[c].Load()), "\n")
	}
	p("# HELP chatbridge_proxy_realtime_streams Realtime subscriptions (Server-Sent Events) open now.\n",
		"# TYPE chatbridge_proxy_realtime_streams gauge\n",
		"chatbridge_proxy_realtime_streams ", i(m.streams.Load()), "\n")
	p("# HELP chatbridge_proxy_invocations_in_flight Invocations running in the backend now.\n",
		"# TYPE chatbridge_proxy_invocations_in_flight gauge\n",
		"chatbridge_proxy_invocations_in_flight ", i(m.inFlight.Load()), "\n")
	p("# HELP chatbridge_proxy_certificate_reloads_total Certificate reloads, by result.\n",
		"# TYPE chatbridge_proxy_certificate_reloads_total counter\n",
		"chatbridge_proxy_certificate_reloads_total{result=\"ok\"} ", u(m.reloads[0].Load()), "\n",
		"chatbridge_proxy_certificate_reloads_total{result=\"error\"} ", u(m.reloads[1].Load()), "\n")
	p("# HELP chatbridge_proxy_certificate_expiry_timestamp_seconds When the served certificate expires.\n",
		"# TYPE chatbridge_proxy_certificate_expiry_timestamp_seconds gauge\n",
		"chatbridge_proxy_certificate_expiry_timestamp_seconds ", i(m.certExpiry.Load()), "\n")
	return b.Flush()
}
