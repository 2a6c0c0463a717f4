package jira

import (
	"net/http"
)

// Request feedback (customer satisfaction), as JSM's REST API defines it:
// GET, POST and DELETE /rest/servicedeskapi/request/{requestIdOrKey}/feedback
// with a CSATFeedbackFullDTO {type: "csat", rating: 1..5, comment: {body}}.
// Where the API reference is silent the simulator decides (RATIONALE.md,
// "Request feedback"): a request without feedback answers GET with 404; a
// second POST replaces the first, as the customer portal lets a customer
// change a rating. Only the reporter or an app may give feedback (the API
// reference); every call the simulator serves is the app's.

// feedback is a request's satisfaction feedback.
type feedback struct {
	rating  int
	comment string
}

// feedbackDTO is the CSATFeedbackFullDTO.
type feedbackDTO struct {
	Type    string `json:"type,omitempty"`
	Rating  *int   `json:"rating"`
	Comment *struct {
		Body string `json:"body"`
	} `json:"comment,omitempty"`
}

func (f *feedback) dto() map[string]any {
	out := map[string]any{"type": "csat", "rating": f.rating}
	if f.comment != "" {
		out["comment"] = map[string]any{"body": f.comment}
	}
	return out
}

func (s *Sim) getFeedback(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	if req.feedback == nil {
		writeSDError(w, http.StatusNotFound, "sd.request.feedback.error.not.found", "No feedback found for the request %s.", r.PathValue("key"))
		return
	}
	writeJSON(w, http.StatusOK, req.feedback.dto())
}

func (s *Sim) postFeedback(w http.ResponseWriter, r *http.Request) {
	var body feedbackDTO
	if !decodeBody(w, r, &body, true) {
		return
	}
	switch {
	case body.Type != "" && body.Type != "csat":
		writeSDError(w, http.StatusBadRequest, "sd.request.feedback.error.type", "The feedback type %s is not supported; supported values: csat.", body.Type)
		return
	case body.Rating == nil || *body.Rating < 1 || *body.Rating > 5:
		writeSDError(w, http.StatusBadRequest, "sd.request.feedback.error.rating", "The rating must be an integer value between 1 and 5.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	f := &feedback{rating: *body.Rating}
	if body.Comment != nil {
		f.comment = body.Comment.Body
	}
	req.feedback = f
	req.updated = s.now()
	writeJSON(w, http.StatusOK, f.dto())
}

func (s *Sim) deleteFeedback(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	req.feedback = nil
	w.WriteHeader(http.StatusNoContent)
}
