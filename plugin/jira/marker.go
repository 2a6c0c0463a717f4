package jira

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OpProperty is the entity property the bridge marks what it creates in
// Jira with: {"id": "<op>"}, the id of the unit of work that created it.
// Jira keeps the mark, so that a delivery retried after a crash can find
// out whether its predecessor's call went through.
const OpProperty = "chatbridge.op"

// ErrBadOp: an op id that cannot be put into JQL or a property.
var ErrBadOp = fmt.Errorf("jira: malformed op id")

// opPattern keeps op ids short and free of quotes and content.
var opPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ValidOp reports whether op can be used as an op id.
func ValidOp(op string) bool { return opPattern.MatchString(op) }

type opValue struct {
	ID string `json:"id"`
}

// AddMarkedComment adds a comment through the platform API,
// POST /rest/api/2/issue/{key}/comment, with its visibility as the
// sd.public.comment property and op as chatbridge.op, both set in the same
// call: the comment never exists without its mark.
func (c *Client) AddMarkedComment(issueKey, body string, public bool, op string) (string, error) {
	if err := checkKey(issueKey); err != nil {
		return "", err
	}
	if !ValidOp(op) {
		return "", ErrBadOp
	}
	in := map[string]any{
		"body": body,
		"properties": []map[string]any{
			{"key": "sd.public.comment", "value": map[string]bool{"internal": !public}},
			{"key": OpProperty, "value": opValue{op}},
		},
	}
	var out struct {
		ID flexString `json:"id"`
	}
	err := c.doJSON("POST", "/rest/api/2/issue/"+issueKey+"/comment", in, &out)
	return string(out.ID), err
}

// MarkComment sets chatbridge.op on a comment created without it:
// PUT /rest/api/2/comment/{commentId}/properties/chatbridge.op (issueKey is
// checked, not sent: comment ids are unique on the site).
func (c *Client) MarkComment(issueKey, commentID, op string) error {
	if err := checkKey(issueKey); err != nil {
		return err
	}
	if err := checkID(commentID); err != nil {
		return err
	}
	if !ValidOp(op) {
		return ErrBadOp
	}
	return c.doJSON("PUT", "/rest/api/2/comment/"+commentID+"/properties/"+OpProperty, opValue{op}, nil)
}

// MarkIssue sets chatbridge.op on an issue.
func (c *Client) MarkIssue(issueKey, op string) error {
	if err := checkKey(issueKey); err != nil {
		return err
	}
	if !ValidOp(op) {
		return ErrBadOp
	}
	return c.doJSON("PUT", "/rest/api/2/issue/"+issueKey+"/properties/"+OpProperty, opValue{op}, nil)
}

// MarkedComment is a comment as the platform API lists it, with the bridge's mark.
type MarkedComment struct {
	ID       string
	AuthorID string
	Body     string // wiki markup
	Created  time.Time
	// Op is its chatbridge.op mark; "" when it has none.
	Op string
}

// maxComments bounds Comments: 10 pages of 100, and the most ids one
// comment/list call takes.
const maxComments = 1000

// jiraTime is the platform API's timestamp format.
const jiraTime = "2006-01-02T15:04:05.000-0700"

// Comments lists an issue's comments, newest first, up to maxComments, with
// the marks of those written by author ("": of all of them). Jira documents
// expand=properties only for comments fetched by id, not for an issue's
// listing (which takes renderedBody alone), so this takes two documented
// calls: GET /rest/api/2/issue/{key}/comment?orderBy=-created, page by page,
// then POST /rest/api/2/comment/list?expand=properties with the ids
// (RATIONALE.md, "Why are marks read through comment/list?").
func (c *Client) Comments(issueKey, author string) ([]MarkedComment, error) {
	if err := checkKey(issueKey); err != nil {
		return nil, err
	}
	var all []MarkedComment
	for start := 0; start < maxComments; {
		q := url.Values{"orderBy": {"-created"}, "startAt": {strconv.Itoa(start)}, "maxResults": {"100"}}
		var out struct {
			Total    int          `json:"total"`
			Comments []rawComment `json:"comments"`
		}
		if err := c.do("GET", "/rest/api/2/issue/"+issueKey+"/comment?"+q.Encode(), nil, nil, &out); err != nil {
			return nil, err
		}
		for _, raw := range out.Comments {
			if len(all) < maxComments {
				all = append(all, raw.marked())
			}
		}
		start += len(out.Comments)
		if len(out.Comments) == 0 || start >= out.Total {
			break
		}
	}
	var ids []string
	at := map[string]int{}
	for i, cm := range all {
		if ValidID(cm.ID) && (author == "" || cm.AuthorID == author) {
			ids = append(ids, cm.ID)
			at[cm.ID] = i
		}
	}
	marks, err := c.marks(ids)
	if err != nil {
		return nil, err
	}
	for id, op := range marks {
		if i, ok := at[id]; ok {
			all[i].Op = op
		}
	}
	return all, nil
}

// marks reads the chatbridge.op of comments by id:
// POST /rest/api/2/comment/list?expand=properties {"ids": [...]}. The answer
// is a page; ids it leaves out (deleted, or beyond the page) are asked for
// again until every id was answered or a call brings nothing new.
func (c *Client) marks(ids []string) (map[string]string, error) {
	marks := map[string]string{}
	left := map[string]bool{}
	for _, id := range ids {
		left[id] = true
	}
	for len(left) > 0 {
		nums := make([]int64, 0, len(left))
		for _, id := range ids {
			if left[id] {
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					return nil, ErrBadID
				}
				nums = append(nums, n)
			}
		}
		var out struct {
			IsLast bool         `json:"isLast"`
			Values []rawComment `json:"values"`
		}
		if err := c.doJSON("POST", "/rest/api/2/comment/list?expand=properties", map[string]any{"ids": nums}, &out); err != nil {
			return nil, err
		}
		progress := false
		for _, raw := range out.Values {
			cm := raw.marked()
			if left[cm.ID] {
				delete(left, cm.ID)
				progress = true
				if cm.Op != "" {
					marks[cm.ID] = cm.Op
				}
			}
		}
		if !progress || out.IsLast {
			break
		}
	}
	return marks, nil
}

// rawComment is a comment of the platform API v2, with its properties when
// expanded.
type rawComment struct {
	ID     flexString `json:"id"`
	Author struct {
		AccountID string `json:"accountId"`
	} `json:"author"`
	Body       json.RawMessage `json:"body"`
	Created    string          `json:"created"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

func (raw rawComment) marked() MarkedComment {
	cm := MarkedComment{ID: string(raw.ID), AuthorID: raw.Author.AccountID}
	_ = json.Unmarshal(raw.Body, &cm.Body) // v2 bodies are strings
	cm.Created, _ = time.Parse(jiraTime, raw.Created)
	for _, p := range raw.Properties {
		if p.Key == OpProperty {
			var v opValue
			if json.Unmarshal(p.Value, &v) == nil {
				cm.Op = v.ID
			}
		}
	}
	return cm
}

// Found is an issue a search returned.
type Found struct {
	Key, ID     string
	Summary     string
	Description string // wiki markup
	Created     time.Time
	// Op is its chatbridge.op mark; "" when it has none.
	Op string
}

// RecentIssues lists the issues of project that the app's account created
// in the last since (rounded up to whole minutes), newest first, with
// their marks: POST /rest/api/2/search/jql with
//
//	project = "<KEY>" AND creator = currentUser() AND created >= -<n>m ORDER BY created DESC
//
// Jira's search index lags writes by a moment: an issue created a few
// seconds ago may be missing.
func (c *Client) RecentIssues(project string, since time.Duration) ([]Found, error) {
	if !projectPattern.MatchString(project) {
		return nil, ErrBadID
	}
	minutes := max(int64((since+time.Minute-1)/time.Minute), 1)
	jql := `project = "` + project + `" AND creator = currentUser() AND created >= -` + strconv.FormatInt(minutes, 10) + `m ORDER BY created DESC`
	var all []Found
	token := ""
	for range maxPages {
		in := map[string]any{"jql": jql, "fields": []string{"summary", "description", "created"},
			"properties": []string{OpProperty}, "maxResults": 50}
		if token != "" {
			in["nextPageToken"] = token
		}
		var out struct {
			Issues []struct {
				ID     flexString `json:"id"`
				Key    string     `json:"key"`
				Fields struct {
					Summary     string          `json:"summary"`
					Description json.RawMessage `json:"description"`
					Created     string          `json:"created"`
				} `json:"fields"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"issues"`
			NextPageToken string `json:"nextPageToken"`
			IsLast        *bool  `json:"isLast"`
		}
		if err := c.doJSON("POST", "/rest/api/2/search/jql", in, &out); err != nil {
			return nil, err
		}
		for _, is := range out.Issues {
			f := Found{Key: is.Key, ID: string(is.ID), Summary: is.Fields.Summary}
			_ = json.Unmarshal(is.Fields.Description, &f.Description)
			f.Created, _ = time.Parse(jiraTime, is.Fields.Created)
			if raw, ok := is.Properties[OpProperty]; ok {
				var v opValue
				if json.Unmarshal(raw, &v) == nil {
					f.Op = v.ID
				}
			}
			if ValidIssueKey(f.Key) {
				all = append(all, f)
			}
		}
		if out.NextPageToken == "" || out.IsLast != nil && *out.IsLast || len(out.Issues) == 0 {
			break
		}
		token = out.NextPageToken
	}
	return all, nil
}

var projectPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)

// SameText reports whether two wiki bodies are the same text, ignoring the
// line-ending and trailing-space normalization Jira applies on storage.
func SameText(a, b string) bool { return normalize(a) == normalize(b) }

func normalize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(s)
}
