package adminapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/jirasite"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// maxBody bounds a request to the admin API.
const maxBody = 256 << 10

// Installation is what the API shows of an installation.
type Installation struct {
	ID           string            `json:"id"`
	SiteURL      string            `json:"siteUrl"`
	AppAccountID string            `json:"appAccountId"`
	WebTriggers  map[string]string `json:"webTriggers"`              // key -> public URL
	JiraWebhook  string            `json:"jiraWebhookUrl,omitempty"` // absent for an installation without a Jira site
	// JiraWebhookSecret is shown once, in the answer to an install.
	JiraWebhookSecret string `json:"jiraWebhookSecret,omitempty"`
	// JiraWebhookSetup, in the answer to an install, says whether the host
	// registered the Jira webhook or what to enter in Jira's page.
	JiraWebhookSetup *JiraWebhook `json:"jiraWebhook,omitempty"`
}

// InstallRequest is the body of POST /admin/installations.
type InstallRequest struct {
	SiteURL       string `json:"siteUrl"`
	AppAccountID  string `json:"appAccountId"`
	Authorization string `json:"authorization"`
}

// Handler serves the API for h and the node-wide operations of n,
// accepting only requests bearing token.
func Handler(h *host.Host, token string, n Node) http.Handler {
	mux := http.NewServeMux()
	(&nodeOps{h: h, n: n}).register(mux)
	registerDirectory(mux, h)
	registerWebhookSecret(mux, h)
	registerHealth(mux, h)
	mux.HandleFunc("GET /admin/installations", func(w http.ResponseWriter, r *http.Request) {
		list := []Installation{}
		for _, in := range h.Registry().List() {
			list = append(list, view(h, in))
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("POST /admin/installations", func(w http.ResponseWriter, r *http.Request) {
		var req InstallRequest
		if !decode(w, r, &req) {
			return
		}
		in, secret, err := h.Install(r.Context(), tenant.Site{URL: req.SiteURL, AppAccountID: req.AppAccountID, Authorization: req.Authorization})
		switch {
		case errors.Is(err, tenant.ErrInvalid):
			writeError(w, http.StatusBadRequest, err.Error())
			return
		case errors.Is(err, tenant.ErrExists):
			writeError(w, http.StatusConflict, err.Error())
			return
		case errors.Is(err, jirasite.ErrUnreachable):
			writeError(w, http.StatusBadGateway, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, "install failed")
			return
		}
		v := view(h, in)
		v.JiraWebhookSecret = secret
		if in.SiteURL != "" {
			reg := registerJiraWebhook(r.Context(), h, in, secret)
			v.JiraWebhookSetup = &reg
		}
		writeJSON(w, http.StatusCreated, v)
	})
	mux.HandleFunc("DELETE /admin/installations/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The answer is the uninstall's receipt (host/receipt): what was
		// destroyed, signed with the host's receipt key. The webhook the
		// host registered is deleted first, best effort (Jira-Webhook says
		// how it went).
		if in, ok := h.Registry().Get(r.PathValue("id")); ok && in.SiteURL != "" {
			w.Header().Set("Jira-Webhook", deleteJiraWebhook(r.Context(), h, in.ID))
		}
		switch rc, err := h.Uninstall(r.Context(), r.PathValue("id")); {
		case errors.Is(err, tenant.ErrNotFound):
			writeError(w, http.StatusNotFound, "no such installation")
		case err != nil:
			writeError(w, http.StatusInternalServerError, "uninstall failed")
		default:
			writeJSON(w, http.StatusOK, rc)
		}
	})
	mux.HandleFunc("POST /admin/installations/{id}/resolve/{function}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		out, err := resolver.Call(r.Context(), h, r.PathValue("id"), r.PathValue("function"), body)
		var code abi.Code
		switch {
		case errors.Is(err, tenant.ErrNotFound):
			writeError(w, http.StatusNotFound, "no such installation")
		case errors.As(err, &code):
			writeError(w, statusOf(code), code.String())
		case err != nil:
			writeError(w, http.StatusBadGateway, "resolver failed")
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		}
	})
	fireRoutes(mux, h)
	mux.HandleFunc("GET /admin/receipt-key", func(w http.ResponseWriter, r *http.Request) {
		k := h.ReceiptKey()
		if k == nil {
			writeError(w, http.StatusNotFound, "this host signs no receipts")
			return
		}
		writeJSON(w, http.StatusOK, ReceiptKey{Fingerprint: k.Fingerprint(), PEM: string(k.PEM())})
	})
	mux.HandleFunc("GET /admin/queue", func(w http.ResponseWriter, r *http.Request) {
		if n.Cluster == nil {
			writeJSON(w, http.StatusOK, QueueView{Stats: h.Queue().Stats(), DeadLetters: h.Queue().DeadLetters()})
			return
		}
		v, err := clusterQueue(r.Context(), h, n.Cluster)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the cluster's queue could not be read")
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /admin/queue/dead/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		deadLetterResult(w, h.Queue().Replay(r.Context(), r.PathValue("id")), "replay failed")
	})
	mux.HandleFunc("DELETE /admin/queue/dead/{id}", func(w http.ResponseWriter, r *http.Request) {
		deadLetterResult(w, h.Queue().Discard(r.Context(), r.PathValue("id")), "discard failed")
	})
	return authorized(token, mux)
}

// ReceiptKey is the answer to GET /admin/receipt-key: the public key that
// verifies the host's uninstall receipts (`chatbridge receipt verify`).
type ReceiptKey struct {
	Fingerprint string `json:"fingerprint"`
	PEM         string `json:"pem"`
}

// QueueView is the answer to GET /admin/queue: Stats are this node's
// counters. On a cluster, DeadLetters are every node's, read from the
// store (Stats.DeadLetters counts them), and Cluster is the whole
// cluster's queue.
type QueueView struct {
	Stats       queue.Stats        `json:"stats"`
	DeadLetters []queue.DeadLetter `json:"deadLetters"`
	Cluster     *ClusterQueue      `json:"cluster,omitempty"`
}

func deadLetterResult(w http.ResponseWriter, err error, failed string) {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such dead letter")
	case err != nil:
		writeError(w, http.StatusInternalServerError, failed)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func statusOf(c abi.Code) int {
	switch c {
	case abi.NotFound:
		return http.StatusNotFound
	case abi.InvalidArgument:
		return http.StatusBadRequest
	case abi.AccessDenied:
		return http.StatusForbidden
	case abi.LimitExceeded:
		return http.StatusTooManyRequests
	case abi.Timeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func authorized(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, "admin token required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func view(h *host.Host, in tenant.Installation) Installation {
	v := Installation{ID: in.ID, SiteURL: in.SiteURL, AppAccountID: in.AppAccountID, WebTriggers: map[string]string{}}
	if _, ok := in.Routes[tenant.JiraEventsRoute]; ok {
		v.JiraWebhook = jiraevent.URL(h, in)
	}
	for key, route := range in.Routes {
		if key != tenant.JiraEventsRoute {
			v.WebTriggers[key] = publicurl.WebTrigger(h.PublicURL(), route)
		}
	}
	return v
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
