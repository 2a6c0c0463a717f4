package telegram

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// pending is an update not yet delivered; guarded by Sim.mu.
type pending struct {
	id       int64
	chatID   int64
	body     []byte
	created  time.Time // real clock
	attempts int
	next     time.Time // real clock: not before this
	inflight bool
}

// notByDefault are the update types a bot gets only when it lists them in
// allowed_updates.
var notByDefault = []string{"chat_member", "message_reaction", "message_reaction_count"}

// enqueue gives an update its id and queues it for delivery; s.mu is held.
// It returns nil when allowed_updates filters the update out (Telegram does
// not make it at all then).
func (s *Sim) enqueue(b *bot, u *Update, chatID int64) *pending {
	if len(b.hook.allowed) > 0 && !slices.Contains(b.hook.allowed, u.kind()) {
		return nil
	}
	if len(b.hook.allowed) == 0 && slices.Contains(notByDefault, u.kind()) {
		// "By default, all update types except chat_member,
		// message_reaction, and message_reaction_count" (setWebhook).
		return nil
	}
	u.UpdateID = b.nextUpdateID
	b.nextUpdateID++
	body, err := json.Marshal(u)
	if err != nil {
		return nil
	}
	p := &pending{id: u.UpdateID, chatID: chatID, body: body, created: time.Now()}
	b.queue = append(b.queue, p)
	s.enqueued++
	close(b.newUpdate)
	b.newUpdate = make(chan struct{})
	return p
}

// Activity counts the updates waiting for, or in, delivery to a webhook
// (updates of a bot without a webhook wait for getUpdates, not for the
// simulator, and are not counted).
func (s *Sim) Activity() simctl.Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := simctl.Activity{Started: s.enqueued}
	for _, b := range s.bots {
		if b.hook.url != "" {
			a.Pending += int64(len(b.queue))
		}
	}
	return a
}

// poke wakes the dispatcher.
func (s *Sim) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// claim marks p as being delivered if it may go now: a webhook is set, no
// earlier update of its chat is waiting, it is due, and the webhook's
// max_connections allows another delivery. s.mu is held.
func (s *Sim) claim(b *bot, p *pending, now time.Time) (webhook, bool) {
	if s.closed || b.hook.url == "" || p.inflight || now.Before(p.next) || b.inflight >= b.hook.maxConnections {
		return webhook{}, false
	}
	for _, q := range b.queue {
		if q == p {
			break
		}
		if q.chatID == p.chatID {
			return webhook{}, false // in order per chat
		}
	}
	p.inflight = true
	b.inflight++
	return b.hook, true
}

// dispatch starts the deliveries that are due, until Close.
func (s *Sim) dispatch() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		next := s.startDue()
		s.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// startDue starts every delivery that may go and returns when the next
// waiting one is due (zero: none). s.mu is held.
func (s *Sim) startDue() time.Time {
	var next time.Time
	now := time.Now()
	for _, b := range s.bots {
		if b.hook.url == "" {
			continue
		}
		seen := map[int64]bool{}
		for _, p := range b.queue {
			if seen[p.chatID] {
				continue
			}
			seen[p.chatID] = true
			if p.inflight {
				continue
			}
			if now.Before(p.next) {
				if next.IsZero() || p.next.Before(next) {
					next = p.next
				}
				continue
			}
			hook, ok := s.claim(b, p, now)
			if !ok {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.deliver(b, p, hook)
			}()
		}
	}
	return next
}

// deliver makes one delivery attempt of p to hook and settles the outcome;
// p was claimed. It returns the webhook's status (0 on a network error).
func (s *Sim) deliver(b *bot, p *pending, hook webhook) (int, error) {
	status, reply, err := s.post(hook, p.body)
	s.mu.Lock()
	p.inflight = false
	b.inflight--
	p.attempts++
	now := time.Now()
	if err == nil && status/100 == 2 {
		b.remove(p)
		s.delivered++
	} else {
		b.lastErrorDate = s.now().Unix()
		b.lastErrorMessage = deliveryError(status, err)
		if (s.cfg.MaxAttempts > 0 && p.attempts >= s.cfg.MaxAttempts) || now.Sub(p.created) >= s.cfg.MaxUpdateAge {
			if b.remove(p) {
				s.dropped++
			}
		} else {
			delay := s.cfg.RetryDelay << min(p.attempts-1, 20)
			p.next = now.Add(min(delay, s.cfg.MaxRetryDelay))
		}
	}
	s.mu.Unlock()
	s.poke()
	if reply != nil {
		s.webhookReply(b, reply)
	}
	return status, err
}

// remove takes p out of the queue; false if it was no longer there.
func (b *bot) remove(p *pending) bool {
	i := slices.Index(b.queue, p)
	if i < 0 {
		return false
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	return true
}

// maxReply bounds the webhook answer the simulator reads.
const maxReply = 1 << 20

// post sends one delivery. A 2xx answer with a JSON body naming a "method"
// is returned as reply: Telegram runs it as a Bot API call.
func (s *Sim) post(hook webhook, body []byte) (status int, reply map[string]json.RawMessage, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if hook.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hook.secret)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if resp.StatusCode/100 == 2 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) == nil && m["method"] != nil {
			reply = m
		}
	}
	return resp.StatusCode, reply, nil
}

// webhookReply runs the method a webhook answered with; Telegram reports
// no result for it.
func (s *Sim) webhookReply(b *bot, reply map[string]json.RawMessage) {
	var name string
	if json.Unmarshal(reply["method"], &name) != nil {
		return
	}
	m, ok := methods[strings.ToLower(name)]
	if !ok {
		return
	}
	delete(reply, "method")
	a := &args{json: reply, files: map[string]*upload{}}
	a.form = make(map[string][]string)
	s.call(s.ctx, b, m, a)
}

// deliveryError is getWebhookInfo's last_error_message for an attempt, in
// Telegram's words.
func deliveryError(status int, err error) string {
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch {
	case err == nil:
		return fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostErr):
		return "SSL error {error:0A000086:SSL routines::certificate verify failed}"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "Read timeout expired"
	default:
		return "Connection failed"
	}
}
