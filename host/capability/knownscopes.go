package capability

import "sync"

// jiraScopeSet holds every scope some operation in jiraOperations accepts.
var jiraScopeSet = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, op := range jiraOperations {
		for _, scopes := range op.scopes {
			for _, s := range scopes {
				set[s] = true
			}
		}
	}
	return set
})

// KnownJiraScope reports whether scope is one that some Jira or JSM
// operation in the specifications accepts (jirascopes.go): the only scopes
// the jira capability grants anything for. An audit fails any other.
func KnownJiraScope(scope string) bool { return jiraScopeSet()[scope] }
