package main

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The Jira admin webhook through the admin API, against the Jira
// simulator's /rest/webhooks/1.0: install registers it when the app
// account is a site admin, health then reads it back from Jira and notes a
// signed delivery, rotate-secret registers it again with the new secret
// and deletes the old one, and an account that is not a site admin gets
// the manual steps instead.
func TestJiraWebhookInstallHealthRotationAndManualSteps(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	events := jiraevent.Events(s.Node.Host.Bundle().Manifest)
	if len(events) == 0 {
		t.Fatal("the bundle subscribes to no Jira event")
	}
	// A request whose comments Jira will deliver once the webhook exists.
	req := s.Opened(t, stacktest.NewChat(), "jirahook-health "+t.Name())
	// The stack's own webhook is the settings page's; only the host's own
	// registration delivers from here on.
	s.Call(t, "PUT", "/_sim/jira/webhook", map[string]any{"url": ""}, nil, http.StatusOK)
	s.Call(t, "DELETE", "/admin/installations/"+s.Emu.Installation.ID, nil, nil, http.StatusOK)

	install := func() adminapi.Installation {
		t.Helper()
		var in adminapi.Installation
		s.Call(t, "POST", "/admin/installations", adminapi.InstallRequest{SiteURL: stack.Site, AppAccountID: "chatbridge-dev-app",
			Authorization: jira.DefaultAuthorization}, &in, http.StatusCreated)
		if in.JiraWebhookSetup == nil || in.JiraWebhookSecret == "" || in.JiraWebhook == "" {
			t.Fatalf("install answered %+v", in)
		}
		return in
	}
	hooks := func() []jira.AdminHookState {
		t.Helper()
		var out []jira.AdminHookState
		s.Call(t, "GET", "/_sim/jira/admin-webhooks", nil, &out, http.StatusOK)
		return out
	}
	health := func(id string) adminapi.Health {
		t.Helper()
		var h adminapi.Health
		s.Call(t, "GET", "/admin/installations/"+id+"/health", nil, &h, http.StatusOK)
		return h
	}

	in := install()
	reg := in.JiraWebhookSetup
	got := hooks()
	if !reg.Registered || reg.ID == "" || reg.Manual != nil || len(got) != 1 {
		t.Fatalf("a site admin's install: %+v, Jira lists %+v", reg, got)
	}
	if h := got[0]; h.ID != reg.ID || h.URL != in.JiraWebhook || h.Secret != in.JiraWebhookSecret || !slices.Equal(h.Events, events) || h.JQL != "project in (SUP)" {
		t.Fatalf("Jira lists %+v; want id %s, url %s, the install's secret, events %v", h, reg.ID, in.JiraWebhook, events)
	}

	t.Run("health: registered, credentials ok, the last signed delivery", func(t *testing.T) {
		if h := health(in.ID); h.Webhook != "registered" || h.Credentials != "ok" || h.LastJiraDelivery != nil {
			t.Fatalf("health before any delivery: %+v", h)
		}
		s.Reply(t, req.Key, "a reply Jira delivers to the registered webhook") // every delivery answered 2xx
		waitfor.Until(t, stacktest.Wait, "the delivery noted", func() string {
			if h := health(in.ID); h.LastJiraDelivery == nil {
				return "lastJiraDelivery is null"
			}
			return ""
		})
		if h := health(in.ID); h.Webhook != "registered" || h.Credentials != "ok" {
			t.Fatalf("health after a delivery: %+v", h)
		}
	})

	t.Run("rotate-secret registers the webhook again and deletes the old one", func(t *testing.T) {
		out := mustRun(t, "installations", "rotate-secret", "-admin", s.Admin, "-data", s.Data, in.ID)
		m := regexp.MustCompile(`(?m)^jira webhook secret  (\S+)$`).FindStringSubmatch(out)
		if m == nil || m[1] == in.JiraWebhookSecret {
			t.Fatalf("rotate-secret printed:\n%s", out)
		}
		got := hooks()
		if len(got) != 1 || got[0].Secret != m[1] || got[0].ID == reg.ID || got[0].URL != in.JiraWebhook || !slices.Equal(got[0].Events, events) {
			t.Fatalf("after the rotation Jira lists %+v (the old id was %s)", got, reg.ID)
		}
		if h := health(in.ID); h.Webhook != "registered" {
			t.Fatalf("health after the rotation: %+v", h)
		}
		s.Reply(t, req.Key, "a reply signed with the new secret") // every delivery answered 2xx
	})

	t.Run("an account that is not a site admin gets the manual steps", func(t *testing.T) {
		s.Call(t, "DELETE", "/admin/installations/"+in.ID, nil, nil, http.StatusOK)
		if got := hooks(); len(got) != 0 {
			t.Fatalf("the uninstall left Jira's webhook: %+v", got)
		}
		s.Call(t, "PUT", "/_sim/jira/site-admin", jira.SiteAdminState{SiteAdmin: false}, nil, http.StatusOK)
		in := install()
		man := in.JiraWebhookSetup.Manual
		if in.JiraWebhookSetup.Registered || man == nil {
			t.Fatalf("install by a non-admin: %+v", in.JiraWebhookSetup)
		}
		if man.URL != in.JiraWebhook || man.Secret != in.JiraWebhookSecret || !slices.Equal(man.Events, events) || man.JQL != "project in (SUP)" ||
			!strings.Contains(man.Reason, "Administer Jira") {
			t.Fatalf("the manual steps: %+v; want url %s, the install's secret, events %v", man, in.JiraWebhook, events)
		}
		for _, want := range []string{"WebHooks", in.JiraWebhook, in.JiraWebhookSecret, strings.Join(events, ", "), "project in (SUP)"} {
			if !strings.Contains(man.Steps, want) {
				t.Errorf("the steps lack %q: %s", want, man.Steps)
			}
		}
		if got := hooks(); len(got) != 0 {
			t.Fatalf("Jira lists a webhook the non-admin could not register: %+v", got)
		}
		if h := health(in.ID); h.Webhook != "manual: not checked" || h.Credentials != "ok" || h.LastJiraDelivery != nil {
			t.Fatalf("health of a manual webhook: %+v", h)
		}
	})
}
