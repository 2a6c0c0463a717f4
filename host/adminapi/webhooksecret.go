package adminapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// WebhookSecret is the answer to the webhook secret's endpoints.
type WebhookSecret struct {
	JiraWebhookURL    string `json:"jiraWebhookUrl"`
	JiraWebhookSecret string `json:"jiraWebhookSecret"`
	// PreviousValidUntil, after a rotation, is when the replaced secret
	// stops verifying deliveries.
	PreviousValidUntil *time.Time `json:"previousValidUntil,omitempty"`
	// JiraWebhook, after a rotation of a webhook the host registered, is
	// the webhook registered again with the new secret (or what to do).
	JiraWebhook *JiraWebhook `json:"jiraWebhook,omitempty"`
}

func registerWebhookSecret(mux *http.ServeMux, h *host.Host) {
	mux.HandleFunc("GET /admin/installations/{id}/webhook-secret", func(w http.ResponseWriter, r *http.Request) {
		in, ok := h.Registry().Get(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no such installation")
			return
		}
		secret, err := h.Registry().WebhookSecret(r.Context(), in.ID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "the webhook secret cannot be read")
			return
		}
		writeJSON(w, http.StatusOK, WebhookSecret{JiraWebhookURL: view(h, in).JiraWebhook, JiraWebhookSecret: string(secret)})
	})
	mux.HandleFunc("POST /admin/installations/{id}/webhook-secret/rotate", func(w http.ResponseWriter, r *http.Request) {
		in, ok := h.Registry().Get(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no such installation")
			return
		}
		secret, until, err := h.Registry().RotateWebhookSecret(r.Context(), in.ID)
		switch {
		case errors.Is(err, tenant.ErrNotFound):
			writeError(w, http.StatusNotFound, "no such installation")
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, "rotation failed; the old secret is still the one")
			return
		}
		h.Logger().Info("jira webhook secret rotated", "installation", in.ID)
		out := WebhookSecret{JiraWebhookURL: view(h, in).JiraWebhook, JiraWebhookSecret: secret, PreviousValidUntil: &until}
		if old, err := h.Registry().JiraWebhookID(r.Context(), in.ID); err == nil && old != "" {
			// The host registered it: register it again with the new
			// secret, then delete the old one (the old secret verifies
			// what the old webhook still sends in between).
			reg := registerJiraWebhook(r.Context(), h, in, secret)
			if reg.Registered {
				if msg := deleteOldJiraWebhook(r.Context(), h, in.ID, old); msg != "" {
					reg.Manual = &ManualWebhook{Reason: msg}
				}
			}
			out.JiraWebhook = &reg
		}
		writeJSON(w, http.StatusOK, out)
	})
}
