package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Event is what a webhook reports, normalised over admin webhooks and Forge
// product events.
type Event string

// Events the bridge distinguishes.
const (
	CommentCreated Event = "comment_created"
	CommentUpdated Event = "comment_updated"
	IssueUpdated   Event = "issue_updated"
	IssueCreated   Event = "issue_created"
	Other          Event = "other"
)

// Webhook is a decoded Jira webhook or Forge product event.
type Webhook struct {
	Event Event
	// IssueEventType is issue_event_type_name of jira:issue_updated
	// ("issue_commented", "issue_generic", ...).
	IssueEventType string
	Timestamp      int64
	Issue          Issue
	Comment        *Comment   // set for comment events
	Changelog      *Changelog // set for issue updates
	// SelfGenerated is Forge's flag for events the app itself caused.
	SelfGenerated bool
}

// Issue is the part of an issue the bridge reads.
type Issue struct {
	ID         string
	Key        string
	ProjectKey string
	Status     string // status name
	// StatusCategory is the status category key: "new", "indeterminate", "done";
	// "" when the payload does not say.
	StatusCategory string
	Resolved       bool // fields.resolution is set
}

// Done reports whether the issue is resolved: status category done, or, when
// the payload has no category, a resolution.
func (i Issue) Done() bool {
	if i.StatusCategory != "" {
		return i.StatusCategory == "done"
	}
	return i.Resolved
}

// Account is a comment author.
type Account struct {
	AccountID   string `json:"accountId"`
	DisplayName string `json:"displayName"`
	AccountType string `json:"accountType"` // atlassian, app, customer
}

// Comment is a Jira comment.
type Comment struct {
	ID      string
	Author  Account
	Body    Body
	Created string
	Updated string
	// JSDPublic is jsdPublic: nil when the payload does not say.
	JSDPublic *bool
	// Restricted is set when the comment has a visibility restriction
	// (a role or group), which makes it internal.
	Restricted bool
}

// Body is a comment body: wiki markup (admin webhooks) or ADF (Forge, REST v3).
type Body struct {
	Wiki string
	ADF  json.RawMessage
}

// Empty reports whether the body has no content.
func (b Body) Empty() bool { return strings.TrimSpace(b.Wiki) == "" && len(b.ADF) == 0 }

// UnmarshalJSON accepts a string or an ADF document.
func (b *Body) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null":
		*b = Body{}
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*b = Body{Wiki: s}
	case data[0] == '{':
		if !json.Valid(data) {
			return errors.New("jira: comment body is not JSON")
		}
		*b = Body{ADF: append(json.RawMessage(nil), data...)}
	default:
		return errors.New("jira: comment body is neither wiki text nor ADF")
	}
	return nil
}

// Changelog is an issue update's list of changes.
type Changelog struct {
	ID    string
	Items []ChangeItem
}

// ChangeItem is one changed field.
type ChangeItem struct {
	Field      string `json:"field"`
	FieldID    string `json:"fieldId"`
	From       string `json:"from"`
	FromString string `json:"fromString"`
	To         string `json:"to"`
	ToString   string `json:"toString"`
}

// StatusChange returns the status item of the changelog, if any.
func (w *Webhook) StatusChange() (ChangeItem, bool) {
	if w.Changelog == nil {
		return ChangeItem{}, false
	}
	for _, it := range w.Changelog.Items {
		if it.FieldID == "status" || it.FieldID == "" && strings.EqualFold(it.Field, "status") {
			return it, true
		}
	}
	return ChangeItem{}, false
}

// ErrMalformed reports a payload that is not a Jira webhook.
var ErrMalformed = errors.New("jira: malformed webhook")

type issueFields struct {
	Summary string `json:"summary"`
	Status  struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"status"`
	Project struct {
		Key string `json:"key"`
	} `json:"project"`
	Resolution json.RawMessage `json:"resolution"`
}

type wireWebhook struct {
	WebhookEvent       string `json:"webhookEvent"`
	EventType          string `json:"eventType"`
	IssueEventTypeName string `json:"issue_event_type_name"`
	Timestamp          int64  `json:"timestamp"`
	SelfGenerated      bool   `json:"selfGenerated"`
	Issue              *struct {
		ID     flexString  `json:"id"`
		Key    string      `json:"key"`
		Fields issueFields `json:"fields"`
	} `json:"issue"`
	Comment *struct {
		ID         flexString      `json:"id"`
		Author     Account         `json:"author"`
		Body       Body            `json:"body"`
		Created    string          `json:"created"`
		Updated    string          `json:"updated"`
		JSDPublic  *bool           `json:"jsdPublic"`
		Visibility json.RawMessage `json:"visibility"`
	} `json:"comment"`
	Changelog *struct {
		ID    flexString   `json:"id"`
		Items []ChangeItem `json:"items"`
	} `json:"changelog"`
}

// ParseWebhook decodes a webhook payload. eventType is the product event
// the host delivered it as (avi:jira:commented:issue, ...), used when the
// payload does not name its event itself.
func ParseWebhook(eventType string, payload []byte) (*Webhook, error) {
	var in wireWebhook
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, sdk.JSONError(err))
	}
	if in.Issue == nil || in.Issue.Key == "" {
		return nil, fmt.Errorf("%w: no issue", ErrMalformed)
	}
	w := &Webhook{
		IssueEventType: in.IssueEventTypeName,
		Timestamp:      in.Timestamp,
		SelfGenerated:  in.SelfGenerated,
		Issue: Issue{
			ID:             string(in.Issue.ID),
			Key:            in.Issue.Key,
			ProjectKey:     in.Issue.Fields.Project.Key,
			Status:         in.Issue.Fields.Status.Name,
			StatusCategory: in.Issue.Fields.Status.StatusCategory.Key,
			Resolved:       len(in.Issue.Fields.Resolution) > 0 && string(in.Issue.Fields.Resolution) != "null",
		},
	}
	if c := in.Comment; c != nil && c.ID != "" {
		w.Comment = &Comment{
			ID: string(c.ID), Author: c.Author, Body: c.Body, Created: c.Created, Updated: c.Updated,
			JSDPublic: c.JSDPublic, Restricted: restricted(c.Visibility),
		}
	}
	if cl := in.Changelog; cl != nil {
		w.Changelog = &Changelog{ID: string(cl.ID), Items: cl.Items}
	}
	name := in.WebhookEvent
	if name == "" {
		name = in.EventType
	}
	if name == "" {
		name = eventType
	}
	w.Event = classify(name, w)
	return w, nil
}

// restricted reports whether a visibility value restricts the comment.
func restricted(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return false
	}
	var vis struct {
		Type       string `json:"type"`
		Value      string `json:"value"`
		Identifier string `json:"identifier"`
	}
	if err := json.Unmarshal(v, &vis); err != nil {
		return true // something unreadable: fail closed
	}
	return vis.Type != "" || vis.Value != "" || vis.Identifier != ""
}

func classify(name string, w *Webhook) Event {
	switch name {
	case "comment_created":
		if w.Comment != nil {
			return CommentCreated
		}
	case "comment_updated":
		if w.Comment != nil {
			return CommentUpdated
		}
	case "jira:issue_updated":
		switch {
		case w.IssueEventType == "issue_commented" && w.Comment != nil:
			return CommentCreated
		case w.IssueEventType == "issue_comment_edited" && w.Comment != nil:
			return CommentUpdated
		}
		return IssueUpdated
	case "jira:issue_created", "avi:jira:created:issue":
		return IssueCreated
	case "avi:jira:commented:issue":
		// Forge fires this on create and on edit of a comment; an edit has
		// an updated time after its created time.
		if w.Comment == nil {
			return Other
		}
		if w.Comment.Updated != "" && w.Comment.Created != "" && w.Comment.Updated != w.Comment.Created {
			return CommentUpdated
		}
		return CommentCreated
	case "avi:jira:updated:issue":
		return IssueUpdated
	}
	return Other
}

// AttachmentNames lists the attachments a comment body shows or links:
// wiki !name! and !name|options! images and [^name] links, or ADF media
// nodes with a file name (attrs.alt).
func (b Body) AttachmentNames() []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] || strings.Contains(n, "://") {
			return
		}
		seen[n] = true
		names = append(names, n)
	}
	if len(b.ADF) > 0 {
		var walk func(n *adfNode, depth int)
		walk = func(n *adfNode, depth int) {
			if depth > 64 {
				return
			}
			if n.Type == "media" && n.Attrs.Type == "file" {
				add(n.Attrs.Alt)
			}
			for i := range n.Content {
				walk(&n.Content[i], depth+1)
			}
		}
		var doc adfNode
		if json.Unmarshal(b.ADF, &doc) == nil {
			walk(&doc, 0)
		}
		return names
	}
	s := b.Wiki
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '!' && (i == 0 || s[i-1] != '\\'):
			j := strings.IndexAny(s[i+1:], "!\n")
			if j <= 0 || s[i+1+j] != '!' {
				continue
			}
			name, _, _ := strings.Cut(s[i+1:i+1+j], "|")
			if !strings.ContainsAny(name, " \t") || strings.Contains(name, ".") {
				add(name)
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "[^"):
			j := strings.IndexAny(s[i+2:], "]\n")
			if j <= 0 || s[i+2+j] != ']' {
				continue
			}
			add(s[i+2 : i+2+j])
			i += j + 2
		}
	}
	return names
}

type adfNode struct {
	Type  string `json:"type"`
	Attrs struct {
		Type string `json:"type"`
		Alt  string `json:"alt"`
	} `json:"attrs"`
	Content []adfNode `json:"content"`
}
