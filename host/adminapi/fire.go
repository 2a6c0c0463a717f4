package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/host/trigger/schedule"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// fireRoutes lets an administrator (or a vendor in dev mode) run a way in on
// demand, without waiting for it:
//
//	POST /admin/installations/{id}/schedule/{key}/fire   a scheduled trigger, now
//	POST /admin/installations/{id}/events/{type}         a product event (avi:...), the body its JSON payload
//
// A firing on demand is one invocation more: it does not move the
// scheduler's slot, so the trigger still fires once in its interval.
func fireRoutes(mux *http.ServeMux, h *host.Host) {
	mux.HandleFunc("POST /admin/installations/{id}/schedule/{key}/fire", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, ok := h.Registry().Get(id); !ok {
			writeError(w, http.StatusNotFound, "no such installation")
			return
		}
		err := schedule.ForHost(h).Scheduled(r.Context(), id, r.PathValue("key"))
		fired(w, err, "no such scheduled trigger in the running bundle")
	})
	mux.HandleFunc("POST /admin/installations/{id}/events/{type}", func(w http.ResponseWriter, r *http.Request) {
		id, eventType := r.PathValue("id"), r.PathValue("type")
		if _, ok := h.Registry().Get(id); !ok {
			writeError(w, http.StatusNotFound, "no such installation")
			return
		}
		if !strings.HasPrefix(eventType, "avi:") {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a product event (avi:jira:commented:issue, ...); subscribed: %s", eventType, subscribed(h)))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		if len(body) == 0 {
			body = []byte("{}")
		}
		if !json.Valid(body) {
			writeError(w, http.StatusBadRequest, "the body is the event's payload and must be JSON")
			return
		}
		err = jiraevent.Deliver(r.Context(), h, id, eventType, body)
		if errors.Is(err, jiraevent.ErrNoTrigger) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no trigger of the running bundle subscribes to %q; subscribed: %s", eventType, subscribed(h)))
			return
		}
		fired(w, err, "")
	})
}

// subscribed lists the product events the running bundle's triggers
// subscribe to, for an error that says what could have been fired.
func subscribed(h *host.Host) string {
	var events []string
	if b := h.Bundle(); b != nil {
		for _, t := range b.Manifest.Modules.Trigger {
			for _, e := range t.Events {
				if !slices.Contains(events, e) {
					events = append(events, e)
				}
			}
		}
	}
	if len(events) == 0 {
		return "none"
	}
	return strings.Join(events, ", ")
}

func fired(w http.ResponseWriter, err error, notDeclared string) {
	var code abi.Code
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, host.ErrNoTrigger) && notDeclared != "":
		writeError(w, http.StatusNotFound, notDeclared)
	case errors.Is(err, tenant.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such installation")
	case errors.As(err, &code):
		writeError(w, statusOf(code), code.String())
	default:
		writeError(w, http.StatusBadGateway, "the invocation failed")
	}
}
