package jira

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// JSM customers and their notifications.
//
// The service desk API's customer methods as JSM Cloud documents them:
// "Create customer" (POST /rest/servicedeskapi/customer) makes a
// portal-only account, answering 400, or 409 with
// strictConflictStatusCode=true, for an email that has one; "Get
// customers" (GET .../servicedesk/{id}/customer, experimental: it needs
// X-ExperimentalApi: opt-in) lists the desk's customers whose name or email
// contains query; "Add customers" (POST .../servicedesk/{id}/customer) makes
// accounts customers of the desk. An account created by Create customer is
// no desk's customer until added; one a request is raised on behalf of
// becomes one.
//
// Jira emails customers; the simulator keeps those emails in an outbox the
// tests read (GET /_sim/jira/outbox): JSM's default customer
// notifications "Request created" (to the reporter, when someone else
// raised the request on their behalf) and "Public comment added" (to the
// reporter and the participants, when the team comments publicly), each
// carrying what the real one carries: the request's key and summary, and
// the comment's text.

// Email is one customer notification in the outbox.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Kind is "request-created" or "public-comment".
	Kind string `json:"kind"`
	Key  string `json:"key"`
}

func (s *Sim) createCustomer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	email := strings.TrimSpace(body.Email)
	if at := strings.Index(email, "@"); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		writeSDError(w, http.StatusBadRequest, "sd.customer.error.email.invalid", "The email address is invalid.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.customers {
		if strings.EqualFold(a.Email, email) {
			status := http.StatusBadRequest
			if strings.EqualFold(r.URL.Query().Get("strictConflictStatusCode"), "true") {
				status = http.StatusConflict
			}
			writeSDError(w, status, "sd.customer.error.exists", "A user with that username already exists.")
			return
		}
	}
	a := s.customerLocked(email)
	if body.DisplayName != "" {
		a.Name = body.DisplayName
		s.customers[a.ID] = a
	}
	writeJSON(w, http.StatusCreated, s.sdUserJSON(a))
}

func (s *Sim) addCustomers(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != s.cfg.ServiceDeskID {
		writeSDError(w, http.StatusNotFound, "sd.servicedesk.error.not.found", "The service project with ID %s does not exist or you do not have permission to access it.", r.PathValue("id"))
		return
	}
	var body struct {
		AccountIDs []string `json:"accountIds"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range body.AccountIDs {
		if _, ok := s.customers[id]; !ok {
			writeSDError(w, http.StatusBadRequest, "sd.customer.error.user.not.found", "The user %s does not exist.", id)
			return
		}
	}
	for _, id := range body.AccountIDs {
		s.deskCustomers[id] = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// getCustomers is "Get customers": the desk's customers whose display name
// or email contains query (case-insensitively), one page of limit (at most
// 50) from start.
func (s *Sim) getCustomers(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("X-ExperimentalApi"), "opt-in") {
		writeSDError(w, http.StatusBadRequest, "sd.rest.experimental.api.opt.in.required",
			"This API is experimental. Experimental APIs are not guaranteed to be stable within the preview period. You must set the header 'X-ExperimentalApi: opt-in' to opt into using this API.")
		return
	}
	if r.PathValue("id") != s.cfg.ServiceDeskID {
		writeSDError(w, http.StatusNotFound, "sd.servicedesk.error.not.found", "The service project with ID %s does not exist or you do not have permission to access it.", r.PathValue("id"))
		return
	}
	q := r.URL.Query()
	start, limit := 0, 50
	if v := q.Get("start"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeSDError(w, http.StatusBadRequest, "sd.rest.error.start.invalid", "The start parameter must be a non-negative number.")
			return
		}
		start = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeSDError(w, http.StatusBadRequest, "sd.rest.error.limit.invalid", "The limit parameter must be a positive number.")
			return
		}
		limit = min(n, 50)
	}
	query := strings.ToLower(q.Get("query"))
	s.mu.Lock()
	var all []account
	for id := range s.deskCustomers {
		a := s.customers[id]
		if query == "" || strings.Contains(strings.ToLower(a.Name), query) || strings.Contains(strings.ToLower(a.Email), query) {
			all = append(all, a)
		}
	}
	s.mu.Unlock()
	sortAccounts(all)
	values := []any{}
	for i := start; i < len(all) && i < start+limit; i++ {
		values = append(values, s.sdUserJSON(all[i]))
	}
	out := s.page(values, r.URL.Path)
	out["start"], out["limit"], out["isLastPage"] = start, limit, start+limit >= len(all)
	writeJSON(w, http.StatusOK, out)
}

func sortAccounts(list []account) {
	slices.SortFunc(list, func(a, b account) int { return strings.Compare(a.ID, b.ID) })
}

// notifyCreatedLocked emails the reporter of a request someone else raised
// on their behalf; s.mu is held.
func (s *Sim) notifyCreatedLocked(req *request) {
	if req.reporter.Type != "customer" || req.reporter.Email == "" || req.reporter.ID == req.creator.ID {
		return
	}
	s.outbox = append(s.outbox, Email{To: req.reporter.Email, Kind: "request-created", Key: req.key,
		Subject: "[" + req.key + "] " + req.summary,
		Body:    req.creator.Name + " raised this request on your behalf: " + req.summary})
}

// notifyCommentLocked emails the request's customers a public comment of
// the team's; s.mu is held.
func (s *Sim) notifyCommentLocked(req *request, c *comment) {
	if !onTeam(c.author) {
		return
	}
	to := append([]account{req.reporter}, req.participants...)
	for _, a := range to {
		if a.Type != "customer" || a.Email == "" {
			continue
		}
		s.outbox = append(s.outbox, Email{To: a.Email, Kind: "public-comment", Key: req.key,
			Subject: "[" + req.key + "] " + req.summary, Body: c.wiki})
	}
}

// controlOutbox lists the customer emails, oldest first; ?to= keeps those
// to one address.
func (s *Sim) controlOutbox(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	s.mu.Lock()
	out := []Email{}
	for _, e := range s.outbox {
		if to == "" || strings.EqualFold(e.To, to) {
			out = append(out, e)
		}
	}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}
