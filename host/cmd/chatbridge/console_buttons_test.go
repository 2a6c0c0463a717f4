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

// The messenger pane shows the bot's buttons and lets the customer press
// them: the press goes through the simulator to the bridge (a Telegram
// callback_query, a WhatsApp interactive reply). A template the bot sends
// outside WhatsApp's window is shown as one.
func TestDevConsoleShowsAndPressesButtonsAndShowsTemplates(t *testing.T) {
	t.Parallel()
	page, dev := openConsole(t)
	const wait = 45 * time.Second
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	// The admin offers two request types and an approved template, through
	// the bridge's own resolver as the console's settings do.
	configure := func(fields string) {
		t.Helper()
		page.eval(t, `window.__cfg = null; api('POST', '/_console/resolve/' + encodeURIComponent(state.installations[0].id) + '/config.set', Object.assign({projectKey: 'SUP'}, `+fields+`)).then(a => { window.__cfg = JSON.stringify(a); }); true`, nil)
		page.waitFor(t, "the configuration saved", `window.__cfg && JSON.parse(window.__cfg).ok === true`, wait)
	}
	configure(`{requestTypeMenu: ['Get IT help', 'Report a problem']}`)

	chooseAndOpen := func(question, choice string) {
		t.Helper()
		page.eval(t, `document.querySelector('#message').value = `+quote(question)+`; document.querySelector('#send').click(); true`, nil)
		page.waitFor(t, "the menu's buttons", `[...document.querySelectorAll('#chat .bubble.bot .choice')].some(b => b.innerText === `+quote(choice)+`)`, wait)
		page.eval(t, `[...document.querySelectorAll('#chat .bubble.bot .choice')].filter(b => b.innerText === `+quote(choice)+`).pop().click(); true`, nil)
		page.waitFor(t, "the request opened by the choice", `[...document.querySelectorAll('#requests li[data-key]')].some(li => li.innerText.includes(`+quote(question)+`))`, wait)
	}
	requestType := func(question string) string {
		var list []struct {
			Summary string `json:"summary"`
			Type    string `json:"request_type_id"`
		}
		simGet(t, dev.admin+"/_sim/jira/requests", &list)
		for _, r := range list {
			if strings.Contains(r.Summary, question) {
				return r.Type
			}
		}
		return ""
	}

	// Telegram: an inline keyboard; the click is a callback_query.
	chooseAndOpen("console-menu printer jam", "Report a problem")
	if got := requestType("console-menu printer jam"); got != "11" {
		t.Errorf("Telegram: request type %q, want 11", got)
	}

	// WhatsApp: reply buttons, then a template outside the window.
	page.eval(t, `document.querySelector('#channel').value = 'whatsapp'; document.querySelector('#channel').dispatchEvent(new Event('change')); true`, nil)
	page.waitFor(t, "the offer to switch the project", `!document.querySelector('#channel-hint').hidden`, wait)
	page.eval(t, `document.querySelector('#channel-switch').click(); true`, nil)
	page.waitFor(t, "the project switched", `document.querySelector('#channel-hint').hidden`, wait)
	configure(`{templates: [{name: 'support_reply_waiting', language: 'en', params: ['{key}']}]}`)
	chooseAndOpen("console-menu badge broken", "Get IT help")
	if got := requestType("console-menu badge broken"); got != "10" {
		t.Errorf("WhatsApp: request type %q, want 10", got)
	}
	page.eval(t, `window.__aged = null; api('POST', '/_sim/whatsapp/age', {wa_id: '4915112345678', hours: 25}).then(() => { window.__aged = true; }); true`, nil)
	page.waitFor(t, "the chat aged", `window.__aged === true`, wait)
	page.eval(t, `[...document.querySelectorAll('#requests li[data-key]')].find(li => li.innerText.includes('console-menu badge broken')).click(); true`, nil)
	page.waitFor(t, "the request opened", `document.querySelector('#request h3') && document.querySelector('#request h3').innerText.includes('console-menu badge broken')`, wait)
	page.eval(t, `document.querySelector('#reply').value = 'console-template new badge printed'; document.querySelector('#reply-public').click(); true`, nil)
	page.waitFor(t, "the template in the messenger pane", `[...document.querySelectorAll('#chat .bubble.bot .template')].some(b => b.innerText.includes('support_reply_waiting'))`, wait)

	var sent []struct {
		Type     string          `json:"type"`
		Template json.RawMessage `json:"template"`
	}
	simGet(t, dev.admin+"/_sim/whatsapp/sent?to="+url.QueryEscape("4915112345678"), &sent)
	templates := 0
	for _, m := range sent {
		if m.Type == "template" && len(m.Template) > 0 {
			templates++
		}
	}
	if templates != 1 {
		t.Errorf("%d templates in the simulator: %+v", templates, sent)
	}
	page.screenshot(t, filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts", "console-buttons.png"))
	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
