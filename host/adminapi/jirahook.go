package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/jirasite"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
)

// JiraWebhook says how an installation's Jira admin webhook came to be, in
// the answers to install and rotate-secret.
type JiraWebhook struct {
	// Registered is true when the host registered the webhook itself.
	Registered bool `json:"registered"`
	// ID is Jira's id of the webhook the host registered.
	ID string `json:"id,omitempty"`
	// Manual, when the host could not register it, is why and the steps
	// to register it in Jira's settings page.
	Manual *ManualWebhook `json:"manual,omitempty"`
}

// ManualWebhook is what an administrator enters in Jira's WebHooks page.
type ManualWebhook struct {
	Reason string   `json:"reason"`
	Steps  string   `json:"steps"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	JQL    string   `json:"jql"`
	// Secret is the webhook secret (the installation's, shown with it).
	Secret string `json:"secret"`
}

// webhookName is the name the host gives the webhook it registers.
const webhookName = "ChatBridge"

// webhookSpec is what the installation's webhook is: its URL, the events
// the running bundle subscribes to, and a JQL over the service projects
// the app account sees (the projects the bridge can serve).
func webhookSpec(ctx context.Context, h *host.Host, in tenant.Installation, secret string) (jirasite.Webhook, error) {
	w := jirasite.Webhook{Name: webhookName, URL: jiraevent.URL(h, in), Secret: secret}
	if b := h.Bundle(); b != nil {
		w.Events = jiraevent.Events(b.Manifest)
	}
	site, auth, err := h.Registry().JiraBase(ctx, in.ID)
	if err != nil {
		return w, err
	}
	desks, err := jirasite.ServiceDesks(ctx, h.SiteClient(), site, auth)
	if err != nil {
		return w, err
	}
	var keys []string
	for _, d := range desks {
		keys = append(keys, d.ProjectKey)
	}
	w.JQL = "project in (" + strings.Join(keys, ", ") + ")"
	return w, nil
}

// registerJiraWebhook registers the installation's webhook with its site;
// when Jira refuses (an account without Administer Jira) or cannot, the
// answer holds the manual steps instead. It never fails the install.
func registerJiraWebhook(ctx context.Context, h *host.Host, in tenant.Installation, secret string) JiraWebhook {
	w, err := webhookSpec(ctx, h, in, secret)
	if err == nil && len(w.Events) == 0 {
		return JiraWebhook{}
	}
	var id string
	if err == nil {
		site, auth, _ := h.Registry().JiraBase(ctx, in.ID)
		id, err = jirasite.RegisterWebhook(ctx, h.SiteClient(), site, auth, w)
	}
	if err == nil {
		if err = h.Registry().SetJiraWebhookID(ctx, in.ID, id); err != nil {
			// Registered but not recorded: delete it rather than leave one
			// the host would not know to delete.
			site, auth, _ := h.Registry().JiraBase(ctx, in.ID)
			_ = jirasite.DeleteWebhook(ctx, h.SiteClient(), site, auth, id)
		}
	}
	if err != nil {
		h.Logger().Warn("jira webhook not registered", "installation", in.ID, "err", err.Error())
		reason := "the host could not register it: " + err.Error()
		if errors.Is(err, jirasite.ErrNotAdmin) {
			reason = "the app account lacks the Administer Jira global permission, which registering a webhook takes"
		}
		return JiraWebhook{Manual: manualSteps(reason, w)}
	}
	h.Logger().Info("jira webhook registered", "installation", in.ID)
	return JiraWebhook{Registered: true, ID: id}
}

// manualSteps are the steps of docs/operations.md section 7.
func manualSteps(reason string, w jirasite.Webhook) *ManualWebhook {
	jql := w.JQL
	if jql == "" {
		jql = "project in (<the service projects the bridge serves>)"
	}
	steps := fmt.Sprintf("In Jira: settings (cog) > System > WebHooks > Create a WebHook. Name: %s; Status: Enabled; URL: %s; Secret: %s; Events: %s; JQL: %s; Exclude body: off.",
		webhookName, w.URL, w.Secret, strings.Join(w.Events, ", "), jql)
	return &ManualWebhook{Reason: reason, Steps: steps, URL: w.URL, Events: w.Events, JQL: jql, Secret: w.Secret}
}

// deleteJiraWebhook deletes the webhook the host registered, best effort:
// what happened is reported, never an error that stops the uninstall.
func deleteJiraWebhook(ctx context.Context, h *host.Host, id string) string {
	hookID, err := h.Registry().JiraWebhookID(ctx, id)
	if err != nil || hookID == "" {
		return "not registered by the host: delete it in Jira's WebHooks page"
	}
	site, auth, err := h.Registry().JiraBase(ctx, id)
	if err == nil {
		err = jirasite.DeleteWebhook(ctx, h.SiteClient(), site, auth, hookID)
	}
	if err != nil {
		h.Logger().Warn("jira webhook not deleted", "installation", id, "err", err.Error())
		return "not deleted (" + err.Error() + "): delete the webhook " + webhookName + " in Jira's WebHooks page"
	}
	return "deleted"
}

// deleteOldJiraWebhook deletes a webhook a re-registration replaced; ""
// when done, else what the administrator should do.
func deleteOldJiraWebhook(ctx context.Context, h *host.Host, id, hookID string) string {
	site, auth, err := h.Registry().JiraBase(ctx, id)
	if err == nil {
		err = jirasite.DeleteWebhook(ctx, h.SiteClient(), site, auth, hookID)
	}
	if err != nil {
		h.Logger().Warn("replaced jira webhook not deleted", "installation", id, "err", err.Error())
		return "the replaced webhook (id " + hookID + ") was not deleted: delete it in Jira's WebHooks page, or Jira delivers twice"
	}
	return ""
}

// Health is the answer to GET /admin/installations/{id}/health.
type Health struct {
	// Webhook is "registered" or "missing" (asked of Jira, for the webhook
	// the host registered), "manual: not checked" (registered by hand), or
	// "unknown: <why>" (Jira did not answer).
	Webhook string `json:"webhook"`
	// LastJiraDelivery is when this node last received an authenticated
	// Jira delivery for the installation (memory only: since it started).
	LastJiraDelivery *time.Time `json:"lastJiraDelivery"`
	// Credentials is "ok" when GET /rest/api/3/myself answers 200 with the
	// installation's credentials, else why not.
	Credentials string `json:"credentials"`
}

func installationHealth(ctx context.Context, h *host.Host, in tenant.Installation) Health {
	var out Health
	if t := h.Registry().LastJiraDelivery(in.ID); !t.IsZero() {
		t = t.UTC().Truncate(time.Second)
		out.LastJiraDelivery = &t
	}
	if in.SiteURL == "" {
		out.Webhook, out.Credentials = "no Jira site", "no Jira site"
		return out
	}
	site, auth, err := h.Registry().JiraBase(ctx, in.ID)
	if err != nil {
		out.Webhook, out.Credentials = "unknown: the credentials cannot be read", "the credentials cannot be read"
		return out
	}
	if _, err := jirasite.Myself(ctx, h.SiteClient(), site, auth); err != nil {
		out.Credentials = err.Error()
	} else {
		out.Credentials = "ok"
	}
	hookID, err := h.Registry().JiraWebhookID(ctx, in.ID)
	switch {
	case err != nil:
		out.Webhook = "unknown: the webhook id cannot be read"
	case hookID == "":
		out.Webhook = "manual: not checked"
	default:
		switch ok, err := jirasite.WebhookRegistered(ctx, h.SiteClient(), site, auth, hookID); {
		case err != nil:
			out.Webhook = "unknown: " + err.Error()
		case ok:
			out.Webhook = "registered"
		default:
			out.Webhook = "missing: the webhook the host registered is gone from Jira; rotate the secret to register it again"
		}
	}
	return out
}

func registerHealth(mux *http.ServeMux, h *host.Host) {
	mux.HandleFunc("GET /admin/installations/{id}/health", func(w http.ResponseWriter, r *http.Request) {
		in, ok := h.Registry().Get(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no such installation")
			return
		}
		writeJSON(w, http.StatusOK, installationHealth(r.Context(), h, in))
	})
}
