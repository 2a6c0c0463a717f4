package jira

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// request is a JSM request (a Jira issue of the service project).
type request struct {
	id, key       string
	summary       string
	description   string // wiki markup
	requestTypeID string
	labels        []string
	reporter      account
	creator       account   // who called create: the app
	participants  []account // request participants: customers, like the reporter
	status        *status
	statusDate    time.Time
	resolution    string
	created       time.Time
	updated       time.Time
	comments      []*comment
	attachments   []*attachment
	properties    map[string]json.RawMessage // issue entity properties
	feedback      *feedback                  // its satisfaction feedback (feedback.go)
}

// comment is a comment of a request.
type comment struct {
	id      string
	wiki    string          // the body as wiki markup (JSM and admin webhooks)
	adf     json.RawMessage // the body as ADF (REST v3)
	fireADF bool            // webhooks carry the ADF body (control "adf": true)
	public  bool
	// shape is how a comment shows its visibility in webhooks: ""
	// jsdPublic, "visibility" a role restriction (internal ones), "property"
	// only the sd.public.comment property (control "bare", or an internal
	// one's internal_shape).
	shape      string
	visibility *visibility
	author     account
	created    time.Time
	updated    time.Time
	properties map[string]json.RawMessage
}

// visibility is a comment's restriction.
type visibility struct {
	Type       string `json:"type"`
	Value      string `json:"value"`
	Identifier string `json:"identifier,omitempty"`
}

// attachment is a file attached to a request.
type attachment struct {
	id, filename, mime string
	size               int64
	data               []byte // nil: generated
	author             account
	created            time.Time
}

// temporary is a file uploaded by attachTemporaryFile, not yet attached.
type temporary struct {
	id, filename, mime string
	data               []byte
}

// status is a workflow status of the service project.
type status struct {
	Name     string
	ID       string
	Category string // new, indeterminate, done
}

// statuses are the statuses of the simulated JSM workflow.
var statuses = []*status{
	{"Waiting for support", "10001", "new"},
	{"Open", "1", "new"},
	{"To Do", "10000", "new"},
	{"Waiting for customer", "10002", "indeterminate"},
	{"In Progress", "3", "indeterminate"},
	{"Pending", "10003", "indeterminate"},
	{"Escalated", "10004", "indeterminate"},
	{"Work in progress", "10005", "indeterminate"},
	{"Resolved", "5", "done"},
	{"Done", "10006", "done"},
	{"Closed", "6", "done"},
	{"Canceled", "10007", "done"},
	{"Declined", "10008", "done"},
}

// findStatus finds a status by name, case-insensitively.
func findStatus(name string) *status {
	for _, st := range statuses {
		if strings.EqualFold(st.Name, name) {
			return st
		}
	}
	return nil
}

// categoryJSON is a status category as the platform API shows it.
func (s *Sim) categoryJSON(key string) map[string]any {
	id, color, name := 2, "blue-gray", "To Do"
	switch key {
	case "indeterminate":
		id, color, name = 4, "yellow", "In Progress"
	case "done":
		id, color, name = 3, "green", "Done"
	}
	return map[string]any{"self": s.cfg.Site + "/rest/api/2/statuscategory/" + itoa(id), "id": id, "key": key, "colorName": color, "name": name}
}

func (s *Sim) statusJSON(st *status) map[string]any {
	return map[string]any{
		"self": s.cfg.Site + "/rest/api/2/status/" + st.ID, "description": "", "name": st.Name, "id": st.ID,
		"iconUrl":        s.cfg.Site + "/images/icons/statuses/generic.png",
		"statusCategory": s.categoryJSON(st.Category),
	}
}

// jiraTime is the platform API's timestamp format.
func jiraTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

// sdDate is the service desk API's date object.
func sdDate(t time.Time) map[string]any {
	return map[string]any{
		"iso8601":     t.Format("2006-01-02T15:04:05-0700"),
		"jira":        jiraTime(t),
		"friendly":    t.Format("02/Jan/06 3:04 PM"),
		"epochMillis": t.UnixMilli(),
	}
}

// userJSON is an account as the platform API and webhooks show it.
func (s *Sim) userJSON(a account) map[string]any {
	u := map[string]any{
		"self":        s.cfg.Site + "/rest/api/2/user?accountId=" + a.ID,
		"accountId":   a.ID,
		"displayName": a.Name,
		"active":      true,
		"timeZone":    "Etc/UTC",
		"accountType": a.Type,
		"avatarUrls": map[string]string{
			"48x48": "https://avatar-management.example/" + a.ID + "/48", "24x24": "https://avatar-management.example/" + a.ID + "/24",
			"16x16": "https://avatar-management.example/" + a.ID + "/16", "32x32": "https://avatar-management.example/" + a.ID + "/32",
		},
	}
	if a.Email != "" {
		u["emailAddress"] = a.Email
	}
	return u
}

// sdUserJSON is an account as the service desk API shows it.
func (s *Sim) sdUserJSON(a account) map[string]any {
	u := map[string]any{
		"accountId":   a.ID,
		"displayName": a.Name,
		"active":      true,
		"timeZone":    "Etc/UTC",
		"_links": map[string]any{
			"jiraRest": s.cfg.Site + "/rest/api/2/user?accountId=" + a.ID,
			"self":     s.cfg.Site + "/rest/api/2/user?accountId=" + a.ID,
		},
	}
	if a.Email != "" {
		u["emailAddress"] = a.Email
	}
	return u
}

// issueJSON is a request as the platform API shows it; fields limits the
// fields (nil: all).
func (s *Sim) issueJSON(r *request, fields map[string]bool, v3 bool) map[string]any {
	all := map[string]any{
		"summary":   r.summary,
		"status":    s.statusJSON(r.status),
		"project":   map[string]any{"self": s.cfg.Site + "/rest/api/2/project/10000", "id": "10000", "key": s.cfg.ProjectKey, "name": s.cfg.ProjectName, "projectTypeKey": "service_desk"},
		"issuetype": map[string]any{"self": s.cfg.Site + "/rest/api/2/issuetype/10010", "id": "10010", "name": "[System] Service request", "subtask": false},
		"reporter":  s.userJSON(r.reporter),
		"creator":   s.userJSON(r.creator),
		"created":   jiraTime(r.created),
		"updated":   jiraTime(r.updated),
		"resolution": func() any {
			if r.resolution == "" {
				return nil
			}
			return map[string]any{"self": s.cfg.Site + "/rest/api/2/resolution/10000", "id": "10000", "name": r.resolution}
		}(),
		"attachment": s.attachmentsJSON(r),
		"labels":     append([]string{}, r.labels...),
	}
	if v3 {
		all["description"] = wikiToADF(r.description)
	} else {
		all["description"] = r.description
	}
	if r.description == "" {
		all["description"] = nil
	}
	if fields != nil {
		for k := range all {
			if !fields[k] {
				delete(all, k)
			}
		}
	}
	return map[string]any{"id": r.id, "self": s.cfg.Site + "/rest/api/2/issue/" + r.id, "key": r.key, "fields": all}
}

func (s *Sim) attachmentsJSON(r *request) []any {
	out := []any{}
	for _, a := range r.attachments {
		out = append(out, s.attachmentJSON(a))
	}
	return out
}

func (s *Sim) attachmentJSON(a *attachment) map[string]any {
	return map[string]any{
		"self":     s.cfg.Site + "/rest/api/3/attachment/" + a.id,
		"id":       a.id,
		"filename": a.filename,
		"author":   s.userJSON(a.author),
		"created":  jiraTime(a.created),
		"size":     a.size,
		"mimeType": a.mime,
		"content":  s.cfg.Site + "/rest/api/3/attachment/content/" + a.id,
	}
}

// commentJSON is a comment as the platform API (v3: ADF body) and admin
// webhooks (wiki body, unless fired as ADF) show it.
func (s *Sim) commentJSON(r *request, c *comment, body any) map[string]any {
	m := map[string]any{
		"self":         s.cfg.Site + "/rest/api/2/issue/" + r.id + "/comment/" + c.id,
		"id":           c.id,
		"author":       s.userJSON(c.author),
		"body":         body,
		"updateAuthor": s.userJSON(c.author),
		"created":      jiraTime(c.created),
		"updated":      jiraTime(c.updated),
	}
	switch {
	case c.shape == "property":
		// Only the sd.public.comment property tells.
	case c.public:
		m["jsdPublic"] = true
	case c.shape == "visibility":
		m["visibility"] = c.visibility
	default:
		m["jsdPublic"] = false
	}
	if c.visibility != nil {
		m["visibility"] = c.visibility
	}
	return m
}

// sdCommentJSON is a comment as the service desk API shows it.
func (s *Sim) sdCommentJSON(r *request, c *comment) map[string]any {
	return map[string]any{
		"_expands": []string{"attachment", "renderedBody"},
		"id":       c.id,
		"body":     c.wiki,
		"public":   c.public,
		"author":   s.sdUserJSON(c.author),
		"created":  sdDate(c.created),
		"_links":   map[string]any{"self": s.cfg.Site + "/rest/servicedeskapi/request/" + r.id + "/comment/" + c.id},
	}
}

// requestJSON is a request as the service desk API shows it.
func (s *Sim) requestJSON(r *request) map[string]any {
	return map[string]any{
		"_expands":      []string{"participant", "status", "sla", "requestType", "serviceDesk", "attachment", "action", "comment"},
		"issueId":       r.id,
		"issueKey":      r.key,
		"requestTypeId": r.requestTypeID,
		"serviceDeskId": s.cfg.ServiceDeskID,
		"createdDate":   sdDate(r.created),
		"reporter":      s.sdUserJSON(r.reporter),
		"requestFieldValues": []any{
			map[string]any{"fieldId": "summary", "label": "Summary", "value": r.summary},
			map[string]any{"fieldId": "description", "label": "Description", "value": r.description},
		},
		"currentStatus": map[string]any{
			"status":         r.status.Name,
			"statusCategory": strings.ToUpper(r.status.Category),
			"statusDate":     sdDate(r.statusDate),
		},
		"_links": map[string]any{
			"jiraRest": s.cfg.Site + "/rest/api/2/issue/" + r.id,
			"web":      s.cfg.Site + "/servicedesk/customer/portal/" + s.cfg.ServiceDeskID + "/" + r.key,
			"self":     s.cfg.Site + "/rest/servicedeskapi/request/" + r.id,
		},
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// findRequest finds a request by id or key; s.mu is held.
func (s *Sim) findRequest(idOrKey string) *request {
	if r := s.byID[idOrKey]; r != nil {
		return r
	}
	return s.byKey[strings.ToUpper(idOrKey)]
}

// findComment finds a comment of a request; s.mu is held.
func (r *request) findComment(id string) *comment {
	for _, c := range r.comments {
		if c.id == id {
			return c
		}
	}
	return nil
}
