package capability

import (
	"net/url"
	"strings"
	"sync"
)

//go:generate go run gen_jirascopes.go

// jiraOperation is one operation of the Jira or JSM REST API and the scope
// sets that each allow it (jirascopes.go, generated from the specifications).
type jiraOperation struct {
	method, path string
	scopes       [][]string
}

// jiraIndex holds jiraOperations by method, each path split in segments.
var jiraIndex = sync.OnceValue(func() map[string][]jiraTemplate {
	idx := map[string][]jiraTemplate{}
	for i := range jiraOperations {
		op := &jiraOperations[i]
		idx[op.method] = append(idx[op.method], jiraTemplate{op: op, segs: strings.Split(op.path, "/")})
	}
	return idx
})

type jiraTemplate struct {
	op   *jiraOperation
	segs []string
}

// findJiraOperation returns the operation a call of method on path (escaped,
// without the query) is, or nil when the specifications have none. A literal
// segment wins over a template segment, so /comment/list is not taken for
// /comment/{commentId}.
func findJiraOperation(method, path string) *jiraOperation {
	for from, to := range jiraAliases {
		if rest, ok := strings.CutPrefix(path, from); ok {
			path = to + rest
			break
		}
	}
	segs := strings.Split(path, "/")
	var best *jiraOperation
	bestScore := -1
	for _, t := range jiraIndex()[strings.ToUpper(method)] {
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
		if ok && (score > bestScore || score == bestScore && t.op.path < best.path) {
			best, bestScore = t.op, score
		}
	}
	return best
}

// dotSegment reports whether path has a "." or ".." segment, written plainly
// or percent-encoded: the site could resolve it to another operation than
// the one the scopes were checked for.
func dotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." {
			return true
		}
	}
	return false
}

// missingScopes returns nil when has grants every scope of one of op's
// sets, and otherwise the scopes of the set that lacks the fewest (the
// first such set: classic scopes before granular ones).
func missingScopes(op *jiraOperation, has func(string) bool) []string {
	var fewest []string
	for i, set := range op.scopes {
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
