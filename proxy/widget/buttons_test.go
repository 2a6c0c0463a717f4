package widget

import (
	"bytes"
	"testing"
)

// A bot question's choices are real buttons in a group named by the
// question, sent back as a "choose" request.
// (TestE2E_WebsiteWidgetInHeadlessChromium presses one from the keyboard.)
func TestTheWidgetShowsChoicesAsButtons(t *testing.T) {
	for _, need := range []string{
		`ev.type === "choices"`, `el("button", { type: "button" }, c.label)`, `role: "group", "aria-label": ev.text`,
		`op: "choose"`, `data: c.data`, `.disabled = !on`,
	} {
		if !bytes.Contains(Script, []byte(need)) {
			t.Errorf("the script lacks %s", need)
		}
	}
}

// The browser's language goes with the customer's messages and presses, its
// primary subtag only, and only where the bridge has texts in it.
func TestTheWidgetSendsTheBrowsersLanguage(t *testing.T) {
	for _, need := range []string{
		`navigator.language`, `.toLowerCase().split("-")[0]`, `["en", "de", "fr", "es", "pt", "uk"].indexOf(lang) < 0) lang = undefined`,
		`text: t, lang: lang`, `data: c.data, lang: lang`,
	} {
		if !bytes.Contains(Script, []byte(need)) {
			t.Errorf("the script lacks %s", need)
		}
	}
}
