package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// With `chatbridge dev -telegram-topics`, the messenger pane labels each
// bot message with its private-chat topic (one per request), and pressing
// the label makes the customer write in that topic, which the bridge takes
// to that topic's request.
func TestDevConsoleShowsTelegramTopicsAndWritesInOne(t *testing.T) {
	t.Parallel()
	page, dev := openConsole(t, "-telegram-topics")
	const wait = 45 * time.Second
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	say := func(text string) {
		t.Helper()
		page.eval(t, `document.querySelector('#message').value = `+quote(text)+`; document.querySelector('#send').click(); true`, nil)
	}
	say("console-topic scanner jams")
	page.waitFor(t, "the request opened", `[...document.querySelectorAll('#requests li[data-key]')].some(li => li.innerText.includes('console-topic scanner jams'))`, wait)
	page.eval(t, `[...document.querySelectorAll('#requests li[data-key]')].find(li => li.innerText.includes('console-topic scanner jams')).click(); true`, nil)
	page.waitFor(t, "the request shown", `document.querySelector('#request h3') && document.querySelector('#request h3').innerText.includes('console-topic scanner jams')`, wait)
	page.eval(t, `document.querySelector('#reply').value = 'console-topic we are on it'; document.querySelector('#reply-public').click(); true`, nil)
	page.waitFor(t, "the reply labelled with its topic", `[...document.querySelectorAll('#chat .bubble.bot')].some(b => b.innerText.includes('console-topic we are on it') && b.querySelector('.topic'))`, wait)

	// The customer writes in the topic from the pane.
	page.eval(t, `[...document.querySelectorAll('#chat .bubble.bot')].find(b => b.innerText.includes('console-topic we are on it')).querySelector('.topic').click(); true`, nil)
	page.waitFor(t, "the composer in the topic", `!document.querySelector('#compose-topic').hidden`, wait)
	say("console-topic still jammed")
	page.waitFor(t, "the customer's message labelled with the topic", `[...document.querySelectorAll('#chat .bubble.me')].some(b => b.innerText.includes('console-topic still jammed') && b.querySelector('.topic'))`, wait)
	waitfor.Until(t, wait, "the message in the topic in its request, and no other request", func() string {
		var list []struct {
			Summary  string `json:"summary"`
			Comments []struct {
				Body string `json:"body"`
			} `json:"comments"`
		}
		simGet(t, dev.admin+"/_sim/jira/requests", &list)
		found, requests := false, 0
		for _, r := range list {
			if strings.Contains(r.Summary, "console-topic") {
				requests++
			}
			for _, c := range r.Comments {
				found = found || strings.Contains(r.Summary, "console-topic scanner jams") && strings.Contains(c.Body, "still jammed")
			}
		}
		if found && requests == 1 {
			return ""
		}
		return fmt.Sprintf("%d requests: %+v", requests, list)
	})
	page.screenshot(t, filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts", "console-topics.png"))
	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
