package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Errors of the client; a *StatusError matches the first three by status.
var (
	// ErrNotFound: the issue, comment, property or attachment does not exist (404).
	ErrNotFound = errors.New("jira: not found")
	// ErrTemporary: 429, 5xx, or the host could not reach Jira; retry later.
	ErrTemporary = errors.New("jira: temporary failure")
	// ErrDenied: 401 or 403, the app may not do this.
	ErrDenied = errors.New("jira: permission denied")
	// ErrBadID: an issue key or id that cannot be put into a path.
	ErrBadID = errors.New("jira: malformed issue key or id")
)

// DefaultRetryAfter is the wait assumed for a 429 without Retry-After.
const DefaultRetryAfter = 10 * time.Second

// StatusError is a non-2xx answer.
type StatusError struct {
	Method string
	Path   string // without the query
	Status int
	// RetryAfterSeconds is Retry-After of a 429 or 503, else 0.
	RetryAfterSeconds int
	// Messages are Jira's errorMessages and errors, for administrators;
	// they are left out of Error() so that logs stay free of content.
	Messages []string
	// Fields are the ids of the fields a service desk API validation error
	// blames (its errors[].fieldId).
	Fields []string
}

func (e *StatusError) Error() string {
	return "jira: " + e.Method + " " + PathShape(e.Path) + ": status " + strconv.Itoa(e.Status)
}

// PathShape is path as errors and logs name it: each segment that is not a
// word of the API's fixed vocabulary (an issue key, a numeric id, a property
// key) becomes a placeholder, so that no issue key reaches a log.
// "/rest/api/2/issue/SUP-81/comment/10042" gives
// "/rest/api/2/issue/{key}/comment/{id}".
func PathShape(path string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "" || apiWord(s):
		case ValidIssueKey(s):
			segs[i] = "{key}"
		case ValidID(s):
			segs[i] = "{id}"
		default:
			segs[i] = "{…}"
		}
	}
	return strings.Join(segs, "/")
}

// apiWord reports whether s is a path word of the REST APIs: a lower-case
// letter, then letters, digits and '.', at most 40 bytes ("servicedeskapi",
// "attachTemporaryFile", "sd.public.comment"), or an API version. Project
// and issue keys start with an upper-case letter.
func apiWord(s string) bool {
	if s == "2" || s == "3" {
		return true
	}
	if len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// Temporary reports whether a later retry may succeed.
func (e *StatusError) Temporary() bool { return e.Status == 429 || e.Status >= 500 }

// RetryAfter is how long Jira asked to wait; a 429 without a header gives
// DefaultRetryAfter.
func (e *StatusError) RetryAfter() time.Duration {
	if e.RetryAfterSeconds > 0 {
		return time.Duration(e.RetryAfterSeconds) * time.Second
	}
	if e.Status == 429 {
		return DefaultRetryAfter
	}
	return 0
}

// Is matches ErrNotFound, ErrTemporary and ErrDenied.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == 404
	case ErrTemporary:
		return e.Temporary()
	case ErrDenied:
		return e.Status == 401 || e.Status == 403
	}
	return false
}

// Client calls Jira through the host. The zero value is not usable: set API.
type Client struct {
	API sdk.Jira
}

var (
	issueKeyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$`)
	idPattern       = regexp.MustCompile(`^[0-9]{1,19}$`)
)

// ValidIssueKey reports whether key looks like "ABC-123".
func ValidIssueKey(key string) bool { return issueKeyPattern.MatchString(key) }

// ValidID reports whether id is a numeric Jira id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func checkKey(key string) error {
	if !ValidIssueKey(key) {
		return ErrBadID
	}
	return nil
}

func checkID(id string) error {
	if !ValidID(id) {
		return ErrBadID
	}
	return nil
}

func (c *Client) do(method, path string, headers []abi.Header, body []byte, out any) error {
	req := &abi.Request{Method: method, URL: path, Headers: append([]abi.Header{{Name: "Accept", Value: "application/json"}}, headers...), Body: body}
	resp, err := c.API.Request(req)
	bare, _, _ := strings.Cut(path, "?")
	if err != nil {
		if errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrTimeout) {
			return fmt.Errorf("jira: %s %s: %w (%w)", method, PathShape(bare), ErrTemporary, err)
		}
		return fmt.Errorf("jira: %s %s: %w", method, PathShape(bare), err)
	}
	if resp.Status/100 != 2 {
		return statusError(method, bare, resp)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = resp.Body
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("jira: %s %s: decode answer: %w", method, PathShape(bare), sdk.JSONError(err))
	}
	return nil
}

func (c *Client) doJSON(method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("jira: %s %s: %w", method, PathShape(path), err)
	}
	return c.do(method, path, []abi.Header{{Name: "Content-Type", Value: "application/json"}}, body, out)
}

func statusError(method, path string, resp *abi.Response) *StatusError {
	e := &StatusError{Method: method, Path: path, Status: int(resp.Status)}
	if e.Status == 429 || e.Status == 503 {
		e.RetryAfterSeconds = retryAfter(resp.Headers, time.Now())
	}
	var body struct {
		ErrorMessages []string          `json:"errorMessages"`
		ErrorMessage  string            `json:"errorMessage"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(resp.Body, &body) == nil {
		e.Messages = append(e.Messages, body.ErrorMessages...)
		if body.ErrorMessage != "" {
			e.Messages = append(e.Messages, body.ErrorMessage)
		}
		for k, v := range body.Errors {
			e.Messages = append(e.Messages, k+": "+v)
		}
	}
	// The service desk API lists field errors as an array.
	var sd struct {
		Errors []struct {
			FieldID      string `json:"fieldId"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"errors"`
	}
	if json.Unmarshal(resp.Body, &sd) == nil {
		for _, f := range sd.Errors {
			e.Fields = append(e.Fields, f.FieldID)
			e.Messages = append(e.Messages, f.FieldID+": "+f.ErrorMessage)
		}
	}
	return e
}

// retryAfter reads Retry-After (seconds or an HTTP date), then
// X-RateLimit-Reset (an ISO 8601 time), in whole seconds of at least 1.
func retryAfter(h []abi.Header, now time.Time) int {
	if v := strings.TrimSpace(abi.Get(h, "Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return max(n, 1)
		}
		if t, err := time.Parse(time.RFC1123, v); err == nil {
			return max(int(t.Sub(now).Seconds()+0.999), 1)
		}
	}
	if v := strings.TrimSpace(abi.Get(h, "X-RateLimit-Reset")); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return max(int(t.Sub(now).Seconds()+0.999), 1)
		}
	}
	return 0
}

// NewRequest is a JSM request to raise as the app, or on a customer's behalf.
type NewRequest struct {
	ServiceDeskID string
	RequestTypeID string
	Summary       string
	Description   string // wiki markup
	// Labels go in requestFieldValues; a request type whose form lacks the
	// Labels field refuses them, and the request is then raised without
	// (Created.Unlabeled).
	Labels []string
	// RaiseOnBehalfOf, when set, is the account id of the customer the
	// request is raised for (JSM's raiseOnBehalfOf): the request is theirs,
	// with their organisation and SLA (customer.go).
	RaiseOnBehalfOf string
}

// Created identifies a new request.
type Created struct {
	IssueID  string `json:"issueId"`
	IssueKey string `json:"issueKey"`
	// Unlabeled: the request type refused the labels, and the request was
	// raised without them.
	Unlabeled bool `json:"-"`
}

// CreateRequest raises a JSM request: POST /rest/servicedeskapi/request.
func (c *Client) CreateRequest(r NewRequest) (Created, error) {
	if err := checkID(r.ServiceDeskID); err != nil {
		return Created{}, err
	}
	if err := checkID(r.RequestTypeID); err != nil {
		return Created{}, err
	}
	fields := map[string]any{
		"summary":     r.Summary,
		"description": r.Description,
	}
	if len(r.Labels) > 0 {
		fields["labels"] = r.Labels
	}
	in := map[string]any{
		"serviceDeskId":      r.ServiceDeskID,
		"requestTypeId":      r.RequestTypeID,
		"requestFieldValues": fields,
	}
	if r.RaiseOnBehalfOf != "" {
		in["raiseOnBehalfOf"] = r.RaiseOnBehalfOf
	}
	var out struct {
		IssueID  flexString `json:"issueId"`
		IssueKey string     `json:"issueKey"`
	}
	err := c.doJSON("POST", "/rest/servicedeskapi/request", in, &out)
	var se *StatusError
	unlabeled := false
	if errors.As(err, &se) && se.Status == 400 && len(r.Labels) > 0 && slices.Contains(se.Fields, "labels") {
		// Refused, so nothing was created: again without the labels.
		delete(fields, "labels")
		unlabeled = true
		err = c.doJSON("POST", "/rest/servicedeskapi/request", in, &out)
	}
	if err != nil {
		return Created{}, err
	}
	created := Created{IssueID: string(out.IssueID), IssueKey: out.IssueKey, Unlabeled: unlabeled}
	if !ValidIssueKey(created.IssueKey) {
		return Created{}, fmt.Errorf("jira: create request: answer without an issue key: %w", ErrBadID)
	}
	return created, nil
}

// AddComment adds a comment to a request: public for the customer, or an
// internal note when public is false. It returns the comment's id.
func (c *Client) AddComment(issueKey, body string, public bool) (string, error) {
	if err := checkKey(issueKey); err != nil {
		return "", err
	}
	var out struct {
		ID flexString `json:"id"`
	}
	err := c.doJSON("POST", "/rest/servicedeskapi/request/"+issueKey+"/comment", map[string]any{"body": body, "public": public}, &out)
	return string(out.ID), err
}

// AttachTemporaryFile uploads a file to a service desk's temporary area,
// the first of the two attachment steps.
func (c *Client) AttachTemporaryFile(serviceDeskID, name, mimeType string, data []byte) ([]string, error) {
	if err := checkID(serviceDeskID); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 512)
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteParam(name)+`"`)
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	h.Set("Content-Type", mimeType)
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("jira: attachTemporaryFile: %w", err)
	}
	var out struct {
		TemporaryAttachments []struct {
			TemporaryAttachmentID string `json:"temporaryAttachmentId"`
		} `json:"temporaryAttachments"`
	}
	err = c.do("POST", "/rest/servicedeskapi/servicedesk/"+serviceDeskID+"/attachTemporaryFile", []abi.Header{
		{Name: "Content-Type", Value: w.FormDataContentType()},
		{Name: "X-Atlassian-Token", Value: "no-check"},
		{Name: "X-ExperimentalApi", Value: "opt-in"},
	}, buf.Bytes(), &out)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range out.TemporaryAttachments {
		if t.TemporaryAttachmentID != "" {
			ids = append(ids, t.TemporaryAttachmentID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("jira: attachTemporaryFile: no temporary attachment in the answer")
	}
	return ids, nil
}

func quoteParam(s string) string {
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", " ", "\n", " ").Replace(s)
}

// Attach adds temporarily uploaded files to a request, with an optional
// comment (wiki markup) that accompanies them. It returns the id of the
// comment JSM adds with the files ("" when the answer has none).
func (c *Client) Attach(issueKey string, temporaryIDs []string, public bool, comment string) (string, error) {
	if err := checkKey(issueKey); err != nil {
		return "", err
	}
	in := map[string]any{"temporaryAttachmentIds": temporaryIDs, "public": public}
	if comment != "" {
		in["additionalComment"] = map[string]string{"body": comment}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("jira: attach: %w", err)
	}
	var out struct {
		Comment struct {
			ID flexString `json:"id"`
		} `json:"comment"`
	}
	err = c.do("POST", "/rest/servicedeskapi/request/"+issueKey+"/attachment", []abi.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "X-ExperimentalApi", Value: "opt-in"},
	}, body, &out)
	return string(out.Comment.ID), err
}

// RequestStatus is a request's current status as JSM shows it to customers.
type RequestStatus struct {
	Name     string // "Waiting for support"
	Category string // "NEW", "INDETERMINATE", "DONE"
}

// Done reports whether the status is in the done category.
func (s RequestStatus) Done() bool { return strings.EqualFold(s.Category, "done") }

// Status reads a request's current status: GET /rest/servicedeskapi/request/{key}.
func (c *Client) Status(issueKey string) (RequestStatus, error) {
	if err := checkKey(issueKey); err != nil {
		return RequestStatus{}, err
	}
	var out struct {
		CurrentStatus struct {
			Status         string `json:"status"`
			StatusCategory string `json:"statusCategory"`
		} `json:"currentStatus"`
	}
	if err := c.do("GET", "/rest/servicedeskapi/request/"+issueKey, nil, nil, &out); err != nil {
		return RequestStatus{}, err
	}
	return RequestStatus{Name: out.CurrentStatus.Status, Category: out.CurrentStatus.StatusCategory}, nil
}

// IssueStatus reads the issue's status and its category key ("new",
// "indeterminate", "done") from the platform API.
func (c *Client) IssueStatus(issueKey string) (name, category string, err error) {
	if err := checkKey(issueKey); err != nil {
		return "", "", err
	}
	var out struct {
		Fields issueFields `json:"fields"`
	}
	if err := c.do("GET", "/rest/api/3/issue/"+issueKey+"?fields=status", nil, nil, &out); err != nil {
		return "", "", err
	}
	return out.Fields.Status.Name, out.Fields.Status.StatusCategory.Key, nil
}

// Visibility is what the sd.public.comment property says about a comment.
type Visibility int

// Visibilities; Unknown means the property is absent, which is not proof of
// anything, and the bridge treats it as internal.
const (
	Unknown Visibility = iota
	Public
	Internal
)

// CommentVisibility reads the comment property sd.public.comment:
// GET /rest/api/3/comment/{commentId}/properties/sd.public.comment. Comment
// ids are unique on the site, so the issue is not in the path; issueKey is
// checked all the same, as every caller has it.
func (c *Client) CommentVisibility(issueKey, commentID string) (Visibility, error) {
	if err := checkKey(issueKey); err != nil {
		return Unknown, err
	}
	if err := checkID(commentID); err != nil {
		return Unknown, err
	}
	var out struct {
		Value *struct {
			Internal *bool `json:"internal"`
		} `json:"value"`
	}
	err := c.do("GET", "/rest/api/3/comment/"+commentID+"/properties/sd.public.comment", nil, nil, &out)
	switch {
	case errors.Is(err, ErrNotFound):
		return Unknown, nil
	case err != nil:
		return Unknown, err
	case out.Value == nil || out.Value.Internal == nil:
		return Unknown, nil
	case *out.Value.Internal:
		return Internal, nil
	}
	return Public, nil
}

// Attachment is an issue attachment's metadata.
type Attachment struct {
	ID       string
	Filename string
	MimeType string
	Size     int64
}

// Attachments lists an issue's attachments.
func (c *Client) Attachments(issueKey string) ([]Attachment, error) {
	if err := checkKey(issueKey); err != nil {
		return nil, err
	}
	var out struct {
		Fields struct {
			Attachment []struct {
				ID       flexString `json:"id"`
				Filename string     `json:"filename"`
				MimeType string     `json:"mimeType"`
				Size     int64      `json:"size"`
			} `json:"attachment"`
		} `json:"fields"`
	}
	if err := c.do("GET", "/rest/api/3/issue/"+issueKey+"?fields=attachment", nil, nil, &out); err != nil {
		return nil, err
	}
	var list []Attachment
	for _, a := range out.Fields.Attachment {
		list = append(list, Attachment{ID: string(a.ID), Filename: a.Filename, MimeType: a.MimeType, Size: a.Size})
	}
	return list, nil
}

// AttachmentContent downloads an attachment. The host caps a response's size;
// a larger file fails with sdk.ErrLimitExceeded.
func (c *Client) AttachmentContent(id string) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var body []byte
	err := c.do("GET", "/rest/api/3/attachment/content/"+id+"?redirect=false", nil, nil, &body)
	return body, err
}

// ServiceDesk is a JSM service desk.
type ServiceDesk struct {
	ID          string
	ProjectID   string
	ProjectKey  string
	ProjectName string
}

// RequestType is a JSM request type.
type RequestType struct {
	ID   string
	Name string
}

// maxPages bounds paging through a list; 20 pages of 50 are plenty.
const maxPages = 20

type page[T any] struct {
	IsLastPage bool `json:"isLastPage"`
	Values     []T  `json:"values"`
}

func pages[T any](c *Client, path string) ([]T, error) {
	var all []T
	for i := range maxPages {
		var p page[T]
		q := url.Values{"start": {strconv.Itoa(i * 50)}, "limit": {"50"}}
		if err := c.do("GET", path+"?"+q.Encode(), nil, nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Values...)
		if p.IsLastPage || len(p.Values) == 0 {
			break
		}
	}
	return all, nil
}

// ServiceDesks lists the site's service desks.
func (c *Client) ServiceDesks() ([]ServiceDesk, error) {
	type desk struct {
		ID          flexString `json:"id"`
		ProjectID   flexString `json:"projectId"`
		ProjectKey  string     `json:"projectKey"`
		ProjectName string     `json:"projectName"`
	}
	list, err := pages[desk](c, "/rest/servicedeskapi/servicedesk")
	if err != nil {
		return nil, err
	}
	out := make([]ServiceDesk, 0, len(list))
	for _, d := range list {
		out = append(out, ServiceDesk{ID: string(d.ID), ProjectID: string(d.ProjectID), ProjectKey: d.ProjectKey, ProjectName: d.ProjectName})
	}
	return out, nil
}

// RequestTypes lists a service desk's request types.
func (c *Client) RequestTypes(serviceDeskID string) ([]RequestType, error) {
	if err := checkID(serviceDeskID); err != nil {
		return nil, err
	}
	type rt struct {
		ID   flexString `json:"id"`
		Name string     `json:"name"`
	}
	list, err := pages[rt](c, "/rest/servicedeskapi/servicedesk/"+serviceDeskID+"/requesttype")
	if err != nil {
		return nil, err
	}
	out := make([]RequestType, 0, len(list))
	for _, r := range list {
		out = append(out, RequestType{ID: string(r.ID), Name: r.Name})
	}
	return out, nil
}

// flexString decodes a JSON string or number as a string: Jira sends ids
// both ways depending on the API.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}
