package host

import (
	"context"
	"fmt"

	"github.com/chatbridge/chatbridge/host/tenant"
)

// installWithoutSite installs the running app without a Jira site, which
// only an app that uses no Jira may be (bundle's Manifest.NeedsJiraSite):
// its installation has web trigger routes and storage, no credentials and
// no Jira webhook.
func (h *Host) installWithoutSite(ctx context.Context) (tenant.Installation, string, error) {
	b := h.Bundle()
	if b == nil {
		return tenant.Installation{}, "", fmt.Errorf("%w: no bundle is loaded to tell whether the app needs a Jira site: give the site", tenant.ErrInvalid)
	}
	if b.Manifest.NeedsJiraSite() {
		return tenant.Installation{}, "", fmt.Errorf("%w: the app uses Jira (the jira capability, a Jira event trigger or a Jira scope): give the site and its credentials", tenant.ErrInvalid)
	}
	var keys []string
	for _, w := range b.Manifest.Modules.WebTrigger {
		keys = append(keys, w.Key)
	}
	in, err := h.registry.CreateWithoutSite(ctx, keys)
	if err != nil {
		return tenant.Installation{}, "", err
	}
	h.log.Info("installed without a Jira site", "installation", in.ID)
	return *in, "", nil
}
