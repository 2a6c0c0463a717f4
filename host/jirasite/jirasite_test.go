package jirasite_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/host/jirasite"
)

func TestCheckFindsTheAppAccountAndRefusesWhatDoesNotWork(t *testing.T) {
	sim := jira.New(jira.Config{AppAccountID: "557058:app-account"})
	t.Cleanup(sim.Close)
	srv := httptest.NewTLSServer(sim.API())
	t.Cleanup(srv.Close)
	ctx := context.Background()

	t.Run("working credentials give the account", func(t *testing.T) {
		a, err := jirasite.Check(ctx, srv.Client(), srv.URL, jira.DefaultAuthorization)
		if err != nil || a.ID != "557058:app-account" || a.DisplayName != "ChatBridge" || a.ServiceDesks != 1 {
			t.Fatalf("got %+v, %v", a, err)
		}
	})
	t.Run("refused credentials say what to do", func(t *testing.T) {
		_, err := jirasite.Check(ctx, srv.Client(), srv.URL, "Basic d3Jvbmc6d3Jvbmc=")
		if !errors.Is(err, jirasite.ErrCredentials) || !strings.Contains(err.Error(), "/rest/api/3/myself") || !strings.Contains(err.Error(), "API token") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a site that does not answer", func(t *testing.T) {
		gone := httptest.NewTLSServer(sim.API())
		client := gone.Client()
		gone.Close()
		if _, err := jirasite.Check(ctx, client, gone.URL, jira.DefaultAuthorization); !errors.Is(err, jirasite.ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an account that sees no service desk", func(t *testing.T) {
		// The site as an account outside every service project sees it:
		// the same myself, an empty page of service desks.
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/rest/servicedeskapi/servicedesk" {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"size":0,"start":0,"limit":50,"isLastPage":true,"values":[]}`))
				return
			}
			sim.API().ServeHTTP(w, r)
		})
		none := httptest.NewTLSServer(h)
		t.Cleanup(none.Close)
		if _, err := jirasite.Check(ctx, none.Client(), none.URL, jira.DefaultAuthorization); !errors.Is(err, jirasite.ErrNoServiceDesk) || !strings.Contains(err.Error(), "team") {
			t.Fatalf("got %v", err)
		}
	})
}
