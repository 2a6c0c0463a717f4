package jirascopes

import (
	"net/url"
	"strings"
	"sync"
)

//go:generate go run gen_jirascopes.go

// Operation is one operation of the Jira or JSM REST API and the scope sets
// that each allow it (jirascopes.go, generated from the specifications).
type Operation struct {
	// Method is the HTTP method, upper case.
	Method string
	// Path is the specification's path template, such as
	// /rest/api/3/issue/{issueIdOrKey}.
	Path string
	// Scopes are the sets of OAuth 2.0 scopes, each of which allows the
	// operation on its own; nil means none does, so no app may call it.
	Scopes [][]string
}

// index holds operations by method, each path split in segments.
var index = sync.OnceValue(func() map[string][]template {
	idx := map[string][]template{}
	for i := range operations {
		op := &operations[i]
		idx[op.Method] = append(idx[op.Method], template{op: op, segs: strings.Split(op.Path, "/")})
	}
	return idx
})

type template struct {
	op   *Operation
	segs []string
}

// Find returns the operation a call of method on path (escaped, without the
// query) is, or nil when the specifications have none. A literal segment
// wins over a template segment, so /comment/list is not taken for
// /comment/{commentId}; a path under an alias (/rest/api/2/) is the
// operation of the path it stands for.
func Find(method, path string) *Operation {
	for from, to := range aliases {
		if rest, ok := strings.CutPrefix(path, from); ok {
			path = to + rest
			break
		}
	}
	segs := strings.Split(path, "/")
	var best *Operation
	bestScore := -1
	for _, t := range index()[strings.ToUpper(method)] {
		if len(t.segs) != len(segs) {
			continue
		}
		score, ok := 0, true
		for i, seg := range t.segs {
			switch {
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
				ok = segs[i] != ""
			case seg == segs[i]:
				score++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && (score > bestScore || score == bestScore && t.op.Path < best.Path) {
			best, bestScore = t.op, score
		}
	}
	return best
}

// DotSegment reports whether path has a "." or ".." segment, written
// plainly or percent-encoded, or a segment that does not unescape: the site
// could resolve it to another operation than the one the scopes were
// checked for.
func DotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." {
			return true
		}
	}
	return false
}

// Missing returns nil when has grants every scope of one of op's sets, and
// otherwise the scopes of the set that lacks the fewest (the first such
// set: classic scopes before granular ones). An operation with no sets
// (Scopes nil) is allowed to no app: Decide refuses it before asking.
func (op *Operation) Missing(has func(string) bool) []string {
	var fewest []string
	for i, set := range op.Scopes {
		var missing []string
		for _, s := range set {
			if !has(s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if i == 0 || len(missing) < len(fewest) {
			fewest = missing
		}
	}
	return fewest
}

// Verdict is what Decide concludes about a call.
type Verdict int

// The verdicts, in the order Decide checks them. A host answers
// InvalidPath with invalid-argument and the three refusals with
// access-denied.
const (
	// Allowed: the operation is documented and the scopes allow it.
	Allowed Verdict = iota
	// InvalidPath: the path could leave the site (another host, a scheme,
	// userinfo, a backslash) or has a dot segment.
	InvalidPath
	// NoOperation: the specifications have no such operation.
	NoOperation
	// NoApp: the operation is offered to no app (no scope set allows it).
	NoApp
	// MissingScope: the declared scopes complete none of the operation's
	// sets; Decision.Missing names the scopes of the nearest one.
	MissingScope
)

// Decision is Decide's answer.
type Decision struct {
	Verdict Verdict
	// Method is the call's method, GET when it gave none.
	Method string
	// Operation is the operation called (nil for InvalidPath and
	// NoOperation).
	Operation *Operation
	// Missing is set for MissingScope.
	Missing []string
}

// Decide is the jira capability's rule for a call of method on url (a path
// on the installation's own site, with its query) by a module whose manifest
// declares the scopes has reports: the host and plugin/sdk/sdktest both ask
// it, so a unit test is refused what the host refuses.
func Decide(method, url string, has func(scope string) bool) Decision {
	if method == "" {
		method = "GET"
	}
	d := Decision{Method: method}
	// The module names a path on its own site; anything that could leave
	// the site is refused.
	if !strings.HasPrefix(url, "/") || strings.HasPrefix(url, "//") || strings.ContainsAny(url, "\\@") || strings.Contains(url, "://") {
		d.Verdict = InvalidPath
		return d
	}
	path, _, _ := strings.Cut(url, "?")
	if DotSegment(path) {
		d.Verdict = InvalidPath
		return d
	}
	d.Operation = Find(method, path)
	switch {
	case d.Operation == nil:
		d.Verdict = NoOperation
	case d.Operation.Scopes == nil:
		d.Verdict = NoApp
	default:
		if d.Missing = d.Operation.Missing(has); d.Missing != nil {
			d.Verdict = MissingScope
		}
	}
	return d
}
