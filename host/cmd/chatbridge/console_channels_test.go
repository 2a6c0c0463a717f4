package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// The messenger pane chats over Viber and WhatsApp as well: it switches the
// dev project to the chosen simulator's bot, and a customer message and an
// agent's reply travel both ways.
func TestDevConsoleChatsOverViberAndWhatsApp(t *testing.T) {
	t.Parallel()
	page, dev := openConsole(t)
	const wait = 30 * time.Second
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	for _, tc := range []struct {
		channel, chat, question, reply, sentPath string
	}{
		{"viber", "DevVera+/0123456789AbC=", "console-viber parcel lost", "console-viber found it", "/_sim/viber/sent?receiver="},
		{"whatsapp", "4915112345678", "console-whatsapp order late", "console-whatsapp shipped today", "/_sim/whatsapp/sent?to="},
	} {
		t.Run(tc.channel, func(t *testing.T) {
			page.eval(t, `document.querySelector('#channel').value = '`+tc.channel+`'; document.querySelector('#channel').dispatchEvent(new Event('change')); true`, nil)
			page.waitFor(t, "the chat id of the simulator", `document.querySelector('#chat-id').value === `+quote(tc.chat), wait)
			page.waitFor(t, "the offer to switch the project", `!document.querySelector('#channel-hint').hidden && document.querySelector('#channel-switch').innerText.includes('for SUP')`, wait)
			page.eval(t, `document.querySelector('#channel-switch').click(); true`, nil)
			page.waitFor(t, "the project switched", `document.querySelector('#channel-hint').hidden && document.querySelector('#compose-error').hidden`, wait)

			page.eval(t, `document.querySelector('#message').value = `+quote(tc.question)+`; document.querySelector('#send').click(); true`, nil)
			page.waitFor(t, "the customer's bubble", `[...document.querySelectorAll('#chat .bubble.me')].some(b => b.innerText.includes(`+quote(tc.question)+`))`, wait)
			page.waitFor(t, "the request", `[...document.querySelectorAll('#requests li[data-key]')].some(li => li.innerText.includes(`+quote(tc.question)+`))`, wait)
			page.eval(t, `[...document.querySelectorAll('#requests li[data-key]')].find(li => li.innerText.includes(`+quote(tc.question)+`)).click(); true`, nil)
			page.waitFor(t, "the request opened", `document.querySelector('#request h3') && document.querySelector('#request h3').innerText.includes(`+quote(tc.question)+`)`, wait)
			page.eval(t, `document.querySelector('#reply').value = `+quote(tc.reply)+`; document.querySelector('#reply-public').click(); true`, nil)
			page.waitFor(t, "the reply in the messenger pane", `[...document.querySelectorAll('#chat .bubble.bot')].some(b => b.innerText.includes(`+quote(tc.reply)+`))`, wait)

			// The pane shows what the simulator really got.
			var sent []struct {
				Text string `json:"text"`
			}
			simGet(t, dev.admin+tc.sentPath+url.QueryEscape(tc.chat), &sent)
			found := false
			for _, m := range sent {
				found = found || strings.Contains(m.Text, tc.reply)
			}
			if !found {
				t.Errorf("the %s simulator did not get the reply: %+v", tc.channel, sent)
			}
		})
	}
	page.screenshot(t, filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts", "console-whatsapp.png"))
	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
