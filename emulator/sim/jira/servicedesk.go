package jira

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// createRequestBody is POST /rest/servicedeskapi/request.
type createRequestBody struct {
	ServiceDeskID       string         `json:"serviceDeskId"`
	RequestTypeID       string         `json:"requestTypeId"`
	RequestFieldValues  map[string]any `json:"requestFieldValues"`
	RaiseOnBehalfOf     string         `json:"raiseOnBehalfOf"`
	RequestParticipants []string       `json:"requestParticipants"`
	Channel             string         `json:"channel"`
}

func (s *Sim) createRequest(w http.ResponseWriter, r *http.Request) {
	var body createRequestBody
	if !decodeBody(w, r, &body, true) {
		return
	}
	switch {
	case body.ServiceDeskID == "":
		writeSDError(w, http.StatusBadRequest, "sd.request.create.error.servicedesk.id.required", "The serviceDeskId field is required.")
		return
	case body.ServiceDeskID != s.cfg.ServiceDeskID:
		writeSDError(w, http.StatusNotFound, "sd.servicedesk.error.not.found", "The service project with ID %s does not exist or you do not have permission to access it.", body.ServiceDeskID)
		return
	case body.RequestTypeID == "":
		writeSDError(w, http.StatusBadRequest, "sd.request.create.error.requesttype.id.required", "The requestTypeId field is required.")
		return
	case !slices.ContainsFunc(s.cfg.RequestTypes, func(rt RequestType) bool { return rt.ID == body.RequestTypeID }):
		writeSDError(w, http.StatusBadRequest, "sd.request.create.error.requesttype.not.found", "The request type you are trying to use does not exist or you do not have permission to use it.")
		return
	}
	rt := s.cfg.RequestTypes[slices.IndexFunc(s.cfg.RequestTypes, func(rt RequestType) bool { return rt.ID == body.RequestTypeID })]
	var summary, description string
	var labels []string
	for field, v := range body.RequestFieldValues {
		str, ok := v.(string)
		switch field {
		case "summary":
			if !ok {
				writeSDFieldError(w, "summary", "Summary must be a string.")
				return
			}
			summary = str
		case "description":
			if !ok {
				writeSDFieldError(w, "description", "Description must be a string.")
				return
			}
			description = str
		case "labels":
			if rt.WithoutLabels {
				writeSDFieldError(w, field, "Field '"+field+"' cannot be set. It is not on the appropriate screen, or unknown.")
				return
			}
			var msg string
			if labels, msg = labelValues(v); msg != "" {
				writeSDFieldError(w, field, msg)
				return
			}
		default:
			writeSDFieldError(w, field, "Field '"+field+"' cannot be set. It is not on the appropriate screen, or unknown.")
			return
		}
	}
	if strings.TrimSpace(summary) == "" {
		writeSDFieldError(w, "summary", "You must specify a summary of the issue.")
		return
	}
	if utf8.RuneCountInString(summary) > 255 || strings.ContainsAny(summary, "\r\n") {
		writeSDFieldError(w, "summary", "Summary must be less than 255 characters and on one line.")
		return
	}
	s.mu.Lock()
	reporter := s.app
	if body.RaiseOnBehalfOf != "" {
		reporter = s.customerLocked(body.RaiseOnBehalfOf)
		s.deskCustomers[reporter.ID] = true
	}
	var participants []account
	for _, id := range body.RequestParticipants {
		participants = addParticipant(participants, s.customerLocked(id))
	}
	now := s.now()
	s.nextIssue++
	req := &request{
		id: s.newIDLocked(), key: s.cfg.ProjectKey + "-" + itoa(s.nextIssue),
		summary: summary, description: description, requestTypeID: body.RequestTypeID, labels: labels,
		reporter: reporter, creator: s.app, status: statuses[0], statusDate: now, created: now, updated: now,
		properties: map[string]json.RawMessage{}, participants: participants,
	}
	s.requests = append(s.requests, req)
	s.byKey[req.key], s.byID[req.id] = req, req
	s.notifyCreatedLocked(req) // customers.go
	out := s.requestJSON(req)
	ev := s.newEventLocked("jira:issue_created", map[string]any{
		"issue_event_type_name": "issue_created",
		"user":                  s.userJSON(s.app),
		"issue":                 s.issueJSON(req, nil, false),
	})
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
	s.deliverLater([]*event{ev})
}

// labelValues reads the labels field of a new request: an array of labels,
// each at most 255 characters and without spaces, as Jira's labels field
// takes them; a label given twice is kept once.
func labelValues(v any) ([]string, string) {
	list, ok := v.([]any)
	if !ok {
		return nil, "Labels must be an array of strings."
	}
	var out []string
	for _, x := range list {
		l, ok := x.(string)
		switch {
		case !ok:
			return nil, "Labels must be an array of strings."
		case l == "":
			return nil, "A label cannot be empty."
		case strings.ContainsAny(l, " \t\r\n"):
			return nil, "The label '" + l + "' contains spaces which is invalid."
		case utf8.RuneCountInString(l) > 255:
			return nil, "The label '" + l + "' exceeds the 255 character limit."
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, ""
}

// writeSDFieldError is a request validation error of the service desk API.
func writeSDFieldError(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"errorMessage":     msg,
		"i18nErrorMessage": map[string]any{"i18nKey": "sd.request.create.error.field.invalid", "parameters": []string{field}},
		"errors":           []map[string]string{{"fieldId": field, "errorMessage": msg}},
	})
}

// customerLocked finds a customer by account id or email, creating one
// for an email it has not seen (JSM creates portal-only accounts); s.mu is
// held.
func (s *Sim) customerLocked(idOrEmail string) account {
	if a, ok := s.customers[idOrEmail]; ok {
		return a
	}
	for _, a := range s.customers {
		if strings.EqualFold(a.Email, idOrEmail) {
			return a
		}
	}
	a := account{ID: idOrEmail, Name: idOrEmail, Type: "customer"}
	if strings.Contains(idOrEmail, "@") {
		a = account{ID: "qm:" + randomHex(8) + ":" + randomHex(16), Name: idOrEmail, Email: idOrEmail, Type: "customer"}
	}
	s.customers[a.ID] = a
	return a
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Sim) getRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.requestJSON(req))
}

func (s *Sim) addRequestComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body   *string `json:"body"`
		Public *bool   `json:"public"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	if body.Body == nil || strings.TrimSpace(*body.Body) == "" {
		writeSDError(w, http.StatusBadRequest, "sd.comment.error.body.required", "The comment body is required.")
		return
	}
	public := body.Public == nil || *body.Public
	s.mu.Lock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		s.mu.Unlock()
		writeSDError(w, http.StatusNotFound, "sd.request.error.not.found", "The request %s does not exist or you do not have permission to see it.", r.PathValue("key"))
		return
	}
	c := s.addCommentLocked(req, s.app, *body.Body, nil, public)
	out := s.sdCommentJSON(req, c)
	evs := withRule(s.commentEventsLocked(req, c, s.app, nil), s.commentRuleLocked(req, c))
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
	s.deliverLater(evs)
}

// addCommentLocked adds a comment from wiki text (or ADF, when adf is
// set); s.mu is held.
func (s *Sim) addCommentLocked(req *request, author account, wiki string, adf *adfNode, public bool) *comment {
	now := s.now()
	if adf == nil {
		adf = wikiToADF(wiki)
	} else {
		wiki = adfToWiki(adf)
	}
	raw, _ := json.Marshal(adf)
	internal := "true"
	if public {
		internal = "false"
	}
	c := &comment{id: s.newIDLocked(), wiki: wiki, adf: raw, public: public, author: author, created: now, updated: now,
		properties: map[string]json.RawMessage{"sd.public.comment": json.RawMessage(`{"internal":` + internal + `}`)}}
	req.comments = append(req.comments, c)
	s.byComment[c.id] = req
	req.updated = now
	if public {
		s.notifyCommentLocked(req, c) // customers.go
	}
	return c
}

func (s *Sim) listRequestComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	values := []any{}
	for _, c := range req.comments {
		if r.URL.Query().Get("public") == "false" && c.public || r.URL.Query().Get("internal") == "false" && !c.public {
			continue
		}
		values = append(values, s.sdCommentJSON(req, c))
	}
	writeJSON(w, http.StatusOK, s.page(values, r.URL.Path))
}

// page wraps values in the service desk API's paged list.
func (s *Sim) page(values []any, p string) map[string]any {
	return map[string]any{
		"_expands": []string{}, "size": len(values), "start": 0, "limit": 50, "isLastPage": true,
		"_links": map[string]any{"base": s.cfg.Site, "context": "", "self": s.cfg.Site + p},
		"values": values,
	}
}

func (s *Sim) listServiceDesks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.page([]any{map[string]any{
		"id": s.cfg.ServiceDeskID, "projectId": "10000", "projectName": s.cfg.ProjectName, "projectKey": s.cfg.ProjectKey,
		"_links": map[string]any{"self": s.cfg.Site + "/rest/servicedeskapi/servicedesk/" + s.cfg.ServiceDeskID},
	}}, r.URL.Path))
}

func (s *Sim) listRequestTypes(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != s.cfg.ServiceDeskID {
		writeSDError(w, http.StatusNotFound, "sd.servicedesk.error.not.found", "The service project with ID %s does not exist or you do not have permission to access it.", r.PathValue("id"))
		return
	}
	values := []any{}
	for _, rt := range s.cfg.RequestTypes {
		values = append(values, map[string]any{
			"id": rt.ID, "name": rt.Name, "description": "", "helpText": "", "issueTypeId": "10010",
			"serviceDeskId": s.cfg.ServiceDeskID, "groupIds": []string{},
			"_links": map[string]any{"self": s.cfg.Site + "/rest/servicedeskapi/servicedesk/" + s.cfg.ServiceDeskID + "/requesttype/" + rt.ID},
		})
	}
	writeJSON(w, http.StatusOK, s.page(values, r.URL.Path))
}

// xsrfOK is Jira's XSRF check for multipart uploads.
func xsrfOK(r *http.Request) bool {
	v := strings.ToLower(r.Header.Get("X-Atlassian-Token"))
	return v == "no-check" || v == "nocheck"
}

func (s *Sim) attachTemporaryFile(w http.ResponseWriter, r *http.Request) {
	if !xsrfOK(r) {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "XSRF check failed")
		return
	}
	if !strings.EqualFold(r.Header.Get("X-ExperimentalApi"), "opt-in") {
		writeSDError(w, http.StatusBadRequest, "sd.rest.experimental.api.opt.in.required",
			"This API is experimental. Experimental APIs are not guaranteed to be stable within the preview period. You must set the header 'X-ExperimentalApi: opt-in' to opt into using this API.")
		return
	}
	if r.PathValue("id") != s.cfg.ServiceDeskID {
		writeSDError(w, http.StatusNotFound, "sd.servicedesk.error.not.found", "The service project with ID %s does not exist or you do not have permission to access it.", r.PathValue("id"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4*s.cfg.MaxAttachmentBytes+(1<<20))
	mr, err := r.MultipartReader()
	if err != nil {
		writeSDError(w, http.StatusUnsupportedMediaType, "sd.attachment.error.multipart", "The request must be multipart/form-data with a part named 'file'.")
		return
	}
	var files []*temporary
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeSDError(w, http.StatusBadRequest, "sd.attachment.error.multipart", "Unable to read the multipart request.")
			return
		}
		if part.FormName() != "file" || part.FileName() == "" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, s.cfg.MaxAttachmentBytes+1))
		if err != nil {
			writeSDError(w, http.StatusBadRequest, "sd.attachment.error.multipart", "Unable to read the multipart request.")
			return
		}
		if int64(len(data)) > s.cfg.MaxAttachmentBytes {
			writeSDError(w, http.StatusRequestEntityTooLarge, "sd.attachment.error.too.large", "The file %s is too large to attach.", part.FileName())
			return
		}
		files = append(files, &temporary{filename: part.FileName(), mime: contentType(part.FileName(), part.Header.Get("Content-Type")), data: data})
	}
	if len(files) == 0 {
		writeSDError(w, http.StatusBadRequest, "sd.attachment.error.no.file", "No files were found in the request: send them as multipart parts named 'file'.")
		return
	}
	s.mu.Lock()
	out := []any{}
	for _, f := range files {
		f.id = "temp" + s.newIDLocked() + randomHex(12)
		s.temps[f.id] = f
		out = append(out, map[string]string{"temporaryAttachmentId": f.id, "fileName": f.filename})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"temporaryAttachments": out})
}

// contentType is the type Jira records for an upload.
func contentType(name, header string) string {
	if t, _, err := mime.ParseMediaType(header); err == nil && t != "" && t != "application/octet-stream" {
		return t
	}
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	return "application/octet-stream"
}

func (s *Sim) attachToRequest(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TemporaryAttachmentIDs []string `json:"temporaryAttachmentIds"`
		Public                 *bool    `json:"public"`
		AdditionalComment      *struct {
			Body string `json:"body"`
		} `json:"additionalComment"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	if len(body.TemporaryAttachmentIDs) == 0 {
		writeSDError(w, http.StatusBadRequest, "sd.attachment.error.no.temporary", "The temporaryAttachmentIds field is required.")
		return
	}
	public := body.Public == nil || *body.Public
	s.mu.Lock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		s.mu.Unlock()
		writeSDError(w, http.StatusNotFound, "sd.request.error.not.found", "The request %s does not exist or you do not have permission to see it.", r.PathValue("key"))
		return
	}
	for _, id := range body.TemporaryAttachmentIDs {
		if s.temps[id] == nil {
			s.mu.Unlock()
			writeSDError(w, http.StatusBadRequest, "sd.attachment.error.temporary.not.found", "The temporary attachment %s does not exist or has expired.", id)
			return
		}
	}
	var added []*attachment
	for _, id := range body.TemporaryAttachmentIDs {
		t := s.temps[id]
		delete(s.temps, id)
		added = append(added, s.addAttachmentLocked(req, s.app, t.filename, t.mime, int64(len(t.data)), t.data))
	}
	text := ""
	if body.AdditionalComment != nil {
		text = body.AdditionalComment.Body
	}
	c := s.addCommentLocked(req, s.app, attachmentComment(text, added), nil, public)
	values := []any{}
	for _, a := range added {
		values = append(values, map[string]any{
			"_expands": []string{"attachment"}, "filename": a.filename, "author": s.sdUserJSON(a.author),
			"created": sdDate(a.created), "size": a.size, "mimeType": a.mime,
			"_links": map[string]any{
				"self":     s.cfg.Site + "/rest/servicedeskapi/request/" + req.id + "/attachment/" + a.id,
				"jiraRest": s.cfg.Site + "/rest/api/2/attachment/" + a.id,
				"content":  s.cfg.Site + "/rest/api/3/attachment/content/" + a.id,
			},
		})
	}
	out := map[string]any{"comment": s.sdCommentJSON(req, c), "attachments": s.page(values, r.URL.Path)}
	evs := withRule(s.commentEventsLocked(req, c, s.app, attachmentChangelog(added)), s.commentRuleLocked(req, c))
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
	s.deliverLater(evs)
}

// addAttachmentLocked attaches a file to a request; s.mu is held.
func (s *Sim) addAttachmentLocked(req *request, author account, name, mimeType string, size int64, data []byte) *attachment {
	a := &attachment{id: s.newIDLocked(), filename: name, mime: mimeType, size: size, data: data, author: author, created: s.now()}
	req.attachments = append(req.attachments, a)
	s.attachments[a.id] = a
	req.updated = a.created
	return a
}

// attachmentComment is the body of the comment JSM adds with attachments:
// the text, then a wiki reference to each file.
func attachmentComment(text string, added []*attachment) string {
	var refs []string
	for _, a := range added {
		refs = append(refs, "[^"+a.filename+"]")
	}
	if strings.TrimSpace(text) == "" {
		return strings.Join(refs, "\n")
	}
	return text + "\n\n" + strings.Join(refs, "\n")
}

// attachmentChangelog is the changelog of added attachments.
func attachmentChangelog(added []*attachment) []map[string]any {
	var items []map[string]any
	for _, a := range added {
		items = append(items, map[string]any{"field": "Attachment", "fieldtype": "jira", "fieldId": "attachment",
			"from": nil, "fromString": nil, "to": a.id, "toString": a.filename})
	}
	return items
}

// addParticipant adds an account to a participant list once.
func addParticipant(list []account, a account) []account {
	for _, p := range list {
		if p.ID == a.ID {
			return list
		}
	}
	return append(list, a)
}

func (s *Sim) participantsPage(req *request, p string) map[string]any {
	values := []any{}
	for _, a := range req.participants {
		values = append(values, s.sdUserJSON(a))
	}
	return s.page(values, p)
}

func (s *Sim) listParticipants(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.participantsPage(req, r.URL.Path))
}

// addParticipants is POST .../participant {"accountIds": [...]}: customers
// who may see and comment on the request; JSM answers with the whole list.
func (s *Sim) addParticipants(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccountIDs []string `json:"accountIds"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	if len(body.AccountIDs) == 0 {
		writeSDError(w, http.StatusBadRequest, "sd.request.participant.error.empty", "The accountIds field is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sdRequestLocked(w, r)
	if req == nil {
		return
	}
	for _, id := range body.AccountIDs {
		req.participants = addParticipant(req.participants, s.customerLocked(id))
	}
	writeJSON(w, http.StatusOK, s.participantsPage(req, r.URL.Path))
}

// sdRequestLocked is the request the path's {key} names, or nil after
// answering JSM's 404 for it; s.mu is held.
func (s *Sim) sdRequestLocked(w http.ResponseWriter, r *http.Request) *request {
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		writeSDError(w, http.StatusNotFound, "sd.request.error.not.found", "The request %s does not exist or you do not have permission to see it.", r.PathValue("key"))
	}
	return req
}
