package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// resolve calls one of the bridge's admin functions on the dev site, as an
// admin would, and decodes its answer.
func (s *e2eStack) resolve(t *testing.T, function string, payload map[string]any) map[string]any {
	t.Helper()
	var in tenant.Installation
	for _, i := range s.r.Host.Registry().List() {
		if i.SiteURL == stack.Site {
			in = i
		}
	}
	body, _ := json.Marshal(payload)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := resolver.Call(ctx, s.r.Host, in.ID, function, body)
	if err != nil {
		t.Fatalf("%s: %v", function, err)
	}
	var a map[string]any
	if err := json.Unmarshal(out, &a); err != nil || a["ok"] != true {
		t.Fatalf("%s: %s", function, out)
	}
	return a
}

// labelled is a /_sim/jira/requests entry with its labels.
type labelled struct {
	Key    string   `json:"key"`
	Labels []string `json:"labels"`
}

// Issue 18, items 2, 6 (label), 7 and 10 through the HTTPS edge, the wasm
// module and the Telegram and Jira simulators: a Ukrainian customer is
// answered in Ukrainian with the new request's key and, out of hours,
// once with when the team is back; the request carries its channel's
// label; a flooding chat's messages over the limit stay out of Jira and it
// is told once; a blocked chat's messages reach Jira no more.
func TestE2E_HoursLanguageLabelsFloodAndBlockList(t *testing.T) {
	s := startE2E(t)
	// Open for a minute two days from now, in Kyiv: now is out of hours,
	// and the wasm module must know the zone (time/tzdata compiled in).
	later := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3])
	s.resolve(t, "config.set", map[string]any{"projectKey": stack.Project, "acknowledge": true, "timeZone": "Europe/Kyiv",
		"hours": map[string]any{later: []string{"12:00-12:01"}}, "floodLimit": 3, "floodWindowSeconds": 3600})

	olena := newChat()
	s.send(t, userMsg{ChatID: olena, Text: "hourse2e olena first", FirstName: "Olena"})
	req := s.waitRequest(t, "hourse2e olena")
	waitfor.Until(t, e2eWait, "the acknowledgement and the out-of-hours reply", func() string {
		if m := s.messages(t, olena); len(m) != 2 {
			return fmt.Sprintf("%d messages", len(m))
		}
		return ""
	})
	m := s.messages(t, olena)
	if !strings.Contains(m[0].Plain+m[0].Text, req.Key) || !strings.Contains(m[1].Plain+m[1].Text, "12:00 (Europe/Kyiv)") {
		t.Errorf("acknowledgement and notice: %+v", m)
	}
	s.say(t, olena, "hourse2e olena second")
	s.stable(t, "one notice per closed period", func() string {
		if n := s.request(t, req.Key).count("hourse2e olena second"); n != 1 {
			return fmt.Sprintf("the second message is in the request %d times: %+v", n, s.request(t, req.Key).Comments)
		}
		if n := len(s.messages(t, olena)); n != 2 {
			return fmt.Sprintf("%d messages to the customer", n)
		}
		return ""
	})
	var all []labelled
	s.call(t, "GET", "/_sim/jira/requests", nil, &all, http.StatusOK)
	for _, r := range all {
		if r.Key == req.Key && !slices.Equal(r.Labels, []string{"chatbridge-telegram"}) {
			t.Errorf("labels %v", r.Labels)
		}
	}

	// A Ukrainian customer is answered in Ukrainian.
	taras := newChat()
	s.send(t, userMsg{ChatID: taras, Text: "hourse2e taras", FirstName: "Taras", LanguageCode: "uk"})
	treq := s.waitRequest(t, "hourse2e taras")
	waitfor.Until(t, e2eWait, "the Ukrainian acknowledgement", func() string {
		for _, m := range s.messages(t, taras) {
			if strings.Contains(m.Plain+m.Text, "Дякуємо! Ваш запит "+treq.Key) {
				return ""
			}
		}
		return fmt.Sprintf("messages %+v", s.messages(t, taras))
	})

	// Flood: five messages, a limit of three.
	flo := newChat()
	for i := range 5 {
		s.say(t, flo, fmt.Sprintf("hourse2e flood %d", i))
	}
	s.stable(t, "three messages in Jira, one flood notice", func() string {
		reqs := s.requestsWith(t, "hourse2e flood")
		if len(reqs) != 1 {
			return fmt.Sprintf("%d requests", len(reqs))
		}
		n := 0
		for i := range 5 {
			n += reqs[0].count(fmt.Sprintf("hourse2e flood %d", i))
		}
		if n != 3 {
			return fmt.Sprintf("%d messages in Jira", n)
		}
		notices := 0
		for _, m := range s.messages(t, flo) {
			if strings.Contains(m.Plain+m.Text, "faster than we can take them") {
				notices++
			}
		}
		if notices != 1 {
			return fmt.Sprintf("%d flood notices", notices)
		}
		return ""
	})

	// Block Olena's chat by her request: her messages stay out of Jira.
	s.resolve(t, "blocks.add", map[string]any{"projectKey": stack.Project, "issueKey": req.Key})
	before := len(s.messages(t, olena))
	s.say(t, olena, "hourse2e olena blocked")
	s.say(t, taras, "hourse2e taras after") // proves the bridge went on working
	waitfor.Until(t, e2eWait, "the other chat's message", func() string {
		if !s.request(t, treq.Key).holds("hourse2e taras after") {
			return "not yet"
		}
		return ""
	})
	s.stable(t, "the blocked chat's message dropped unanswered", func() string {
		if s.request(t, req.Key).holds("hourse2e olena blocked") || len(s.requestsWith(t, "hourse2e olena blocked")) != 0 {
			return "a blocked chat's message reached Jira"
		}
		if n := len(s.messages(t, olena)); n != before {
			return fmt.Sprintf("the blocked chat got %d messages", n-before)
		}
		return ""
	})
}
