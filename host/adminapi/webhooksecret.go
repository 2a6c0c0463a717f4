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
		writeJSON(w, http.StatusOK, WebhookSecret{JiraWebhookURL: view(h, in).JiraWebhook, JiraWebhookSecret: secret, PreviousValidUntil: &until})
	})
}
