package jira

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (s *Sim) myself(w http.ResponseWriter, r *http.Request) {
	u := s.userJSON(s.app)
	u["locale"] = "en_US"
	u["groups"] = map[string]any{"size": 1, "items": []any{}}
	writeJSON(w, http.StatusOK, u)
}

// issueNotFound is the platform API's answer for an unknown issue.
func issueNotFound(w http.ResponseWriter) {
	writeErrors(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
}

// wantFields reads ?fields=: nil for all; "*all" and "*navigable" mean all,
// "-name" excludes.
func wantFields(q string) map[string]bool {
	if q == "" {
		return nil
	}
	want := map[string]bool{}
	all := false
	var minus []string
	for _, f := range strings.Split(q, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "*all" || f == "*navigable":
			all = true
		case strings.HasPrefix(f, "-"):
			minus = append(minus, f[1:])
		case f != "":
			want[f] = true
		}
	}
	if all {
		for _, f := range []string{"summary", "status", "project", "issuetype", "reporter", "creator", "created", "updated", "resolution", "attachment", "description"} {
			want[f] = true
		}
	}
	for _, f := range minus {
		delete(want, f)
	}
	return want
}

func (s *Sim) getIssue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	v3 := strings.HasPrefix(r.URL.Path, "/rest/api/3/")
	out := s.issueJSON(req, wantFields(r.URL.Query().Get("fields")), v3)
	out["expand"] = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
	writeJSON(w, http.StatusOK, out)
}

// commentRequest is POST /rest/api/{2,3}/issue/{key}/comment.
type commentRequest struct {
	Body       json.RawMessage `json:"body"`
	Visibility *visibility     `json:"visibility"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

func (s *Sim) addIssueComment(w http.ResponseWriter, r *http.Request) {
	var body commentRequest
	if !decodeBody(w, r, &body, false) {
		return
	}
	var doc *adfNode
	if strings.HasPrefix(r.URL.Path, "/rest/api/2/") {
		// REST v2 takes the body as a wiki-markup string.
		var wiki string
		if json.Unmarshal(body.Body, &wiki) != nil {
			writeErrors(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body must be a string."})
			return
		}
		doc = wikiToADF(wiki)
	} else {
		var ok bool
		if doc, ok = parseADF(body.Body); !ok {
			writeErrors(w, http.StatusBadRequest, nil, map[string]string{"comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
			return
		}
	}
	if len(doc.Content) == 0 {
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	}
	if body.Visibility != nil && (body.Visibility.Type != "role" && body.Visibility.Type != "group" || body.Visibility.Value == "" && body.Visibility.Identifier == "") {
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"commentLevel": "You are currently not a member of the project role or group specified."})
		return
	}
	internal := body.Visibility != nil
	props := map[string]json.RawMessage{}
	for _, p := range body.Properties {
		if p.Key == "" {
			writeErrors(w, http.StatusBadRequest, []string{"The property key can not be empty."}, nil)
			return
		}
		props[p.Key] = p.Value
		if p.Key == "sd.public.comment" {
			var v struct {
				Internal bool `json:"internal"`
			}
			json.Unmarshal(p.Value, &v)
			internal = internal || v.Internal
		}
	}
	s.mu.Lock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		s.mu.Unlock()
		issueNotFound(w)
		return
	}
	c := s.addCommentLocked(req, s.app, "", doc, !internal)
	c.visibility = body.Visibility
	for k, v := range props {
		c.properties[k] = v
	}
	var answerBody any = json.RawMessage(c.adf)
	if strings.HasPrefix(r.URL.Path, "/rest/api/2/") {
		answerBody = c.wiki
	}
	out := s.commentJSON(req, c, answerBody)
	evs := withRule(s.commentEventsLocked(req, c, s.app, nil), s.commentRuleLocked(req, c))
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
	s.deliverLater(evs)
}

// lookupComment finds the issue and comment of a request path
// (/issue/{key}/comment/{id}); false after answering 404. s.mu is held.
func (s *Sim) lookupComment(w http.ResponseWriter, r *http.Request) (*request, *comment, bool) {
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return nil, nil, false
	}
	c := req.findComment(r.PathValue("id"))
	if c == nil {
		commentNotFound(w, r.PathValue("id"))
		return nil, nil, false
	}
	return req, c, true
}

// commentByID finds a comment by its site-wide id, as the comment
// property paths (/comment/{commentId}/properties/...) name it; false after
// answering 404. s.mu is held.
func (s *Sim) commentByID(w http.ResponseWriter, id string) (*comment, bool) {
	if req := s.byComment[id]; req != nil {
		if c := req.findComment(id); c != nil {
			return c, true
		}
	}
	commentNotFound(w, id)
	return nil, false
}

func commentNotFound(w http.ResponseWriter, id string) {
	writeErrors(w, http.StatusNotFound, []string{"Can not find a comment for the id: " + id + "."}, nil)
}

func (s *Sim) getComment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, c, ok := s.lookupComment(w, r)
	if !ok {
		return
	}
	var body any = c.wiki
	if strings.HasPrefix(r.URL.Path, "/rest/api/3/") {
		body = json.RawMessage(c.adf)
	}
	writeJSON(w, http.StatusOK, s.commentJSON(req, c, body))
}

func (s *Sim) getCommentProperty(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commentByID(w, r.PathValue("id"))
	if !ok {
		return
	}
	v, ok := c.properties[r.PathValue("prop")]
	if !ok {
		writeErrors(w, http.StatusNotFound, []string{"The property with key '" + r.PathValue("prop") + "' does not exist."}, nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": r.PathValue("prop"), "value": v})
}

func (s *Sim) setCommentProperty(w http.ResponseWriter, r *http.Request) {
	var v json.RawMessage
	if !decodeBody(w, r, &v, false) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commentByID(w, r.PathValue("id"))
	if !ok {
		return
	}
	_, existed := c.properties[r.PathValue("prop")]
	c.properties[r.PathValue("prop")] = v
	if r.PathValue("prop") == "sd.public.comment" {
		var p struct {
			Internal bool `json:"internal"`
		}
		json.Unmarshal(v, &p)
		c.public = !p.Internal
	}
	if existed {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

// transitionID is the id of the (global) transition into a status: 11, 21,
// 31... as Jira numbers a workflow's transitions, one per status.
func transitionID(st *status) string {
	return strconv.Itoa((slices.Index(statuses, st)+1)*10 + 1)
}

func (s *Sim) listTransitions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	list := []any{}
	for _, st := range statuses {
		if st == req.status {
			continue
		}
		list = append(list, map[string]any{"id": transitionID(st), "name": st.Name, "to": s.statusJSON(st),
			"hasScreen": false, "isGlobal": true, "isInitial": false, "isAvailable": true, "isConditional": false})
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": list})
}

func (s *Sim) doTransition(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	s.mu.Lock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		s.mu.Unlock()
		issueNotFound(w)
		return
	}
	var to *status
	for _, st := range statuses {
		if transitionID(st) == body.Transition.ID && st != req.status {
			to = st
		}
	}
	if to == nil {
		s.mu.Unlock()
		writeErrors(w, http.StatusBadRequest, []string{"Transition id '" + body.Transition.ID + "' is not valid for this issue."}, nil)
		return
	}
	ev := s.transitionLocked(req, to, s.app)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	s.deliverLater([]*event{ev})
}

// transitionLocked moves a request to a status and returns the
// jira:issue_updated event; s.mu is held.
func (s *Sim) transitionLocked(req *request, to *status, actor account) *event {
	from := req.status
	now := s.now()
	req.status, req.statusDate, req.updated = to, now, now
	items := []map[string]any{{"field": "status", "fieldtype": "jira", "fieldId": "status",
		"from": from.ID, "fromString": from.Name, "to": to.ID, "toString": to.Name}}
	oldRes := req.resolution
	if to.Category == "done" && req.resolution == "" {
		req.resolution = "Done"
		if to.Name == "Canceled" || to.Name == "Declined" {
			req.resolution = "Won't Do"
		}
	} else if to.Category != "done" {
		req.resolution = ""
	}
	if oldRes != req.resolution {
		item := map[string]any{"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
			"from": nil, "fromString": nil, "to": nil, "toString": nil}
		if oldRes != "" {
			item["from"], item["fromString"] = "10000", oldRes
		}
		if req.resolution != "" {
			item["to"], item["toString"] = "10000", req.resolution
		}
		items = append(items, item)
	}
	return s.newEventLocked("jira:issue_updated", map[string]any{
		"issue_event_type_name": "issue_generic",
		"user":                  s.userJSON(actor),
		"issue":                 s.issueJSON(req, nil, false),
		"changelog":             map[string]any{"id": s.newIDLocked(), "items": items},
	})
}

func (s *Sim) getAttachmentMeta(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attachments[r.PathValue("id")]
	if a == nil {
		writeErrors(w, http.StatusNotFound, []string{"The attachment with id '" + r.PathValue("id") + "' does not exist."}, nil)
		return
	}
	writeJSON(w, http.StatusOK, s.attachmentJSON(a))
}

// getAttachmentContent answers as Jira: a 303 to where the bytes are, or
// the bytes themselves with ?redirect=false.
func (s *Sim) getAttachmentContent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.attachments[r.PathValue("id")]
	s.mu.Unlock()
	if a == nil {
		writeErrors(w, http.StatusNotFound, []string{"The attachment with id '" + r.PathValue("id") + "' does not exist."}, nil)
		return
	}
	if r.URL.Query().Get("redirect") == "false" {
		s.writeAttachment(w, r, a)
		return
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	w.Header().Set("Location", scheme+"://"+r.Host+"/secure/attachment/"+a.id+"/"+url.PathEscape(a.filename))
	w.WriteHeader(http.StatusSeeOther)
}

func (s *Sim) serveAttachment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.attachments[r.PathValue("id")]
	s.mu.Unlock()
	if a == nil {
		writeErrors(w, http.StatusNotFound, []string{"The attachment with id '" + r.PathValue("id") + "' does not exist."}, nil)
		return
	}
	s.writeAttachment(w, r, a)
}

func (s *Sim) writeAttachment(w http.ResponseWriter, r *http.Request, a *attachment) {
	w.Header().Set("Content-Type", a.mime)
	w.Header().Set("Content-Length", strconv.FormatInt(a.size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(a.filename, `"`, "")+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		writeContent(w, a)
	}
}

// writeContent writes an attachment's bytes: stored, or generated (for the
// control API's agent attachments, which have only a size).
func writeContent(w io.Writer, a *attachment) {
	if a.data != nil {
		w.Write(a.data)
		return
	}
	rng := rand.New(rand.NewPCG(uint64(len(a.id)), uint64(a.size)))
	buf := make([]byte, 32<<10)
	for left := a.size; left > 0; {
		n := min(left, int64(len(buf)))
		for i := 0; i < int(n); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		left -= n
	}
}
