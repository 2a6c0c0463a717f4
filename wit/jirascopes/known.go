package jirascopes

import "sync"

// scopeSet holds every scope some operation accepts.
var scopeSet = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, op := range operations {
		for _, scopes := range op.Scopes {
			for _, s := range scopes {
				set[s] = true
			}
		}
	}
	return set
})

// Known reports whether scope is one that some Jira or JSM operation in the
// specifications accepts: the only scopes the jira capability grants
// anything for. An audit fails any other.
func Known(scope string) bool { return scopeSet()[scope] }
