package adminapi

import (
	"errors"
	"net/http"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/jirasite"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// registerDirectory serves what a project's settings pick by name: the
// service desks an installation's account sees and their request types,
// asked of the site with the installation's credentials.
func registerDirectory(mux *http.ServeMux, h *host.Host) {
	mux.HandleFunc("GET /admin/installations/{id}/servicedesks", func(w http.ResponseWriter, r *http.Request) {
		site, auth, ok := siteOf(w, r, h)
		if !ok {
			return
		}
		desks, err := jirasite.ServiceDesks(r.Context(), h.SiteClient(), site, auth)
		directoryAnswer(w, desks, err)
	})
	mux.HandleFunc("GET /admin/installations/{id}/servicedesks/{sd}/requesttypes", func(w http.ResponseWriter, r *http.Request) {
		site, auth, ok := siteOf(w, r, h)
		if !ok {
			return
		}
		types, err := jirasite.RequestTypes(r.Context(), h.SiteClient(), site, auth, r.PathValue("sd"))
		directoryAnswer(w, types, err)
	})
}

func siteOf(w http.ResponseWriter, r *http.Request, h *host.Host) (string, string, bool) {
	site, auth, err := h.Registry().JiraBase(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such installation")
		return "", "", false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "the installation's credentials cannot be read")
		return "", "", false
	}
	return site, auth, true
}

func directoryAnswer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		// jirasite's errors say what Jira answered and what to fix; they
		// hold no credentials.
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}
