package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jira", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookReadsBothShapes(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		fixture, eventType string
		event              Event
		commentID          string
		public             *bool
		restricted         bool
		adf                bool
		statusChange       bool
		done               bool
	}{
		{"comment_created_public.json", "avi:jira:commented:issue", CommentCreated, "10101", &yes, false, false, false, false},
		{"comment_created_internal.json", "avi:jira:commented:issue", CommentCreated, "10102", &no, false, false, false, false},
		{"comment_created_visibility.json", "avi:jira:commented:issue", CommentCreated, "10103", nil, true, false, false, false},
		{"comment_created_unclear.json", "avi:jira:commented:issue", CommentCreated, "10104", nil, false, false, false, false},
		{"comment_created_by_app.json", "avi:jira:commented:issue", CommentCreated, "10105", &yes, false, false, false, false},
		{"comment_updated.json", "avi:jira:commented:issue", CommentUpdated, "10101", &yes, false, false, false, false},
		{"forge_commented_adf.json", "avi:jira:commented:issue", CommentCreated, "10106", nil, false, true, false, false},
		{"issue_updated_commented.json", "avi:jira:updated:issue", CommentCreated, "10101", &yes, false, false, false, false},
		{"issue_updated_done.json", "avi:jira:updated:issue", IssueUpdated, "", nil, false, false, true, true},
		{"issue_updated_reopened.json", "avi:jira:updated:issue", IssueUpdated, "", nil, false, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			w, err := ParseWebhook(tt.eventType, fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if w.Event != tt.event || w.Issue.Key != "SUP-1" || w.Issue.ID != "10042" || w.Issue.ProjectKey != "SUP" {
				t.Fatalf("event %q issue %+v", w.Event, w.Issue)
			}
			if tt.commentID != "" {
				c := w.Comment
				if c == nil || c.ID != tt.commentID {
					t.Fatalf("comment %+v", c)
				}
				if (c.JSDPublic == nil) != (tt.public == nil) || c.JSDPublic != nil && *c.JSDPublic != *tt.public {
					t.Errorf("jsdPublic %v, want %v", c.JSDPublic, tt.public)
				}
				if c.Restricted != tt.restricted {
					t.Errorf("restricted %v", c.Restricted)
				}
				if (len(c.Body.ADF) > 0) != tt.adf || c.Body.Empty() {
					t.Errorf("body %+v", c.Body)
				}
			}
			if _, ok := w.StatusChange(); ok != tt.statusChange {
				t.Errorf("status change %v", ok)
			}
			if w.Issue.Done() != tt.done {
				t.Errorf("done %v", w.Issue.Done())
			}
		})
	}
}

func TestParseWebhookTellsAForgeEditFromACreate(t *testing.T) {
	body := strings.Replace(string(fixture(t, "forge_commented_adf.json")), `"updated": "2025-11-22T11:02:00.000+0100"`, `"updated": "2025-11-22T11:09:00.000+0100"`, 1)
	w, err := ParseWebhook("avi:jira:commented:issue", []byte(body))
	if err != nil || w.Event != CommentUpdated {
		t.Fatalf("got %v, %v; want an update", w, err)
	}
}

func TestParseWebhookRejectsPayloadsWithoutAnIssue(t *testing.T) {
	for _, body := range []string{``, `[]`, `{}`, `{"issue":{}}`, `{"comment":{"id":"1"}}`, `{"issue":{"key":"A-1"},"comment":{"body":5}}`} {
		if _, err := ParseWebhook("", []byte(body)); err == nil {
			t.Errorf("%q parsed", body)
		}
	}
}

func TestAttachmentNamesFindsWhatAPublicCommentShows(t *testing.T) {
	tests := []struct {
		name string
		body Body
		want []string
	}{
		{"wiki image and link", Body{Wiki: "See !label.png|thumbnail! and [^refund-form.pdf]. Thanks!"}, []string{"label.png", "refund-form.pdf"}},
		{"exclamations are not images", Body{Wiki: "Great! Thanks a lot!"}, nil},
		{"external image is not an attachment", Body{Wiki: "!https://example.com/a.png!"}, nil},
		{"adf media", Body{ADF: fixtureBody(t)}, []string{"refund-form.pdf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.body.AttachmentNames()
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func fixtureBody(t *testing.T) json.RawMessage {
	w, err := ParseWebhook("", fixture(t, "forge_commented_adf.json"))
	if err != nil {
		t.Fatal(err)
	}
	return w.Comment.Body.ADF
}

// fakeJira answers with a fixed response and records requests.
func fakeJira(status uint16, body string, headers ...abi.Header) (*sdktest.Env, *Client) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(*abi.Request) (*abi.Response, error) {
		return &abi.Response{Status: status, Headers: headers, Body: []byte(body)}, nil
	}
	return env, &Client{API: env.Jira}
}

func TestCreateRequestSendsTheJSMFields(t *testing.T) {
	env, c := fakeJira(201, string(fixture(t, "request_created.json")))
	got, err := c.CreateRequest(NewRequest{ServiceDeskID: "2", RequestTypeID: "11", Summary: "Chat with Anna", Description: "Hello"})
	if err != nil || got.IssueKey != "SUP-1" || got.IssueID != "10042" {
		t.Fatalf("got %+v, %v", got, err)
	}
	req := env.JiraAPI.Requests()[0]
	if req.Method != "POST" || req.URL != "/rest/servicedeskapi/request" {
		t.Fatalf("%s %s", req.Method, req.URL)
	}
	var in struct {
		ServiceDeskID      string            `json:"serviceDeskId"`
		RequestTypeID      string            `json:"requestTypeId"`
		RequestFieldValues map[string]string `json:"requestFieldValues"`
	}
	_ = json.Unmarshal(req.Body, &in)
	if in.ServiceDeskID != "2" || in.RequestTypeID != "11" || in.RequestFieldValues["summary"] != "Chat with Anna" || in.RequestFieldValues["description"] != "Hello" {
		t.Errorf("body %s", req.Body)
	}
}

func TestErrorsCarryRetryAfterAndClassify(t *testing.T) {
	tests := []struct {
		name       string
		status     uint16
		headers    []abi.Header
		temporary  bool
		notFound   bool
		retryAfter time.Duration
	}{
		{"429 with Retry-After", 429, []abi.Header{{Name: "Retry-After", Value: "30"}}, true, false, 30 * time.Second},
		{"429 without Retry-After", 429, nil, true, false, DefaultRetryAfter},
		{"503 with Retry-After", 503, []abi.Header{{Name: "retry-after", Value: "7"}}, true, false, 7 * time.Second},
		{"500", 500, nil, true, false, 0},
		{"404", 404, nil, false, true, 0},
		{"400", 400, nil, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := fakeJira(tt.status, string(fixture(t, "error_429.json")), tt.headers...)
			_, err := c.AddComment("SUP-1", "hi", true)
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("got %v", err)
			}
			if errors.Is(err, ErrTemporary) != tt.temporary || errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("%v: temporary %v, not found %v", err, errors.Is(err, ErrTemporary), errors.Is(err, ErrNotFound))
			}
			if se.RetryAfter() != tt.retryAfter {
				t.Errorf("retry after %v, want %v", se.RetryAfter(), tt.retryAfter)
			}
			if strings.Contains(err.Error(), "hi") || strings.Contains(err.Error(), "Rate limit") {
				t.Errorf("error text carries content: %v", err)
			}
		})
	}
}

func TestHostUnavailabilityIsTemporary(t *testing.T) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(*abi.Request) (*abi.Response, error) { return nil, sdk.ErrTimeout }
	_, err := (&Client{API: env.Jira}).Status("SUP-1")
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("got %v", err)
	}
}

func TestAttachmentsTakeTwoSteps(t *testing.T) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		if strings.HasSuffix(req.URL, "/attachTemporaryFile") {
			return &abi.Response{Status: 201, Body: fixture(t, "temporary_attachment.json")}, nil
		}
		return &abi.Response{Status: 201, Body: []byte(`{}`)}, nil
	}
	c := &Client{API: env.Jira}
	ids, err := c.AttachTemporaryFile("2", `label "1".jpg`, "image/jpeg", []byte("JPEG"))
	if err != nil || len(ids) != 1 || ids[0] != "temp8186986881526427421" {
		t.Fatalf("got %v, %v", ids, err)
	}
	if _, err := c.Attach("SUP-1", ids, true, "The _label_"); err != nil {
		t.Fatal(err)
	}
	reqs := env.JiraAPI.Requests()
	up := reqs[0]
	if up.URL != "/rest/servicedeskapi/servicedesk/2/attachTemporaryFile" || abi.Get(up.Headers, "X-Atlassian-Token") != "no-check" ||
		abi.Get(up.Headers, "X-ExperimentalApi") != "opt-in" {
		t.Errorf("upload %s %v", up.URL, up.Headers)
	}
	_, params, _ := mime.ParseMediaType(abi.Get(up.Headers, "Content-Type"))
	part, err := multipart.NewReader(bytes.NewReader(up.Body), params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(part)
	if part.FormName() != "file" || part.FileName() != `label "1".jpg` || string(data) != "JPEG" {
		t.Errorf("part %q %q %q", part.FormName(), part.FileName(), data)
	}
	var in struct {
		IDs     []string `json:"temporaryAttachmentIds"`
		Public  bool     `json:"public"`
		Comment struct {
			Body string `json:"body"`
		} `json:"additionalComment"`
	}
	_ = json.Unmarshal(reqs[1].Body, &in)
	if reqs[1].URL != "/rest/servicedeskapi/request/SUP-1/attachment" || len(in.IDs) != 1 || !in.Public || in.Comment.Body != "The _label_" {
		t.Errorf("attach %s %s", reqs[1].URL, reqs[1].Body)
	}
}

func TestCommentVisibilityFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		status uint16
		body   string
		want   Visibility
	}{
		{"internal", 200, string(fixture(t, "property_internal.json")), Internal},
		{"public", 200, string(fixture(t, "property_public.json")), Public},
		{"absent", 404, `{"errorMessages":["The property with key 'sd.public.comment' does not exist."]}`, Unknown},
		{"no internal field", 200, `{"key":"sd.public.comment","value":{}}`, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, c := fakeJira(tt.status, tt.body)
			got, err := c.CommentVisibility("SUP-1", "10104")
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			if u := env.JiraAPI.Requests()[0].URL; u != "/rest/api/3/comment/10104/properties/sd.public.comment" {
				t.Errorf("url %s", u)
			}
		})
	}
}

func TestMalformedKeysNeverReachAPath(t *testing.T) {
	env, c := fakeJira(200, `{}`)
	for _, key := range []string{"SUP-1/../../rest/api/3/myself", "sup-1", "SUP-1?x", "SUP-", "{{secret:x}}-1", ""} {
		if _, err := c.AddComment(key, "x", true); !errors.Is(err, ErrBadID) {
			t.Errorf("%q: got %v", key, err)
		}
	}
	if _, err := c.CommentVisibility("SUP-1", "1/../2"); !errors.Is(err, ErrBadID) {
		t.Errorf("comment id: got %v", err)
	}
	if n := len(env.JiraAPI.Requests()); n != 0 {
		t.Fatalf("%d requests made", n)
	}
}

func TestServiceDesksAndRequestTypesPage(t *testing.T) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		switch {
		case strings.HasPrefix(req.URL, "/rest/servicedeskapi/servicedesk/2/requesttype?"):
			return &abi.Response{Status: 200, Body: fixture(t, "requesttypes.json")}, nil
		case strings.HasPrefix(req.URL, "/rest/servicedeskapi/servicedesk?"):
			return &abi.Response{Status: 200, Body: fixture(t, "servicedesks.json")}, nil
		}
		return &abi.Response{Status: 404}, nil
	}
	c := &Client{API: env.Jira}
	desks, err := c.ServiceDesks()
	if err != nil || len(desks) != 2 || desks[1].ProjectKey != "SUP" || desks[1].ID != "2" {
		t.Fatalf("desks %+v, %v", desks, err)
	}
	types, err := c.RequestTypes("2")
	if err != nil || len(types) != 2 || types[0].ID != "11" {
		t.Fatalf("types %+v, %v", types, err)
	}
}

func FuzzParseJiraWebhook(f *testing.F) {
	for _, name := range []string{"comment_created_public.json", "comment_created_visibility.json", "forge_commented_adf.json",
		"issue_updated_commented.json", "issue_updated_done.json", "comment_updated.json"} {
		f.Add("avi:jira:commented:issue", fixture(f, name))
	}
	f.Add("", []byte(`{"issue":{"key":"A-1"},"comment":{"id":7,"body":{"type":"doc","content":[{"type":"media","attrs":{"type":"file","alt":"x"}}]},"visibility":"odd"}}`))
	f.Fuzz(func(t *testing.T, eventType string, payload []byte) {
		w, err := ParseWebhook(eventType, payload)
		if err != nil {
			return
		}
		if w.Issue.Key == "" {
			t.Fatal("webhook without an issue key")
		}
		if c := w.Comment; c != nil {
			_ = c.Body.AttachmentNames()
			if w.Event == CommentCreated && c.ID == "" {
				t.Fatal("comment event without a comment id")
			}
		}
		_, _ = w.StatusChange()
	})
}

func TestMarkedCommentsCarryVisibilityAndOpInOneCall(t *testing.T) {
	env, c := fakeJira(201, `{"id":"10200","body":"x"}`)
	id, err := c.AddMarkedComment("SUP-1", "Customer blocked the bot", false, "a1b2c3d4e5f60718.note")
	if err != nil || id != "10200" {
		t.Fatalf("got %q, %v", id, err)
	}
	req := env.JiraAPI.Requests()[0]
	var in struct {
		Body       string `json:"body"`
		Properties []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(req.Body, &in)
	if req.Method != "POST" || req.URL != "/rest/api/2/issue/SUP-1/comment" || in.Body != "Customer blocked the bot" || len(in.Properties) != 2 {
		t.Fatalf("%s %s %s", req.Method, req.URL, req.Body)
	}
	if in.Properties[0].Key != "sd.public.comment" || string(in.Properties[0].Value) != `{"internal":true}` ||
		in.Properties[1].Key != OpProperty || string(in.Properties[1].Value) != `{"id":"a1b2c3d4e5f60718.note"}` {
		t.Errorf("properties %s", req.Body)
	}
	for _, bad := range []string{"", `x"y`, "a b", strings.Repeat("a", 65)} {
		if _, err := c.AddMarkedComment("SUP-1", "x", true, bad); !errors.Is(err, ErrBadOp) {
			t.Errorf("op %q: %v", bad, err)
		}
	}
}

func TestMarksArePutOnCommentsAndIssues(t *testing.T) {
	env, c := fakeJira(201, ``)
	if err := c.MarkComment("SUP-1", "10200", "n.text"); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkIssue("SUP-1", "n.open"); err != nil {
		t.Fatal(err)
	}
	reqs := env.JiraAPI.Requests()
	if reqs[0].Method != "PUT" || reqs[0].URL != "/rest/api/2/comment/10200/properties/chatbridge.op" || string(reqs[0].Body) != `{"id":"n.text"}` {
		t.Errorf("comment mark %s %s %s", reqs[0].Method, reqs[0].URL, reqs[0].Body)
	}
	if reqs[1].Method != "PUT" || reqs[1].URL != "/rest/api/2/issue/SUP-1/properties/chatbridge.op" || string(reqs[1].Body) != `{"id":"n.open"}` {
		t.Errorf("issue mark %s %s %s", reqs[1].Method, reqs[1].URL, reqs[1].Body)
	}
}

// Marks are read the documented way: the issue's listing (which documents
// no expand=properties, so a listing's properties are ignored), then the
// author's comments by id through comment/list?expand=properties.
func TestCommentsArePagedNewestFirstWithTheirMarks(t *testing.T) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		switch {
		case strings.HasPrefix(req.URL, "/rest/api/2/comment/list?"):
			var in struct {
				IDs []int64 `json:"ids"`
			}
			if err := json.Unmarshal(req.Body, &in); err != nil || len(in.IDs) != 2 || in.IDs[0] != 10300 || in.IDs[1] != 10298 {
				t.Errorf("comment/list body %s", req.Body)
			}
			return &abi.Response{Status: 200, Body: []byte(`{"startAt":0,"maxResults":1000,"total":2,"isLast":true,"values":[
				{"id":"10300","author":{"accountId":"app"},"body":"newest","created":"2026-11-22T10:00:05.000+0000",
				"properties":[{"key":"sd.public.comment","value":{"internal":false}},{"key":"chatbridge.op","value":{"id":"n.text"}}]},
				{"id":"10298","author":{"accountId":"app"},"body":"oldest","created":"2026-11-22T08:00:00.000+0000","properties":[]}]}`)}, nil
		case strings.Contains(req.URL, "startAt=1"):
			return &abi.Response{Status: 200, Body: []byte(`{"startAt":1,"total":3,"comments":[
				{"id":10299,"author":{"accountId":"agent"},"body":"older","created":"2026-11-22T09:00:00.000+0000"},
				{"id":10298,"author":{"accountId":"app"},"body":"oldest","created":"2026-11-22T08:00:00.000+0000"}]}`)}, nil
		}
		return &abi.Response{Status: 200, Body: []byte(`{"startAt":0,"total":3,"comments":[{"id":"10300","author":{"accountId":"app"},"body":"newest","created":"2026-11-22T10:00:05.000+0000",
			"properties":[{"key":"chatbridge.op","value":{"id":"listing.is.not.read"}}]}]}`)}, nil
	}
	list, err := (&Client{API: env.Jira}).Comments("SUP-1", "app")
	if err != nil || len(list) != 3 {
		t.Fatalf("got %+v, %v", list, err)
	}
	if list[0].Op != "n.text" || list[0].AuthorID != "app" || list[0].Body != "newest" || list[0].Created.Second() != 5 ||
		list[1].Op != "" || list[1].ID != "10299" || list[2].ID != "10298" || list[2].Op != "" {
		t.Errorf("comments %+v", list)
	}
	reqs := env.JiraAPI.Requests()
	if len(reqs) != 3 || !strings.HasPrefix(reqs[0].URL, "/rest/api/2/issue/SUP-1/comment?") ||
		strings.Contains(reqs[0].URL, "expand") || !strings.Contains(reqs[0].URL, "orderBy=-created") || !strings.Contains(reqs[0].URL, "maxResults=100") ||
		reqs[2].Method != "POST" || reqs[2].URL != "/rest/api/2/comment/list?expand=properties" {
		for _, r := range reqs {
			t.Errorf("call %s %s", r.Method, r.URL)
		}
	}
}

func TestCommentsWithoutCommentsOfTheAuthorReadNoMarks(t *testing.T) {
	env := sdktest.NewEnv()
	env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		return &abi.Response{Status: 200, Body: []byte(`{"startAt":0,"total":1,"comments":[{"id":"10299","author":{"accountId":"agent"},"body":"hi","created":"2026-11-22T09:00:00.000+0000"}]}`)}, nil
	}
	if list, err := (&Client{API: env.Jira}).Comments("SUP-1", "app"); err != nil || len(list) != 1 || len(env.JiraAPI.Requests()) != 1 {
		t.Errorf("got %+v, %v, %d calls", list, err, len(env.JiraAPI.Requests()))
	}
}

func TestRecentIssuesSearchesTheAppsRequestsByTime(t *testing.T) {
	env, c := fakeJira(200, `{"issues":[{"id":"10050","key":"SUP-8","fields":{"summary":"Chat","description":"Hi\r\n","created":"2026-11-22T10:00:00.000+0000"},
		"properties":{"chatbridge.op":{"id":"n.open"}}},{"id":"10049","key":"SUP-7","fields":{"summary":"Other","description":null,"created":"2026-11-22T09:59:00.000+0000"},"properties":{}}],"isLast":true}`)
	list, err := c.RecentIssues("SUP", 90*time.Second)
	if err != nil || len(list) != 2 || list[0].Op != "n.open" || list[0].Key != "SUP-8" || list[1].Op != "" || list[1].Description != "" {
		t.Fatalf("got %+v, %v", list, err)
	}
	if !SameText(list[0].Description, "Hi") {
		t.Errorf("description %q", list[0].Description)
	}
	var in struct {
		JQL        string   `json:"jql"`
		Properties []string `json:"properties"`
	}
	req := env.JiraAPI.Requests()[0]
	_ = json.Unmarshal(req.Body, &in)
	if want := `project = "SUP" AND creator = currentUser() AND created >= -2m ORDER BY created DESC`; req.URL != "/rest/api/2/search/jql" || in.JQL != want || len(in.Properties) != 1 {
		t.Errorf("%s %s", req.URL, req.Body)
	}
	if _, err := c.RecentIssues(`SUP" OR x`, time.Minute); !errors.Is(err, ErrBadID) {
		t.Errorf("a project key with a quote: %v", err)
	}
}

func TestPathShapeNamesNoKeyOrID(t *testing.T) {
	for in, want := range map[string]string{
		"/rest/api/2/issue/SUP-81/comment/10042":                              "/rest/api/2/issue/{key}/comment/{id}",
		"/rest/api/3/issue/SUP-81/comment/10042/properties/sd.public.comment": "/rest/api/3/issue/{key}/comment/{id}/properties/sd.public.comment",
		"/rest/servicedeskapi/servicedesk/7/attachTemporaryFile":              "/rest/servicedeskapi/servicedesk/{id}/attachTemporaryFile",
		"/rest/api/3/issue/SUP-81?fields=status":                              "/rest/api/3/issue/{key}",
		"/rest/api/3/project/SUP/x%20y/../Anna Schmidt":                       "/rest/api/3/project/{…}/{…}/{…}/{…}",
		"/rest/servicedeskapi/request":                                        "/rest/servicedeskapi/request",
	} {
		if got := PathShape(in); got != want {
			t.Errorf("PathShape(%q) = %q, want %q", in, got, want)
		}
	}
	err := (&StatusError{Method: "POST", Path: "/rest/servicedeskapi/request/SUP-81/comment", Status: 503}).Error()
	if strings.Contains(err, "SUP-81") || !strings.Contains(err, "request/{key}/comment: status 503") {
		t.Errorf("StatusError: %q", err)
	}
}

func TestCreateRequestLabelsAndARequestTypeWithoutThem(t *testing.T) {
	refused := `{"errorMessage":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown.","errors":[{"fieldId":"labels","errorMessage":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}]}`
	tests := []struct {
		name      string
		first     uint16
		unlabeled bool
		calls     int
	}{
		{"labels go in requestFieldValues", 201, false, 1},
		{"a refusal of the labels raises the request without them", 400, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := sdktest.NewEnv()
			created := string(fixture(t, "request_created.json"))
			env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
				if len(env.JiraAPI.Requests()) == 1 && tt.first == 400 {
					return &abi.Response{Status: 400, Body: []byte(refused)}, nil
				}
				return &abi.Response{Status: 201, Body: []byte(created)}, nil
			}
			c := &Client{API: env.Jira}
			got, err := c.CreateRequest(NewRequest{ServiceDeskID: "2", RequestTypeID: "11", Summary: "s", Labels: []string{"chatbridge-telegram"}})
			if err != nil || got.IssueKey != "SUP-1" || got.Unlabeled != tt.unlabeled {
				t.Fatalf("got %+v, %v", got, err)
			}
			reqs := env.JiraAPI.Requests()
			if len(reqs) != tt.calls {
				t.Fatalf("%d calls", len(reqs))
			}
			var first, last struct {
				RequestFieldValues map[string]any `json:"requestFieldValues"`
			}
			_ = json.Unmarshal(reqs[0].Body, &first)
			_ = json.Unmarshal(reqs[len(reqs)-1].Body, &last)
			if l, _ := json.Marshal(first.RequestFieldValues["labels"]); string(l) != `["chatbridge-telegram"]` {
				t.Errorf("first call's labels %s", l)
			}
			if _, has := last.RequestFieldValues["labels"]; has == tt.unlabeled {
				t.Errorf("last call %s", reqs[len(reqs)-1].Body)
			}
		})
	}
	t.Run("another field's refusal is not retried", func(t *testing.T) {
		env, c := fakeJira(400, `{"errorMessage":"x","errors":[{"fieldId":"summary","errorMessage":"x"}]}`)
		if _, err := c.CreateRequest(NewRequest{ServiceDeskID: "2", RequestTypeID: "11", Summary: "s", Labels: []string{"a"}}); err == nil {
			t.Fatal("no error")
		}
		if n := len(env.JiraAPI.Requests()); n != 1 {
			t.Errorf("%d calls", n)
		}
	})
}
