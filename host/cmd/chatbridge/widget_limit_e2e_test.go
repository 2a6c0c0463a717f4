package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// TestE2E_WebsiteWidgetSaysHowLongToWaitAtTheEdgesLimit: a page spends its
// address's bucket of the widget's route (the manifest's perAddress) and
// sends a message at once; the edge's 429 is readable by the page, so the
// widget says how long to wait and keeps the message in the box, and
// nothing of it reaches Jira; sent again once the bucket refills, it
// arrives once.
func TestE2E_WebsiteWidgetSaysHowLongToWaitAtTheEdgesLimit(t *testing.T) {
	// Not in parallel: its timing (a 1 s read timeout, a refilling
	// bucket) wants the machine no busier than the sequential tests make it.
	s, page, allowed, endpoint := widgetStack(t)
	if _, err := page.call("Page.navigate", map[string]any{"url": allowed + "/"}); err != nil {
		t.Fatal(err)
	}
	page.waitFor(t, "the widget loads", `document.querySelector('[data-chatbridge]')`, 30*time.Second)
	page.eval(t, widgetRoot+`.querySelector('.b').click(); true`, nil)
	page.waitFor(t, "the widget connects", `JSON.parse(localStorage.getItem('chatbridge:`+stack.Project+`') || '{}').session`, stacktest.Wait)
	page.eval(t, widgetRoot+`.querySelector('#cb-name').value = 'Ada'; true`, nil)

	logText := `(` + widgetRoot + `.querySelector('[role=log]').innerText)`
	box := widgetRoot + `.querySelector('#cb-text')`
	refusal := regexp.MustCompile(`send it again in \d+ (s|min)\.`)
	// The page spends its bucket (40 requests for a burst of 20) and sends
	// in the same turn, so that the message meets an empty bucket; should
	// the bucket have refilled in between, the message went through, and a
	// new one is tried.
	var msg string
	for attempt := 1; ; attempt++ {
		msg = fmt.Sprintf("Widget limit e2e %d-%d: where is my parcel", time.Now().UnixNano(), attempt)
		page.eval(t, `(() => {
			for (let i = 0; i < 40; i++) fetch(`+jsString(endpoint)+`, {method: 'POST', headers: {'Content-Type': 'text/plain'}, body: '{}'}).catch(() => 0);
			`+box+`.value = `+jsString(msg)+`; `+widgetRoot+`.querySelector('.s').click(); return true })()`, nil)
		refused := false
		waitfor.Until(t, stacktest.Wait, "the message refused or sent", func() string {
			var shown string
			page.eval(t, logText, &shown)
			if refused = refusal.MatchString(shown) && !strings.Contains(shown, msg); refused {
				return ""
			}
			if len(s.RequestsWith(t, msg)) > 0 {
				return ""
			}
			return "the log shows " + shown
		})
		if refused {
			break
		}
		if attempt == 5 {
			t.Fatal("5 messages sent at once after the page spent its bucket all went through")
		}
		t.Logf("attempt %d: the bucket refilled before the message; again", attempt)
	}
	var kept string
	page.eval(t, box+`.value`, &kept)
	if kept != msg {
		t.Fatalf("the box holds %q after the refusal, want the unsent message", kept)
	}
	s.Settle(t)
	if n := len(s.RequestsWith(t, msg)); n != 0 {
		t.Fatalf("the refused message reached Jira (%d requests)", n)
	}
	// Sent again once the bucket refills (a press whenever the box holds
	// it: a refused press puts it back), it arrives once.
	waitfor.Until(t, stacktest.Wait, "the message sent again", func() string {
		var v string
		page.eval(t, box+`.value`, &v)
		if v != "" {
			page.eval(t, widgetRoot+`.querySelector('.s').click(); true`, nil)
		}
		if len(s.RequestsWith(t, msg)) == 0 {
			return "not in Jira yet"
		}
		return ""
	})
	s.Settle(t)
	reqs := s.RequestsWith(t, msg)
	if len(reqs) != 1 || reqs[0].Count(msg) != 1 {
		t.Errorf("the message reached Jira in %d requests, want once", len(reqs))
	}
}
