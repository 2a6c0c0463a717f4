package bundle

import "slices"

// ScopeStorage is the one scope that names no Jira product: the app's own
// key-value store.
const ScopeStorage = "storage:app"

// NeedsJiraSite reports whether an installation of the app needs a Jira
// site: when the manifest lists the jira capability, subscribes a trigger
// to Jira's product events, or declares any scope but storage:app. An app
// that does none of these (a web trigger, a queue, a schedule) is installed
// without a site, and its jira capability, which it may not import, would
// have nowhere to go.
func (m *Manifest) NeedsJiraSite() bool {
	if slices.Contains(m.Permissions.Capabilities, CapabilityJira) || len(m.Modules.Trigger) > 0 {
		return true
	}
	for _, s := range m.Permissions.Scopes {
		if s != ScopeStorage {
			return true
		}
	}
	return false
}
