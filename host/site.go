package host

import (
	"net/http"
	"time"
)

// SiteClient is the client the host calls Jira sites with: Config.HTTP, or
// one with a 30-second bound. For the admin API's look-ups on a site with
// an installation's credentials (tenant.Registry.JiraBase).
func (h *Host) SiteClient() *http.Client {
	if h.cfg.HTTP != nil {
		return h.cfg.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}
