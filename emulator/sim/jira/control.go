package jira

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Control is the control API of the simulator, for the admin listener:
// /_sim/jira/... and /_sim/fail (for rules of service "jira"). The contract
// is in the documentation of package sim.
func (s *Sim) Control() http.Handler { return s.control }

func (s *Sim) newControl() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/jira/requests", s.controlRequests)
	mux.HandleFunc("POST /_sim/jira/requests/{key}/comment", s.controlComment)
	mux.HandleFunc("PUT /_sim/jira/requests/{key}/comment/{id}", s.controlEditComment)
	mux.HandleFunc("POST /_sim/jira/requests/{key}/transition", s.controlTransition)
	mux.HandleFunc("POST /_sim/jira/requests/{key}/attachment", s.controlAttachment)
	mux.HandleFunc("GET /_sim/jira/webhook", s.controlGetWebhook)
	mux.HandleFunc("PUT /_sim/jira/webhook", s.controlPutWebhook)
	mux.HandleFunc("GET /_sim/jira/admin-webhooks", s.controlAdminHooks)
	mux.HandleFunc("GET /_sim/jira/site-admin", s.controlGetSiteAdmin)
	mux.HandleFunc("PUT /_sim/jira/site-admin", s.controlPutSiteAdmin)
	mux.HandleFunc("GET /_sim/jira/deliveries", s.controlDeliveries)
	mux.HandleFunc("POST /_sim/jira/deliveries/{identifier}/redeliver", s.controlRedeliver)
	mux.HandleFunc("GET /_sim/jira/stats", s.controlStats)
	mux.HandleFunc("GET /_sim/jira/outbox", s.controlOutbox)
	mux.Handle("/_sim/fail", simctl.FailHandler(s.Name(), &s.faults))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		simctl.WriteError(w, http.StatusNotFound, "jira: no control endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// RequestState is one request as GET /_sim/jira/requests lists it.
type RequestState struct {
	Key               string `json:"key"`
	ID                string `json:"id"`
	Summary           string `json:"summary"`
	Description       string `json:"description"`
	Status            string `json:"status"`
	StatusCategory    string `json:"status_category"`
	RequestTypeID     string `json:"request_type_id"`
	ReporterAccountID string `json:"reporter_account_id"`
	// Labels are the request's labels.
	Labels []string `json:"labels"`
	// ParticipantAccountIDs are the request participants.
	ParticipantAccountIDs []string          `json:"participant_account_ids"`
	Comments              []CommentState    `json:"comments"`
	Attachments           []AttachmentState `json:"attachments"`
	// Feedback is the request's satisfaction feedback, if any.
	Feedback *FeedbackState `json:"feedback,omitempty"`
	// Properties are the entity properties the bridge sets
	// (chatbridge.*), by key.
	Properties map[string]json.RawMessage `json:"properties,omitempty"`
}

// FeedbackState is a request's satisfaction feedback.
type FeedbackState struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment,omitempty"`
}

// CommentState is a comment of a RequestState.
type CommentState struct {
	ID              string `json:"id"`
	Body            string `json:"body"`
	Public          bool   `json:"public"`
	AuthorAccountID string `json:"author_account_id"`
}

// AttachmentState is an attachment of a RequestState.
type AttachmentState struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	MimeType string `json:"mime_type"`
}

func (s *Sim) controlRequests(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := []RequestState{}
	for _, r := range s.requests {
		st := RequestState{Key: r.key, ID: r.id, Summary: r.summary, Description: r.description, Status: r.status.Name,
			StatusCategory: r.status.Category, RequestTypeID: r.requestTypeID, ReporterAccountID: r.reporter.ID,
			Comments: []CommentState{}, Attachments: []AttachmentState{}, ParticipantAccountIDs: []string{},
			Labels: append([]string{}, r.labels...)}
		if r.feedback != nil {
			st.Feedback = &FeedbackState{Rating: r.feedback.rating, Comment: r.feedback.comment}
		}
		for k, v := range r.properties {
			if strings.HasPrefix(k, "chatbridge.") {
				if st.Properties == nil {
					st.Properties = map[string]json.RawMessage{}
				}
				st.Properties[k] = v
			}
		}
		for _, p := range r.participants {
			st.ParticipantAccountIDs = append(st.ParticipantAccountIDs, p.ID)
		}
		for _, c := range r.comments {
			st.Comments = append(st.Comments, CommentState{ID: c.id, Body: c.wiki, Public: c.public, AuthorAccountID: c.author.ID})
		}
		for _, a := range r.attachments {
			st.Attachments = append(st.Attachments, AttachmentState{ID: a.id, Filename: a.filename, Size: a.size, MimeType: a.mime})
		}
		out = append(out, st)
	}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}

// controlAnswer is the answer of the control calls that fire webhooks.
type controlAnswer struct {
	ID        string          `json:"id,omitempty"`
	CommentID string          `json:"comment_id,omitempty"`
	From      string          `json:"from,omitempty"`
	To        string          `json:"to,omitempty"`
	Webhooks  []WebhookResult `json:"webhooks"`
}

// controlRequest finds the request of a control path; false after
// answering 404. s.mu is held.
func (s *Sim) controlRequest(w http.ResponseWriter, r *http.Request) (*request, bool) {
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		simctl.WriteError(w, http.StatusNotFound, "jira: no request "+r.PathValue("key"))
		return nil, false
	}
	return req, true
}

func (s *Sim) controlComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body          string `json:"body"`
		Public        bool   `json:"public"`
		ADF           bool   `json:"adf"`
		InternalShape string `json:"internal_shape"`
		// Bare leaves jsdPublic out of the webhooks, as Jira does in some
		// deliveries: only the sd.public.comment property tells.
		Bare bool `json:"bare"`
		// Author is the account id of the request's reporter or of a
		// participant, a customer commenting from the portal; empty: the
		// agent.
		Author string `json:"author"`
	}
	if err := simctl.DecodeJSON(r.Body, &body); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "jira: "+err.Error())
		return
	}
	switch {
	case strings.TrimSpace(body.Body) == "":
		simctl.WriteError(w, http.StatusBadRequest, "jira: body is required")
		return
	case body.InternalShape != "" && body.InternalShape != "visibility" && body.InternalShape != "property":
		simctl.WriteError(w, http.StatusBadRequest, `jira: internal_shape is "visibility" or "property"`)
		return
	case body.InternalShape != "" && body.Public:
		simctl.WriteError(w, http.StatusBadRequest, "jira: internal_shape is for internal comments (public: false)")
		return
	case body.Bare && body.InternalShape != "":
		simctl.WriteError(w, http.StatusBadRequest, `jira: bare is internal_shape "property" for any comment; give one of them`)
		return
	}
	if body.Bare {
		body.InternalShape = "property"
	}
	s.mu.Lock()
	req, ok := s.controlRequest(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	author := s.agent
	if body.Author != "" {
		var ok bool
		if author, ok = req.customer(body.Author); !ok {
			s.mu.Unlock()
			simctl.WriteError(w, http.StatusBadRequest, "jira: author "+body.Author+" is neither a customer reporter nor a participant of "+req.key)
			return
		}
		if !body.Public {
			s.mu.Unlock()
			simctl.WriteError(w, http.StatusBadRequest, "jira: a customer's comments are public")
			return
		}
	}
	c := s.addCommentLocked(req, author, body.Body, nil, body.Public)
	c.fireADF = body.ADF
	c.shape = body.InternalShape
	if c.shape == "visibility" {
		c.visibility = &visibility{Type: "role", Value: "Service Desk Team", Identifier: "Service Desk Team"}
	}
	evs := withRule(s.commentEventsLocked(req, c, author, nil), s.commentRuleLocked(req, c))
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, controlAnswer{ID: c.id, Webhooks: s.deliver(evs)})
}

func (s *Sim) controlEditComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body string `json:"body"`
	}
	if err := simctl.DecodeJSON(r.Body, &body); err != nil || strings.TrimSpace(body.Body) == "" {
		simctl.WriteError(w, http.StatusBadRequest, "jira: a non-empty body is required")
		return
	}
	s.mu.Lock()
	req, ok := s.controlRequest(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	c := req.findComment(r.PathValue("id"))
	if c == nil {
		s.mu.Unlock()
		simctl.WriteError(w, http.StatusNotFound, "jira: no comment "+r.PathValue("id"))
		return
	}
	c.wiki = body.Body
	c.adf, _ = json.Marshal(wikiToADF(body.Body))
	// An edit is later than what it edits, even within the clock's
	// millisecond (Jira's timestamps have milliseconds).
	c.updated = s.now()
	if earliest := c.created.Add(time.Millisecond); c.updated.Before(earliest) {
		c.updated = earliest
	}
	ev := s.commentUpdatedLocked(req, c)
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, controlAnswer{ID: c.id, Webhooks: s.deliver([]*event{ev})})
}

func (s *Sim) controlTransition(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := simctl.DecodeJSON(r.Body, &body); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "jira: "+err.Error())
		return
	}
	to := findStatus(body.Status)
	if to == nil {
		var names []string
		for _, st := range statuses {
			names = append(names, st.Name)
		}
		simctl.WriteError(w, http.StatusBadRequest, fmt.Sprintf("jira: unknown status %q (known: %s)", body.Status, strings.Join(names, ", ")))
		return
	}
	s.mu.Lock()
	req, ok := s.controlRequest(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	from := req.status.Name
	if req.status == to {
		s.mu.Unlock()
		simctl.WriteError(w, http.StatusConflict, "jira: "+req.key+" is already "+to.Name)
		return
	}
	ev := s.transitionLocked(req, to, s.agent)
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, controlAnswer{From: from, To: to.Name, Webhooks: s.deliver([]*event{ev})})
}

func (s *Sim) controlAttachment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filename string `json:"filename"`
		Size     int64  `json:"size"`
		Public   bool   `json:"public"`
		MimeType string `json:"mime_type"`
		Comment  string `json:"comment"`
		// Content is the file itself (base64 in JSON), for a test whose
		// messenger looks at it (a voice note, a photo); else the bytes
		// are generated.
		Content []byte `json:"content"`
	}
	if err := simctl.DecodeJSON(r.Body, &body); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "jira: "+err.Error())
		return
	}
	if body.Content != nil {
		body.Size = int64(len(body.Content))
	}
	if body.Filename == "" || body.Size <= 0 || body.Size > 2<<30 {
		simctl.WriteError(w, http.StatusBadRequest, "jira: filename and a size of 1 byte to 2 GB are required")
		return
	}
	if body.MimeType == "" {
		body.MimeType = contentType(body.Filename, "")
	}
	s.mu.Lock()
	req, ok := s.controlRequest(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	a := s.addAttachmentLocked(req, s.agent, body.Filename, body.MimeType, body.Size, body.Content)
	c := s.addCommentLocked(req, s.agent, attachmentComment(body.Comment, []*attachment{a}), nil, body.Public)
	evs := withRule(s.commentEventsLocked(req, c, s.agent, attachmentChangelog([]*attachment{a})), s.commentRuleLocked(req, c))
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, controlAnswer{ID: a.id, CommentID: c.id, Webhooks: s.deliver(evs)})
}

func (s *Sim) controlGetWebhook(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, h)
}

func (s *Sim) controlPutWebhook(w http.ResponseWriter, r *http.Request) {
	var h hookConfig
	if err := simctl.DecodeJSON(r.Body, &h); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "jira: "+err.Error())
		return
	}
	if h.URL != "" && !strings.HasPrefix(h.URL, "https://") && !strings.HasPrefix(h.URL, "http://") {
		simctl.WriteError(w, http.StatusBadRequest, "jira: url must be http(s) or empty")
		return
	}
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, h)
}

func (s *Sim) controlDeliveries(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]Delivery{}, s.deliveries...)
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}

func (s *Sim) controlRedeliver(w http.ResponseWriter, r *http.Request) {
	res, ok := s.redeliver(r.PathValue("identifier"))
	if !ok {
		simctl.WriteError(w, http.StatusNotFound, "jira: no delivered event "+r.PathValue("identifier"))
		return
	}
	simctl.WriteJSON(w, http.StatusOK, controlAnswer{Webhooks: []WebhookResult{res}})
}

func (s *Sim) controlStats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	calls := make(map[string]int64, len(s.requestsByCall))
	for k, v := range s.requestsByCall {
		calls[k] = v
	}
	out := map[string]any{"requests": calls, "early_retries": s.earlyRetries}
	s.mu.Unlock()
	simctl.WriteJSON(w, http.StatusOK, out)
}
