package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
)

// Delivery is one webhook delivery attempt, as GET /_sim/jira/deliveries
// lists it.
type Delivery struct {
	// Event is the payload's webhookEvent.
	Event string `json:"event"`
	// Identifier is X-Atlassian-Webhook-Identifier: the same for every
	// attempt of one event.
	Identifier string `json:"identifier"`
	// Attempt is 0 for the first delivery, n for the one carrying
	// X-Atlassian-Webhook-Retry: n.
	Attempt int `json:"attempt"`
	// Webhook is the id of the webhook registered through the REST API
	// it went to; empty for the one entered in Jira's settings page.
	Webhook string `json:"webhook,omitempty"`
	// Status is the webhook's answer; 0 when none came.
	Status int `json:"status"`
	// Error is why no answer came (timeout, refused...).
	Error string `json:"error,omitempty"`
}

// WebhookResult is the outcome of an event's first delivery, as control
// calls answer it.
type WebhookResult struct {
	Event  string `json:"event"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// event is one webhook payload to deliver.
type event struct {
	name, id string
	body     []byte
}

// maxDeliveries bounds the delivery log.
const maxDeliveries = 1000

// newEventLocked makes an event from a payload; s.mu is held.
func (s *Sim) newEventLocked(name string, payload map[string]any) *event {
	payload["timestamp"] = s.now().UnixMilli()
	payload["webhookEvent"] = name
	body, _ := json.Marshal(payload)
	return &event{name: name, id: s.newIDLocked(), body: body}
}

// commentEventsLocked are the events of a new comment: Jira fires both
// comment_created and jira:issue_updated (issue_commented) for one comment.
// changelog, when set, goes into the issue_updated event (attachments).
// s.mu is held.
func (s *Sim) commentEventsLocked(r *request, c *comment, actor account, changelog []map[string]any) []*event {
	var body any = c.wiki
	if c.fireADF {
		body = c.adf
	}
	created := s.newEventLocked("comment_created", map[string]any{
		"comment": s.commentJSON(r, c, body),
		"issue":   s.issueJSON(r, nil, false),
	})
	updated := map[string]any{
		"issue_event_type_name": "issue_commented",
		"user":                  s.userJSON(actor),
		"issue":                 s.issueJSON(r, nil, false),
		"comment":               s.commentJSON(r, c, body),
	}
	if changelog != nil {
		updated["changelog"] = map[string]any{"id": s.newIDLocked(), "items": changelog}
	}
	if changelog != nil {
		// An attachment is an issue change first, then a comment.
		return []*event{s.newEventLocked("jira:issue_updated", updated), created}
	}
	return []*event{created, s.newEventLocked("jira:issue_updated", updated)}
}

// commentUpdatedLocked is the event of an edited comment; s.mu is held.
func (s *Sim) commentUpdatedLocked(r *request, c *comment) *event {
	var body any = c.wiki
	if c.fireADF {
		body = c.adf
	}
	return s.newEventLocked("comment_updated", map[string]any{
		"comment": s.commentJSON(r, c, body),
		"issue":   s.issueJSON(r, nil, false),
	})
}

// target is where one event's deliveries go: the webhook entered in
// Jira's settings page (hook "") or one registered through the REST API.
type target struct {
	hook, url, secret string
	excludeBody       bool
}

// targets are the webhooks that take an event now: the settings page's
// takes every event, a registered one the events and issues it names.
func (s *Sim) targets(ev *event) []target {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []target
	if s.hook.URL != "" {
		out = append(out, target{url: s.hook.URL, secret: s.hook.Secret})
	}
	for _, h := range s.adminHooks {
		if h.wants(ev.name, s.cfg.ProjectKey) {
			out = append(out, target{hook: strconv.FormatInt(h.ID, 10), url: h.URL, secret: h.Secret, excludeBody: h.ExcludeBody})
		}
	}
	return out
}

// deliver makes the first attempt of each event to each webhook that takes
// it, in order, and leaves failed ones to retry in the background.
func (s *Sim) deliver(evs []*event) []WebhookResult {
	out := []WebhookResult{}
	for _, ev := range evs {
		s.keep(ev)
		ts := s.targets(ev)
		if len(ts) == 0 || s.ctx.Err() != nil {
			out = append(out, WebhookResult{Event: ev.name, Error: "no webhook registered"})
			continue
		}
		for _, t := range ts {
			status, err := s.attempt(ev, t, 0)
			res := WebhookResult{Event: ev.name, Status: status}
			if err != nil {
				res.Error = err.Error()
			}
			out = append(out, res)
			if retryable(status, err) {
				s.spawn(func() { s.retry(ev, t) })
			}
		}
	}
	return out
}

// keep remembers a delivered event for redeliver, the last maxDeliveries.
func (s *Sim) keep(ev *event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.events[ev.id]; ok {
		return
	}
	s.events[ev.id] = ev
	s.eventOrder = append(s.eventOrder, ev.id)
	if len(s.eventOrder) > maxDeliveries {
		delete(s.events, s.eventOrder[0])
		s.eventOrder = s.eventOrder[1:]
	}
}

// redeliver sends a delivered event again, byte for byte, as Jira's next
// retry of it (X-Atlassian-Webhook-Retry one more than its last attempt):
// what Jira does when it did not see the answer to a delivery that the app
// had in fact processed. ok is false for an unknown identifier.
func (s *Sim) redeliver(id string) (res WebhookResult, ok bool) {
	s.mu.Lock()
	ev := s.events[id]
	n := 0
	for _, d := range s.deliveries {
		if d.Identifier == id && d.Attempt >= n {
			n = d.Attempt + 1
		}
	}
	s.mu.Unlock()
	if ev == nil {
		return WebhookResult{}, false
	}
	ts := s.targets(ev)
	if len(ts) == 0 || s.ctx.Err() != nil {
		return WebhookResult{Event: ev.name, Error: "no webhook registered"}, true
	}
	for i, t := range ts {
		status, err := s.attempt(ev, t, n)
		if i == 0 {
			res = WebhookResult{Event: ev.name, Status: status}
			if err != nil {
				res.Error = err.Error()
			}
		}
	}
	return res, true
}

// deliverLater delivers in the background: events of the bridge's own
// calls, which Jira sends after answering.
func (s *Sim) deliverLater(evs []*event) {
	if len(evs) > 0 {
		s.spawn(func() { s.deliver(evs) })
	}
}

// spawn runs f on a goroutine Close waits for.
func (s *Sim) spawn(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	done := s.busy.Begin()
	go func() {
		defer s.wg.Done()
		defer done()
		f()
	}()
}

// Activity counts the webhook deliveries and retries under way.
func (s *Sim) Activity() simctl.Activity { return s.busy.Activity() }

// retry redelivers an event to a webhook with back-off until it is taken,
// the attempts run out, the webhook is gone or the simulator closes.
func (s *Sim) retry(ev *event, t target) {
	delay := s.cfg.RetryDelay
	for n := 1; n < s.cfg.MaxAttempts; n++ {
		timer := time.NewTimer(delay)
		select {
		case <-s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(delay*2, s.cfg.MaxRetryDelay)
		if !slices.ContainsFunc(s.targets(ev), func(c target) bool { return c.hook == t.hook && c.url == t.url }) {
			return
		}
		status, err := s.attempt(ev, t, n)
		if !retryable(status, err) {
			return
		}
	}
}

// retryable is Jira's rule: 408, 409, 425, 429, 5xx and no answer.
func retryable(status int, err error) bool {
	if err != nil {
		return true
	}
	switch status {
	case 408, 409, 425, 429:
		return true
	}
	return status >= 500
}

// attempt posts one delivery of an event to a webhook.
func (s *Sim) attempt(ev *event, t target, n int) (status int, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
	defer cancel()
	body := ev.body
	if t.excludeBody {
		body = nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Webhook: t.hook, Error: err.Error()})
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
	req.Header.Set("X-Atlassian-Webhook-Identifier", ev.id)
	if t.secret != "" {
		req.Header.Set("X-Hub-Signature", jiraevent.Sign([]byte(t.secret), body))
	}
	if n > 0 {
		req.Header.Set("X-Atlassian-Webhook-Retry", strconv.Itoa(n))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		err = deliveryError(err)
		s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Webhook: t.hook, Error: err.Error()})
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Webhook: t.hook, Status: resp.StatusCode})
	return resp.StatusCode, nil
}

// deliveryError names a failed delivery briefly.
func deliveryError(err error) error {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return errors.New("timeout")
	}
	return err
}

func (s *Sim) record(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	if len(s.deliveries) > maxDeliveries {
		s.deliveries = s.deliveries[len(s.deliveries)-maxDeliveries:]
	}
}
