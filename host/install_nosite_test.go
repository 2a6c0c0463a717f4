package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// An app that uses Jira (the probe: the jira capability, a Jira event
// trigger, Jira scopes) is not installed without a site; the error says
// what to give. (An app that uses no Jira is installed without one in
// TestVendorGuideRunsStepByStep.)
func TestInstallWithoutASiteIsRefusedForAnAppThatUsesJira(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	_, _, err := f.host.Install(context.Background(), tenant.Site{})
	if !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), "give the site") {
		t.Fatalf("got %v, want tenant.ErrInvalid saying to give the site", err)
	}
	if n := len(f.host.Registry().List()); n != 0 {
		t.Fatalf("%d installations registered", n)
	}
}
