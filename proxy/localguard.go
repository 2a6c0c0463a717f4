package proxy

import (
	"mime"
	"net"
	"net/http"
	"strings"
)

// LocalGuard keeps web pages away from a listener meant for the operator's
// own tools: the admin listener, where dev mode also serves its console and
// the simulators' control API, and `chatbridge sims`. Neither has
// authentication beyond the admin API's token, so the guard refuses what a
// page in the operator's browser could send there:
//
//   - A request naming a host the listener does not serve is 421. A page
//     that rebinds its own name to the listener's address (DNS rebinding)
//     names its own host, so it can read nothing, even same-origin.
//   - A state-changing request (any method but GET, HEAD, OPTIONS and TRACE)
//     must come from the listener's own origin: an Origin header other than
//     the served origin is 403, and so is Sec-Fetch-Site other than
//     same-origin (same-site and cross-site alike). A request with neither
//     header did not come from a current browser, which sends Origin with
//     every such request; it is served unless a browser of before 2020
//     (which sent no Origin on form posts) could have sent it: a CORS-simple
//     request (POST with no Content-Type or a form one, no Authorization)
//     whose User-Agent is a browser's. Anything else needs a CORS preflight,
//     which these listeners never approve. So curl, the CLI and scripts work
//     as they are, and no page can write.
//
// The zero value serves the loopback names only.
type LocalGuard struct {
	// Addr is the address the listener was asked to listen on; its host,
	// unless unspecified (":9091", "0.0.0.0:9091"), is a name it serves.
	Addr string

	// Hosts are further names the listener serves (names or addresses,
	// without ports). "localhost", the loopback addresses and the address
	// each connection arrived on are always served.
	Hosts []string
}

// Handler returns next behind the guard.
func (g LocalGuard) Handler(next http.Handler) http.Handler {
	names := map[string]bool{"localhost": true}
	if host, _, err := net.SplitHostPort(g.Addr); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			names[canonicalHost(host)] = true
		}
	}
	for _, h := range g.Hosts {
		if h = canonicalHost(h); h != "" {
			names[h] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !servesHost(names, r) {
			http.Error(w, "this listener does not serve that host name", http.StatusMisdirectedRequest)
			return
		}
		if !safeMethod(r.Method) {
			if reason := crossOrigin(r); reason != "" {
				http.Error(w, "refused: "+reason, http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalHost lower-cases a host name, drops a trailing dot and the
// brackets of an IPv6 literal.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// servesHost reports whether the request's Host names this listener.
func servesHost(names map[string]bool, r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = canonicalHost(host)
	if host == "" {
		return false
	}
	if names[host] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	// An address cannot be rebound to another name: loopback, and the
	// address the connection came in on, are this listener.
	if ip.IsLoopback() {
		return true
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if tcp, ok := la.(*net.TCPAddr); ok && tcp.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// crossOrigin says why a state-changing request may have come from another
// origin, or returns "" when it did not.
func crossOrigin(r *http.Request) string {
	origins := r.Header.Values("Origin")
	site := r.Header.Values("Sec-Fetch-Site")
	if len(origins) > 1 || len(site) > 1 {
		return "repeated Origin or Sec-Fetch-Site"
	}
	if len(origins) == 1 {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if !strings.EqualFold(origins[0], scheme+r.Host) {
			return "a write from another origin"
		}
	}
	if len(site) == 1 && site[0] != "same-origin" {
		return "a write from another site (Sec-Fetch-Site: " + fetchSiteLabel(site[0]) + ")"
	}
	if len(origins) == 0 && len(site) == 0 && corsSimple(r) && browserAgent(r.UserAgent()) {
		return "a browser's write without Origin"
	}
	return ""
}

// fetchSiteLabel keeps the header's text out of the answer unless it is
// one of the values browsers send.
func fetchSiteLabel(v string) string {
	switch v {
	case "same-site", "cross-site", "none":
		return v
	}
	return "other"
}

// corsSimple reports a request a page can send without a CORS preflight:
// a POST with no Content-Type or one a form can send, and no Authorization.
// (Other headers outside the CORS safelist also need a preflight; counting
// such a request as simple only makes the guard stricter.)
func corsSimple(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // a browser may send any text there; treat it as simple
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// browserAgent reports a User-Agent that every browser sends: a page cannot
// change it without a preflight.
func browserAgent(ua string) bool { return strings.HasPrefix(ua, "Mozilla/") }
