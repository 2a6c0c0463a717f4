package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

// TestE2E_WebsiteWidgetSpeaksTheBrowsersLanguage: in a browser whose
// language is German, the widget's own words are German (its button,
// field, placeholder and the label of the customer's lines), and the
// bridge's questions to the customer are German too.
func TestE2E_WebsiteWidgetSpeaksTheBrowsersLanguage(t *testing.T) {
	t.Parallel()
	s, page, allowed, _ := widgetStack(t)
	// The browser's language, as a German user's browser reports it.
	if _, err := page.call("Page.addScriptToEvaluateOnNewDocument", map[string]any{
		"source": `Object.defineProperty(navigator, 'language', {get: () => 'de-AT'})`}); err != nil {
		t.Fatal(err)
	}
	if _, err := page.call("Page.navigate", map[string]any{"url": allowed + "/"}); err != nil {
		t.Fatal(err)
	}
	page.waitFor(t, "the widget loads", `document.querySelector('[data-chatbridge]')`, 30*time.Second)
	for what, js := range map[string]string{
		"Schreiben Sie uns":   widgetRoot + `.querySelector('.b').textContent`,
		"Nachricht schreiben": widgetRoot + `.querySelector('#cb-text').placeholder`,
		"Ihr Name":            widgetRoot + `.querySelector('label[for=cb-name]').textContent`,
		"Senden":              widgetRoot + `.querySelector('.s').textContent`,
	} {
		var got string
		page.eval(t, js, &got)
		if got != what {
			t.Errorf("%s: %q, want %q", js, got, what)
		}
	}
	page.eval(t, widgetRoot+`.querySelector('.b').click(); true`, nil)
	page.waitFor(t, "the widget connects", `JSON.parse(localStorage.getItem('chatbridge:`+stack.Project+`') || '{}').session`, stacktest.Wait)
	msg := fmt.Sprintf("Widget Sprache e2e %d: mein Paket fehlt", time.Now().UnixNano())
	page.eval(t, widgetRoot+`.querySelector('#cb-name').value = 'Jonas'; `+widgetRoot+`.querySelector('#cb-text').value = `+jsString(msg)+`; `+widgetRoot+`.querySelector('.s').click(); true`, nil)
	req := s.WaitRequest(t, msg)
	logText := `(` + widgetRoot + `.querySelector('[role=log]').innerText)`
	// A live reply proves the page subscribed; then the bridge's own
	// words to the customer are German too.
	s.Reply(t, req.Key, "Agent: wir sind dran")
	page.waitFor(t, "the agent's reply appears live", logText+`.includes('wir sind dran')`, stacktest.Wait)
	page.eval(t, widgetRoot+`.querySelector('#cb-text').value = '/requests'; `+widgetRoot+`.querySelector('.s').click(); true`, nil)
	page.waitFor(t, "the bridge's question, in German", logText+`.includes('Sie schreiben an `+req.Key+`')`, stacktest.Wait)
	var mine string
	page.eval(t, widgetRoot+`.querySelector('[role=log] li.me').textContent`, &mine)
	if !strings.HasPrefix(mine, "Sie: ") {
		t.Errorf("the customer's own line reads %q, not labelled in German", mine)
	}
}
