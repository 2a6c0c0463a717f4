package jiraevent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// ErrNoTrigger is returned for an event no trigger of the manifest subscribes to.
var ErrNoTrigger = errors.New("jiraevent: no trigger subscribes to the event")

// eventTypes maps Jira admin webhook events to the Forge product events
// a manifest subscribes to.
var eventTypes = map[string]string{
	"comment_created":    "avi:jira:commented:issue",
	"comment_updated":    "avi:jira:commented:issue",
	"jira:issue_created": "avi:jira:created:issue",
	"jira:issue_updated": "avi:jira:updated:issue",
	"jira:issue_deleted": "avi:jira:deleted:issue",
}

// Events are the Jira admin webhook events the manifest's triggers need,
// sorted: what the installation's Jira webhook subscribes to.
func Events(m *bundle.Manifest) []string {
	var out []string
	for jira, product := range eventTypes {
		for _, t := range m.Modules.Trigger {
			if slices.Contains(t.Events, product) {
				out = append(out, jira)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// URL is where Jira's webhooks for an installation are to be sent.
func URL(h *host.Host, in tenant.Installation) string {
	return publicurl.JiraEvents(h.PublicURL(), in.Routes[tenant.JiraEventsRoute])
}

// Webhook authenticates a Jira admin webhook delivery with the
// installation's webhook secret (X-Hub-Signature: sha256=<hex>), in constant
// time and before the sandbox is entered, and delivers it as a product event.
// The answer is what Jira should see: 2xx when done or ignored, 401 for a bad
// signature, 5xx to make Jira retry.
func Webhook(ctx context.Context, h *host.Host, id string, req *abi.WebTriggerRequest) *abi.Response {
	log := h.Logger()
	if req.Method != "POST" {
		return &abi.Response{Status: 405}
	}
	secret, err := h.Registry().WebhookSecret(ctx, id)
	if err != nil {
		log.Warn("jira webhook for an installation without a secret", "installation", id)
		return &abi.Response{Status: 404}
	}
	if sig := abi.Get(req.Headers, "X-Hub-Signature"); !validSignature(secret, req.Body, sig) {
		// Within a day of a rotation, Jira may still sign with the old
		// secret (tenant.WebhookSecretGrace).
		prev, err := h.Registry().PreviousWebhookSecret(ctx, id)
		if err != nil || prev == nil || !validSignature(prev, req.Body, sig) {
			log.Warn("jira webhook signature does not verify", "installation", id)
			return &abi.Response{Status: 401}
		}
		log.Warn("jira webhook signed with the previous secret: enter the new one in Jira", "installation", id)
	}
	h.Registry().NoteJiraDelivery(id, time.Now())
	var head struct {
		WebhookEvent string `json:"webhookEvent"`
	}
	if err := json.Unmarshal(req.Body, &head); err != nil {
		return &abi.Response{Status: 400}
	}
	eventType, ok := eventTypes[head.WebhookEvent]
	if !ok {
		return &abi.Response{Status: 202}
	}
	switch err := Deliver(ctx, h, id, eventType, req.Body); {
	case err == nil:
		return &abi.Response{Status: 200}
	case errors.Is(err, ErrNoTrigger):
		return &abi.Response{Status: 202}
	default:
		log.Warn("jira event failed", "installation", id, "event", eventType, "err", err.Error())
		return &abi.Response{Status: 503}
	}
}

// Deliver runs every trigger that subscribes to eventType, all on the bundle
// running when it is called.
func Deliver(ctx context.Context, h *host.Host, id, eventType string, payload []byte) error {
	r, err := h.Acquire()
	if err != nil {
		return err
	}
	defer r.Release()
	return DeliverOn(ctx, r, h, id, eventType, payload)
}

// DeliverOn is Deliver on a bundle the caller holds.
func DeliverOn(ctx context.Context, r *host.Running, h *host.Host, id, eventType string, payload []byte) error {
	delivered := false
	for _, t := range r.Manifest().Modules.Trigger {
		if !slices.Contains(t.Events, eventType) {
			continue
		}
		delivered = true
		if t.Filter.IgnoreSelf {
			if in, ok := h.Registry().Get(id); ok && causedBy(payload, in.AppAccountID) {
				// Forge's filter.ignoreSelf: the app's own comments come back
				// as events; dropping them here saves an invocation each.
				continue
			}
		}
		if _, err := r.Invoke(ctx, host.Invocation{
			Installation: id, Kind: bundle.KindTrigger, Export: abi.ExportHandleEvent, Op: "trigger " + eventType,
			Encode: func(c abi.Context) []byte {
				ev := abi.Event{Context: c, Trigger: t.Key, Type: eventType, Payload: payload}
				return ev.Append(nil)
			},
		}); err != nil {
			return err
		}
	}
	if !delivered {
		return fmt.Errorf("%w: %s", ErrNoTrigger, eventType)
	}
	return nil
}

// validSignature checks "sha256=<hex HMAC-SHA256 of body>".
func validSignature(secret, body []byte, header string) bool {
	hexMAC, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	return hmac.Equal(mac(secret, body), got)
}

// Sign returns the X-Hub-Signature value Jira sends for body.
func Sign(secret, body []byte) string { return "sha256=" + hex.EncodeToString(mac(secret, body)) }

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}
