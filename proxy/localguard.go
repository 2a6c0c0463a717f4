package proxy

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// LocalGuard keeps web pages away from a listener meant for the operator's
// own tools: the admin listener, where dev mode also serves its console and
// the simulators' control API, and `chatbridge sims`. Browsers send
// requests there from any page, so the guard refuses what a page could:
//
//   - A request naming a host the listener does not serve is 421. A page
//     that rebinds its own name to the listener's address (DNS rebinding)
//     names its own host, so it can read nothing, even same-origin.
//   - A state-changing request (any method but GET, HEAD, OPTIONS and TRACE)
//     is served only with a same-origin proof: the token (Authorization:
//     Bearer Token), which only the operator's tools can read, or an
//     Origin equal to the listener's own origin with Sec-Fetch-Site, if
//     sent, same-origin, which only the listener's own pages send. Anything
//     else is refused, a missing Origin included: 401 for a wrong token,
//     403 otherwise, with what to send.
//
// The zero value serves the loopback names only and, having no token,
// accepts writes from the listener's own pages only.
type LocalGuard struct {
	// Addr is the address the listener was asked to listen on; its host,
	// unless unspecified (":9091", "0.0.0.0:9091"), is a name it serves.
	Addr string

	// Hosts are further names the listener serves (names or addresses,
	// without ports). "localhost", the loopback addresses and the address
	// each connection arrived on are always served.
	Hosts []string

	// Token is the secret that proves a write comes from the operator's
	// tools: sent as "Authorization: Bearer <Token>". Default none: only
	// the listener's own pages can write.
	Token string

	// TokenFile is where the operator finds Token (e.g. data/admin.token);
	// a refused write names it, so the refusal says what to send. Default
	// none: the refusal says "<token>".
	TokenFile string
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
	var bearer []byte
	if g.Token != "" {
		bearer = []byte("Bearer " + g.Token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !servesHost(names, r) {
			http.Error(w, "this listener does not serve that host name", http.StatusMisdirectedRequest)
			return
		}
		if safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		auth := r.Header.Values("Authorization")
		if bearer != nil && len(auth) == 1 && subtle.ConstantTimeCompare([]byte(auth[0]), bearer) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		reason := crossOrigin(r)
		if reason == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(auth) > 0 && bearer != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "refused: a write with a wrong token; "+g.howToWrite(), http.StatusUnauthorized)
			return
		}
		http.Error(w, "refused: "+reason+"; "+g.howToWrite(), http.StatusForbidden)
	})
}

// howToWrite tells the operator what a write must carry.
func (g LocalGuard) howToWrite() string {
	if g.Token == "" {
		return "writes are taken from this listener's own pages only"
	}
	tok := "<token>"
	if g.TokenFile != "" {
		tok = "$(cat " + shellWord(g.TokenFile) + ")"
	}
	return `send the admin token: -H "Authorization: Bearer ` + tok + `"`
}

// shellWord quotes s for a POSIX shell unless it needs no quoting.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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

// crossOrigin says why a state-changing request does not prove it came
// from the listener's own origin, or returns "" when it does: one Origin,
// equal to the listener's, and Sec-Fetch-Site, if sent, same-origin.
func crossOrigin(r *http.Request) string {
	origins := r.Header.Values("Origin")
	site := r.Header.Values("Sec-Fetch-Site")
	if len(origins) > 1 || len(site) > 1 {
		return "repeated Origin or Sec-Fetch-Site"
	}
	if len(origins) == 0 {
		return "a write without Origin"
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if !strings.EqualFold(origins[0], scheme+r.Host) {
		return "a write from another origin"
	}
	if len(site) == 1 && site[0] != "same-origin" {
		return "a write from another site (Sec-Fetch-Site: " + fetchSiteLabel(site[0]) + ")"
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
