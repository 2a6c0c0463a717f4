package jira

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// adminHook is an admin webhook registered through the REST API
// (/rest/webhooks/1.0/webhook), as an administrator registers one in
// Jira's settings: deliveries of its events for the issues its JQL selects,
// signed with its secret.
type adminHook struct {
	ID          int64             `json:"-"`
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Filters     map[string]string `json:"filters"`
	ExcludeBody bool              `json:"excludeBody"`
	Secret      string            `json:"secret,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
}

// jqlSection is the filters key of the JQL that selects the issues.
const jqlSection = "issue-related-events-section"

// projectJQL is the JQL an admin webhook's filter may hold in the
// simulator: project = KEY or project in (KEY, ...). Jira takes more; the
// simulator refuses what it cannot evaluate rather than ignore it.
var projectJQL = regexp.MustCompile(`^\s*project\s*(?:=\s*"?([A-Z][A-Z0-9_]*)"?|(?i:in)\s*\(([^)]*)\))\s*$`)

// projects returns the project keys a filter JQL names; ok is false for a
// JQL the simulator cannot evaluate. An empty JQL selects every issue (nil).
func projects(jql string) (keys []string, ok bool) {
	if strings.TrimSpace(jql) == "" {
		return nil, true
	}
	m := projectJQL.FindStringSubmatch(jql)
	if m == nil {
		return nil, false
	}
	if m[1] != "" {
		return []string{m[1]}, true
	}
	for _, k := range strings.Split(m[2], ",") {
		k = strings.Trim(strings.TrimSpace(k), `"`)
		if !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) {
			return nil, false
		}
		keys = append(keys, k)
	}
	return keys, len(keys) > 0
}

// wants reports whether the hook takes an event of the simulator's project.
func (h *adminHook) wants(event, project string) bool {
	if h.Enabled != nil && !*h.Enabled {
		return false
	}
	if !slices.Contains(h.Events, event) {
		return false
	}
	keys, _ := projects(h.Filters[jqlSection])
	return keys == nil || slices.Contains(keys, project)
}

// hookJSON is a registered webhook as the REST API answers it: the secret
// is not given back.
func (s *Sim) hookJSON(h *adminHook) map[string]any {
	enabled := h.Enabled == nil || *h.Enabled
	filters := h.Filters
	if filters == nil {
		filters = map[string]string{}
	}
	events := h.Events
	if events == nil {
		events = []string{}
	}
	return map[string]any{
		"self":        s.cfg.Site + "/rest/webhooks/1.0/webhook/" + strconv.FormatInt(h.ID, 10),
		"name":        h.Name,
		"url":         h.URL,
		"events":      events,
		"filters":     filters,
		"excludeBody": h.ExcludeBody,
		"enabled":     enabled,
	}
}

// siteAdmin answers 403 unless the app account is a site administrator:
// the admin webhook API is for Jira administrators only.
func (s *Sim) siteAdmin(w http.ResponseWriter) bool {
	s.mu.Lock()
	admin := !s.notAdmin
	s.mu.Unlock()
	if !admin {
		writeErrors(w, http.StatusForbidden, []string{"You do not have the permission to manage webhooks: the Administer Jira global permission is required."}, nil)
	}
	return admin
}

func (s *Sim) registerHook(w http.ResponseWriter, r *http.Request) {
	if !s.siteAdmin(w) {
		return
	}
	var h adminHook
	if !decodeBody(w, r, &h, false) {
		return
	}
	fields := map[string]string{}
	if strings.TrimSpace(h.Name) == "" {
		fields["name"] = "The webhook needs a name."
	}
	if !strings.HasPrefix(h.URL, "https://") && !strings.HasPrefix(h.URL, "http://") {
		fields["url"] = "The URL must be an http or https URL."
	}
	if _, ok := projects(h.Filters[jqlSection]); !ok {
		fields["filters"] = "The simulator evaluates only project = KEY or project in (KEY, ...)."
	}
	if len(fields) > 0 {
		writeErrors(w, http.StatusBadRequest, nil, fields)
		return
	}
	s.mu.Lock()
	s.nextID++
	h.ID = s.nextID
	s.adminHooks = append(s.adminHooks, &h)
	out := s.hookJSON(&h)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Sim) listHooks(w http.ResponseWriter, _ *http.Request) {
	if !s.siteAdmin(w) {
		return
	}
	s.mu.Lock()
	out := []map[string]any{}
	for _, h := range s.adminHooks {
		out = append(out, s.hookJSON(h))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// hookByIDLocked finds a registered webhook; s.mu is held.
func (s *Sim) hookByIDLocked(id string) int {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return -1
	}
	return slices.IndexFunc(s.adminHooks, func(h *adminHook) bool { return h.ID == n })
}

func (s *Sim) getHook(w http.ResponseWriter, r *http.Request) {
	if !s.siteAdmin(w) {
		return
	}
	s.mu.Lock()
	i := s.hookByIDLocked(r.PathValue("id"))
	var out map[string]any
	if i >= 0 {
		out = s.hookJSON(s.adminHooks[i])
	}
	s.mu.Unlock()
	if out == nil {
		writeErrors(w, http.StatusNotFound, []string{"Webhook not found."}, nil)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) deleteHook(w http.ResponseWriter, r *http.Request) {
	if !s.siteAdmin(w) {
		return
	}
	s.mu.Lock()
	i := s.hookByIDLocked(r.PathValue("id"))
	if i >= 0 {
		s.adminHooks = slices.Delete(s.adminHooks, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		writeErrors(w, http.StatusNotFound, []string{"Webhook not found."}, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AdminHookState is a webhook registered through the REST API, as
// GET /_sim/jira/admin-webhooks lists it (with its secret, which the REST
// API does not give back).
type AdminHookState struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	JQL    string   `json:"jql"`
	Secret string   `json:"secret"`
}

func (s *Sim) controlAdminHooks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := []AdminHookState{}
	for _, h := range s.adminHooks {
		out = append(out, AdminHookState{ID: strconv.FormatInt(h.ID, 10), Name: h.Name, URL: h.URL, Events: h.Events, JQL: h.Filters[jqlSection], Secret: h.Secret})
	}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}

// SiteAdminState is the body of GET and PUT /_sim/jira/site-admin.
type SiteAdminState struct {
	// SiteAdmin is whether the app account holds Administer Jira, which
	// the admin webhook API requires.
	SiteAdmin bool `json:"site_admin"`
}

func (s *Sim) controlGetSiteAdmin(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := SiteAdminState{SiteAdmin: !s.notAdmin}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}

func (s *Sim) controlPutSiteAdmin(w http.ResponseWriter, r *http.Request) {
	var in SiteAdminState
	if err := simctl.DecodeJSON(r.Body, &in); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "jira: "+err.Error())
		return
	}
	s.mu.Lock()
	s.notAdmin = !in.SiteAdmin
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, in)
}
