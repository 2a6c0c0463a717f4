package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
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

// deliver makes the first attempt of each event, in order, and leaves
// failed ones to retry in the background.
func (s *Sim) deliver(evs []*event) []WebhookResult {
	out := []WebhookResult{}
	for _, ev := range evs {
		s.keep(ev)
		status, err, ok := s.attempt(ev, 0)
		if !ok {
			out = append(out, WebhookResult{Event: ev.name, Error: "no webhook registered"})
			continue
		}
		res := WebhookResult{Event: ev.name, Status: status}
		if err != nil {
			res.Error = err.Error()
		}
		out = append(out, res)
		if retryable(status, err) {
			s.spawn(func() { s.retry(ev) })
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
	status, err, hooked := s.attempt(ev, n)
	res = WebhookResult{Event: ev.name, Status: status}
	switch {
	case !hooked:
		res.Error = "no webhook registered"
	case err != nil:
		res.Error = err.Error()
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

// retry redelivers an event with back-off until it is taken, the attempts
// run out or the simulator closes.
func (s *Sim) retry(ev *event) {
	delay := s.cfg.RetryDelay
	for n := 1; n < s.cfg.MaxAttempts; n++ {
		t := time.NewTimer(delay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, s.cfg.MaxRetryDelay)
		status, err, ok := s.attempt(ev, n)
		if !ok || !retryable(status, err) {
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

// attempt posts one delivery to the registered webhook; ok is false when
// none is registered.
func (s *Sim) attempt(ev *event, n int) (status int, err error, ok bool) {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook.URL == "" || s.ctx.Err() != nil {
		return 0, nil, false
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(ev.body))
	if err != nil {
		s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Error: err.Error()})
		return 0, err, true
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
	req.Header.Set("X-Atlassian-Webhook-Identifier", ev.id)
	if hook.Secret != "" {
		req.Header.Set("X-Hub-Signature", jiraevent.Sign([]byte(hook.Secret), ev.body))
	}
	if n > 0 {
		req.Header.Set("X-Atlassian-Webhook-Retry", strconv.Itoa(n))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		err = deliveryError(err)
		s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Error: err.Error()})
		return 0, err, true
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s.record(Delivery{Event: ev.name, Identifier: ev.id, Attempt: n, Status: resp.StatusCode})
	return resp.StatusCode, nil, true
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
