package jirasite_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/host/jirasite"
)

// An administrator's credentials register the webhook with every field the
// bridge needs, find it, and delete it (twice is fine); a non-administrator's
// are refused with ErrNotAdmin, which install turns into manual steps.
func TestAdminWebhookRegistrationFindAndDelete(t *testing.T) {
	sim := jira.New(jira.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewTLSServer(sim.API())
	t.Cleanup(srv.Close)
	ctx, c := context.Background(), srv.Client()
	w := jirasite.Webhook{Name: "ChatBridge", URL: "https://bridge.example/j/abc", Events: []string{"comment_created", "jira:issue_updated"}, JQL: "project in (SUP)", Secret: "s"}

	id, err := jirasite.RegisterWebhook(ctx, c, srv.URL, jira.DefaultAuthorization, w)
	if err != nil || id == "" {
		t.Fatalf("register: %q %v", id, err)
	}
	rec := httptest.NewRecorder()
	sim.Control().ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/jira/admin-webhooks", nil))
	var hooks []jira.AdminHookState
	if err := json.Unmarshal(rec.Body.Bytes(), &hooks); err != nil || len(hooks) != 1 {
		t.Fatalf("%s %v", rec.Body, err)
	}
	if h := hooks[0]; h.ID != id || h.URL != w.URL || h.JQL != w.JQL || h.Secret != "s" || len(h.Events) != 2 || h.Name != "ChatBridge" {
		t.Errorf("registered %+v", h)
	}
	if ok, err := jirasite.WebhookRegistered(ctx, c, srv.URL, jira.DefaultAuthorization, id); !ok || err != nil {
		t.Errorf("registered? %v %v", ok, err)
	}
	for range 2 {
		if err := jirasite.DeleteWebhook(ctx, c, srv.URL, jira.DefaultAuthorization, id); err != nil {
			t.Errorf("delete: %v", err)
		}
	}
	if ok, err := jirasite.WebhookRegistered(ctx, c, srv.URL, jira.DefaultAuthorization, id); ok || err != nil {
		t.Errorf("registered after delete? %v %v", ok, err)
	}

	notAdmin := jira.New(jira.Config{NotSiteAdmin: true})
	t.Cleanup(notAdmin.Close)
	srv2 := httptest.NewTLSServer(notAdmin.API())
	t.Cleanup(srv2.Close)
	if _, err := jirasite.RegisterWebhook(ctx, srv2.Client(), srv2.URL, jira.DefaultAuthorization, w); !errors.Is(err, jirasite.ErrNotAdmin) {
		t.Errorf("non-admin register: %v", err)
	}
	if _, err := jirasite.RegisterWebhook(ctx, c, srv.URL, "Basic d3Jvbmc6d3Jvbmc=", w); !errors.Is(err, jirasite.ErrCredentials) {
		t.Errorf("wrong credentials: %v", err)
	}
}
