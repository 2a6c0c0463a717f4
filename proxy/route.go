package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// Route id shape: NewRouteID makes 32 characters (192 random bits);
// ValidRouteID accepts 22 to 64 characters of the URL-safe base64 alphabet,
// so ids made elsewhere with at least 128 bits also route.
const (
	routeIDBytes  = 24
	minRouteIDLen = 22
	maxRouteIDLen = 64
)

// Public path prefixes: the scheme is package publicurl's.
const (
	webTriggerPrefix = publicurl.WebTriggerPrefix
	jiraPrefix       = publicurl.JiraEventsPrefix
	downloadPrefix   = publicurl.DownloadPrefix
	realtimePrefix   = publicurl.RealtimePrefix
	uploadPrefix     = publicurl.UploadPrefix
)

// maxRealtimeTokenLen bounds a realtime token in the path; the backend
// checks the rest.
const maxRealtimeTokenLen = 1024

// NewRouteID returns a fresh unguessable route id: 192 bits from
// crypto/rand, URL-safe base64 without padding (32 characters).
func NewRouteID() string {
	var b [routeIDBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidRouteID reports whether id has the shape of a route id. The proxy
// answers 404 to any other id without asking the backend.
func ValidRouteID(id string) bool { return validRouteID([]byte(id)) }

func validRouteID(id []byte) bool {
	if len(id) < minRouteIDLen || len(id) > maxRouteIDLen {
		return false
	}
	for _, c := range id {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// validRealtimeToken accepts 1 to maxRealtimeTokenLen characters of the
// URL-safe base64 alphabet and dots.
func validRealtimeToken(id []byte) bool {
	if len(id) == 0 || len(id) > maxRealtimeTokenLen {
		return false
	}
	for _, c := range id {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// routeResult is the router's verdict on a method and path, before Lookup.
type routeResult struct {
	kind   Kind   // the kind the path prefix promises; 0 when status is 404
	id     []byte // aliases the path
	status int    // 0: go on to Lookup; else 404 or 405
	allow  string // the Allow header with 405
}

// route matches the path and method without allocating or calling anything.
// Only "/x/{id}" (GET, POST), "/jira/{id}" (POST), "/dl/{token}" (GET,
// HEAD), "/ul/{token}" (POST), "/rt/{token}" (GET) and "/w/widget.js" (GET,
// HEAD) exist.
func route(method, path []byte) routeResult {
	var (
		kind  Kind
		id    []byte
		allow string
	)
	switch {
	case string(path) == publicurl.WidgetScript:
		if m := string(method); m != "GET" && m != "HEAD" {
			return routeResult{kind: Script, status: 405, allow: "GET, HEAD"}
		}
		return routeResult{kind: Script}
	case bytes.HasPrefix(path, []byte(webTriggerPrefix)):
		kind, id, allow = WebTrigger, path[len(webTriggerPrefix):], "GET, POST"
	case bytes.HasPrefix(path, []byte(jiraPrefix)):
		kind, id, allow = JiraEvents, path[len(jiraPrefix):], "POST"
	case bytes.HasPrefix(path, []byte(downloadPrefix)):
		kind, id, allow = Download, path[len(downloadPrefix):], "GET, HEAD"
	case bytes.HasPrefix(path, []byte(uploadPrefix)):
		kind, id, allow = Upload, path[len(uploadPrefix):], "POST"
	case bytes.HasPrefix(path, []byte(realtimePrefix)):
		id = path[len(realtimePrefix):]
		if !validRealtimeToken(id) {
			return routeResult{status: 404}
		}
		if string(method) != "GET" {
			return routeResult{kind: Realtime, status: 405, allow: "GET"}
		}
		return routeResult{kind: Realtime, id: id}
	default:
		return routeResult{status: 404}
	}
	if !validRouteID(id) {
		return routeResult{status: 404}
	}
	ok := string(method) == "POST" || (kind == WebTrigger && string(method) == "GET")
	if kind == Download {
		ok = string(method) == "GET" || string(method) == "HEAD"
	}
	if !ok {
		return routeResult{kind: kind, status: 405, allow: allow}
	}
	return routeResult{kind: kind, id: id}
}

// routeTag is what logs carry instead of a route id: the id is a
// capability, so only a short prefix of its hash is logged.
func routeTag(id []byte) string {
	sum := sha256.Sum256(id)
	return hex.EncodeToString(sum[:4])
}
