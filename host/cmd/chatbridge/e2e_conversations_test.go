package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// resolve calls one of the bridge's admin functions on the dev site, as an
// admin would, and fails the test unless it answers ok.
func resolve(t *testing.T, s *stacktest.Stack, function string, payload map[string]any) map[string]any {
	t.Helper()
	a := s.AdminResolve(t, function, payload)
	if a["ok"] != true {
		t.Fatalf("%s: %v", function, a)
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
	t.Parallel()
	s := stacktest.Start(t)
	// Open for a minute two days from now, in Kyiv: now is out of hours,
	// and the wasm module must know the zone (time/tzdata compiled in).
	later := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3])
	resolve(t, s, "config.set", map[string]any{"projectKey": stack.Project, "acknowledge": true, "timeZone": "Europe/Kyiv",
		"hours": map[string]any{later: []string{"12:00-12:01"}}, "floodLimit": 3, "floodWindowSeconds": 3600})

	olena := stacktest.NewChat()
	s.Send(t, stacktest.UserMsg{ChatID: olena, Text: "hourse2e olena first", FirstName: "Olena"})
	req := s.WaitRequest(t, "hourse2e olena")
	waitfor.Until(t, stacktest.Wait, "the acknowledgement and the out-of-hours reply", func() string {
		if m := s.Messages(t, olena); len(m) != 2 {
			return fmt.Sprintf("%d messages", len(m))
		}
		return ""
	})
	m := s.Messages(t, olena)
	if !strings.Contains(m[0].Plain+m[0].Text, req.Key) || !strings.Contains(m[1].Plain+m[1].Text, "12:00 (Europe/Kyiv)") {
		t.Errorf("acknowledgement and notice: %+v", m)
	}
	s.Say(t, olena, "hourse2e olena second")
	s.Stable(t, "one notice per closed period", func() string {
		if n := s.Request(t, req.Key).Count("hourse2e olena second"); n != 1 {
			return fmt.Sprintf("the second message is in the request %d times: %+v", n, s.Request(t, req.Key).Comments)
		}
		if n := len(s.Messages(t, olena)); n != 2 {
			return fmt.Sprintf("%d messages to the customer", n)
		}
		return ""
	})
	var all []labelled
	s.Call(t, "GET", "/_sim/jira/requests", nil, &all, http.StatusOK)
	for _, r := range all {
		if r.Key == req.Key && !slices.Equal(r.Labels, []string{"chatbridge-telegram"}) {
			t.Errorf("labels %v", r.Labels)
		}
	}

	// A Ukrainian customer is answered in Ukrainian.
	taras := stacktest.NewChat()
	s.Send(t, stacktest.UserMsg{ChatID: taras, Text: "hourse2e taras", FirstName: "Taras", LanguageCode: "uk"})
	treq := s.WaitRequest(t, "hourse2e taras")
	waitfor.Until(t, stacktest.Wait, "the Ukrainian acknowledgement", func() string {
		for _, m := range s.Messages(t, taras) {
			if strings.Contains(m.Plain+m.Text, "Дякуємо! Ваш запит "+treq.Key) {
				return ""
			}
		}
		return fmt.Sprintf("messages %+v", s.Messages(t, taras))
	})

	// Flood: five messages, a limit of three.
	flo := stacktest.NewChat()
	for i := range 5 {
		s.Say(t, flo, fmt.Sprintf("hourse2e flood %d", i))
	}
	s.Stable(t, "three messages in Jira, one flood notice", func() string {
		reqs := s.RequestsWith(t, "hourse2e flood")
		if len(reqs) != 1 {
			return fmt.Sprintf("%d requests", len(reqs))
		}
		n := 0
		for i := range 5 {
			n += reqs[0].Count(fmt.Sprintf("hourse2e flood %d", i))
		}
		if n != 3 {
			return fmt.Sprintf("%d messages in Jira", n)
		}
		notices := 0
		for _, m := range s.Messages(t, flo) {
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
	resolve(t, s, "blocks.add", map[string]any{"projectKey": stack.Project, "issueKey": req.Key})
	before := len(s.Messages(t, olena))
	s.Say(t, olena, "hourse2e olena blocked")
	s.Say(t, taras, "hourse2e taras after") // proves the bridge went on working
	waitfor.Until(t, stacktest.Wait, "the other chat's message", func() string {
		if !s.Request(t, treq.Key).Holds("hourse2e taras after") {
			return "not yet"
		}
		return ""
	})
	s.Stable(t, "the blocked chat's message dropped unanswered", func() string {
		if s.Request(t, req.Key).Holds("hourse2e olena blocked") || len(s.RequestsWith(t, "hourse2e olena blocked")) != 0 {
			return "a blocked chat's message reached Jira"
		}
		if n := len(s.Messages(t, olena)); n != before {
			return fmt.Sprintf("the blocked chat got %d messages", n-before)
		}
		return ""
	})
}
