package host

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// jiraEventTypes maps Jira admin webhook events to the Forge product events
// a manifest subscribes to.
var jiraEventTypes = map[string]string{
	"comment_created":    "avi:jira:commented:issue",
	"comment_updated":    "avi:jira:commented:issue",
	"jira:issue_created": "avi:jira:created:issue",
	"jira:issue_updated": "avi:jira:updated:issue",
	"jira:issue_deleted": "avi:jira:deleted:issue",
}

// JiraWebhook authenticates a Jira admin webhook delivery with the
// installation's webhook secret (X-Hub-Signature: sha256=<hex>), in constant
// time and before the sandbox is entered, and delivers it as a product event.
// The answer is what Jira should see: 2xx when done or ignored, 401 for a bad
// signature, 5xx to make Jira retry.
func (h *Host) JiraWebhook(ctx context.Context, id string, req *abi.WebTriggerRequest) *abi.Response {
	if req.Method != "POST" {
		return &abi.Response{Status: 405}
	}
	secret, err := h.registry.WebhookSecret(ctx, id)
	if err != nil {
		h.log.Warn("jira webhook for an installation without a secret", "installation", id)
		return &abi.Response{Status: 404}
	}
	if !validHubSignature(secret, req.Body, abi.Get(req.Headers, "X-Hub-Signature")) {
		h.log.Warn("jira webhook signature does not verify", "installation", id)
		return &abi.Response{Status: 401}
	}
	var head struct {
		WebhookEvent string `json:"webhookEvent"`
	}
	if err := json.Unmarshal(req.Body, &head); err != nil {
		return &abi.Response{Status: 400}
	}
	eventType, ok := jiraEventTypes[head.WebhookEvent]
	if !ok {
		return &abi.Response{Status: 202}
	}
	switch err := h.Event(ctx, id, eventType, req.Body); {
	case err == nil:
		return &abi.Response{Status: 200}
	case errors.Is(err, ErrNoTrigger):
		return &abi.Response{Status: 202}
	default:
		h.log.Warn("jira event failed", "installation", id, "event", eventType, "err", err.Error())
		return &abi.Response{Status: 503}
	}
}

// validHubSignature checks "sha256=<hex HMAC-SHA256 of body>".
func validHubSignature(secret, body []byte, header string) bool {
	hexMAC, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), got)
}

// SignJiraBody returns the X-Hub-Signature value Jira would send for body;
// the Jira simulator and tests use it.
func SignJiraBody(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return fmt.Sprintf("sha256=%x", m.Sum(nil))
}

// causedBy reports whether the account caused a product event: Forge's
// selfGenerated flag, or the actor of a Jira webhook (the event's user, or
// for a comment event without one, whoever last wrote the comment). An
// empty account causes nothing.
func causedBy(payload []byte, account string) bool {
	var ev struct {
		SelfGenerated bool `json:"selfGenerated"`
		User          *struct {
			AccountID string `json:"accountId"`
		} `json:"user"`
		Comment *struct {
			Author struct {
				AccountID string `json:"accountId"`
			} `json:"author"`
			UpdateAuthor *struct {
				AccountID string `json:"accountId"`
			} `json:"updateAuthor"`
		} `json:"comment"`
	}
	if account == "" || json.Unmarshal(payload, &ev) != nil {
		return false
	}
	switch {
	case ev.SelfGenerated:
		return true
	case ev.User != nil:
		return ev.User.AccountID == account
	case ev.Comment != nil && ev.Comment.UpdateAuthor != nil:
		return ev.Comment.UpdateAuthor.AccountID == account
	case ev.Comment != nil:
		return ev.Comment.Author.AccountID == account
	}
	return false
}
