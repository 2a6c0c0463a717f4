package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/adminui"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// TestAdminUIConfiguresAProjectByNamesAndShowsItsDeliveryInHeadlessChromium
// drives the production admin UI on the admin listener of a real stack
// (the module, the simulators): sign in with the admin token, set project
// SUP up by the names Jira gives its service desk and request type with a
// Telegram bot token (a wrong one first), see the bot's name, then a
// customer's message through the Telegram simulator and its delivery in
// the UI. Screenshots go to testdata/artifacts/adminui-*.png.
func TestAdminUIConfiguresAProjectByNamesAndShowsItsDeliveryInHeadlessChromium(t *testing.T) {
	t.Parallel()
	b := startChromium(t)
	s := stacktest.Start(t)
	page := b.newPage(t)
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := page.call(domain, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	artifacts := filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts")
	const wait = 60 * time.Second
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	navigate := func(t *testing.T, path string) {
		t.Helper()
		if _, err := page.call("Page.navigate", map[string]any{"url": s.Admin + path}); err != nil {
			t.Fatal(err)
		}
	}
	// submit clicks a button and waits for the next page (a new document)
	// whose h1 reads title.
	submit := func(t *testing.T, button, title string) {
		t.Helper()
		page.eval(t, `window.previousPage = true; document.querySelector(`+js(button)+`).click(); true`, nil)
		page.waitFor(t, "the page "+title, `!window.previousPage && document.readyState === 'complete' && document.querySelector('h1') && document.querySelector('h1').innerText === `+js(title), wait)
	}

	t.Run("an admin signs in with the admin token", func(t *testing.T) {
		navigate(t, adminui.Prefix)
		page.waitFor(t, "the sign-in form", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Sign in' && location.pathname === '/admin/ui/signin'`, wait)
		page.eval(t, `document.querySelector('#token').value = 'not-the-token'; true`, nil)
		submit(t, "#signin", "Sign in")
		page.waitFor(t, "the refusal", `document.querySelector('#problem').innerText.includes('not the admin token')`, wait)
		page.screenshot(t, filepath.Join(artifacts, "adminui-signin.png"))
		page.eval(t, `document.querySelector('#token').value = `+js(s.Node.Token)+`; true`, nil)
		submit(t, "#signin", "ChatBridge administration")
		page.waitFor(t, "the installation", `document.querySelector('#installations a') && document.querySelector('#installations a').innerText.includes('https://')`, wait)
		var cookie string
		page.eval(t, `document.cookie`, &cookie)
		if cookie != "" {
			t.Errorf("the page's script can read cookies: %q", cookie)
		}
	})

	t.Run("the project is set up by names, the token checked and the bot named", func(t *testing.T) {
		page.eval(t, `window.previousPage = true; document.querySelector('#installations a').click(); true`, nil)
		page.waitFor(t, "the installation page", `!window.previousPage && document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Installation ') && document.querySelector('#open-key')`, wait)
		page.eval(t, `document.querySelector('#open-key').value = 'SUP'; true`, nil)
		submit(t, "#open-project", "Project SUP")
		// The desk and request type are offered by the names Jira gives them.
		pick := `(() => { const o = [...document.querySelectorAll('#f-desk option')].find(o => o.textContent === 'Support — Get IT help');
			if (!o) return false; document.querySelector('#f-desk').value = o.value; return true; })()`
		var picked bool
		page.eval(t, pick, &picked)
		if !picked {
			var opts string
			page.eval(t, `[...document.querySelectorAll('#f-desk option')].map(o => o.textContent).join(' | ')`, &opts)
			t.Fatalf("no option 'Support — Get IT help' among: %s", opts)
		}
		// A token Telegram does not know is refused beside its field.
		page.eval(t, `document.querySelector('#f-botToken').value = '7000000099:AAHdevSimulatorToken_0123456789abcd'; document.querySelector('#f-greeting').value = 'Welcome to Support, configured in the admin UI.'; true`, nil)
		submit(t, "#save", "Project SUP")
		page.waitFor(t, "the token's refusal", `[...document.querySelectorAll('.error')].some(e => e.innerText.includes('rejected this token'))`, wait)
		page.waitFor(t, "the submitted fields kept", `document.querySelector('#f-greeting').value === 'Welcome to Support, configured in the admin UI.' && document.querySelector('#f-botToken').value === ''`, wait)
		page.eval(t, pick, &picked)
		page.eval(t, `document.querySelector('#f-botToken').value = `+js(telegram.DefaultToken)+`; true`, nil)
		submit(t, "#save", "Project SUP")
		page.waitFor(t, "the bot's name", `document.querySelector('#flash') && document.querySelector('#flash').innerText.includes('bot @chatbridge_dev_bot') && document.querySelector('#bot').innerText === '@chatbridge_dev_bot'`, wait)
		page.screenshot(t, filepath.Join(artifacts, "adminui-project.png"))
	})
	var got struct {
		OK     bool `json:"ok"`
		Config struct {
			ServiceDeskID string `json:"serviceDeskId"`
			RequestTypeID string `json:"requestTypeId"`
			Greeting      string `json:"greeting"`
			Bot           string `json:"bot"`
		} `json:"config"`
	}
	s.Call(t, "POST", "/admin/installations/"+installationID(t, s)+"/resolve/config.get", map[string]string{"projectKey": "SUP"}, &got, http.StatusOK)
	if got.Config.ServiceDeskID != "1" || got.Config.RequestTypeID != "10" || got.Config.Greeting != "Welcome to Support, configured in the admin UI." || got.Config.Bot != "chatbridge_dev_bot" {
		t.Fatalf("the saved configuration: %+v", got)
	}

	t.Run("a customer's message shows as a delivery and a mapping", func(t *testing.T) {
		var before int
		page.eval(t, `Number(document.querySelector('#q-delivered').innerText)`, &before)
		chat := stacktest.NewChat()
		marker := "admin UI delivery " + strconv.FormatInt(chat, 10)
		s.Say(t, chat, marker)
		req := s.WaitRequest(t, marker)
		project := adminui.Prefix + "installations/" + url.PathEscape(installationID(t, s)) + "/projects/SUP"
		waitfor.Until(t, wait, "request "+req.Key+" and a delivery on the project page", func() string {
			page.eval(t, `window.previousPage = true; true`, nil)
			navigate(t, project)
			page.waitFor(t, "the project page", `!window.previousPage && document.readyState === 'complete' && document.querySelector('h1') && document.querySelector('h1').innerText === 'Project SUP'`, wait)
			var shown bool
			page.eval(t, `!!document.querySelector('#mapping-list tr[data-issue=`+js(req.Key)+`]') && Number(document.querySelector('#q-delivered').innerText) > `+strconv.Itoa(before), &shown)
			if !shown {
				return "not shown yet"
			}
			return ""
		})
		var text string
		page.eval(t, `document.body.innerText`, &text)
		if strings.Contains(text, strconv.FormatInt(chat, 10)) {
			t.Error("the page shows the chat id")
		}
		page.eval(t, `document.querySelector('#mappings').scrollIntoView(); true`, nil)
		page.screenshot(t, filepath.Join(artifacts, "adminui-deliveries.png"))
	})

	t.Run("signing out ends the session", func(t *testing.T) {
		submit(t, "#signout", "Sign in")
		navigate(t, adminui.Prefix)
		page.waitFor(t, "the sign-in form again", `location.pathname === '/admin/ui/signin'`, wait)
	})

	// The refused sign-in (401) and the refused token (422) are answers
	// the test asked for; anything else, a CSP violation above all, is not.
	var problems []string
	for _, p := range page.consoleProblems() {
		if strings.Contains(p, "status of 401 (Unauthorized) "+s.Admin+adminui.Prefix+"signin") ||
			strings.Contains(p, "status of 422 (Unprocessable Entity) "+s.Admin+adminui.Prefix+"installations/") {
			continue
		}
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		t.Fatalf("the pages logged errors (a CSP violation among them?):\n%s", strings.Join(problems, "\n"))
	}
	t.Logf("screenshots in %s", artifacts)
}

// installationID is the stack's one installation.
func installationID(t *testing.T, s *stacktest.Stack) string {
	t.Helper()
	var list []struct {
		ID string `json:"id"`
	}
	s.Call(t, "GET", "/admin/installations", nil, &list, http.StatusOK)
	if len(list) != 1 {
		t.Fatalf("installations: %+v", list)
	}
	return list[0].ID
}

// TestAdminUIAnswersOnlyItsHostNamesAndSameOriginForms checks the admin
// listener's guard in front of the UI, on a real stack: a host name the
// listener does not serve (DNS rebinding) gets 421 and no page; a form
// from another origin is refused; the CSP is on the listener's answers.
func TestAdminUIAnswersOnlyItsHostNamesAndSameOriginForms(t *testing.T) {
	s := stacktest.Shared(t)
	do := func(method, path, host, origin string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.Admin+path, strings.NewReader("csrf=x&token=y"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	u, _ := url.Parse(s.Admin)
	tests := []struct {
		name, method, path, host, origin string
		want                             int
		wantIn                           string
	}{
		{"the sign-in page on the listener's address", "GET", adminui.Prefix + "signin", "", "", http.StatusOK, `name="csrf"`},
		{"a rebound host name", "GET", adminui.Prefix + "signin", "evil.example:" + u.Port(), "", http.StatusMisdirectedRequest, "does not serve"},
		{"a sign-in from another origin", "POST", adminui.Prefix + "signin", "", "http://evil.example", http.StatusForbidden, "another origin"},
		{"a sign-in without Origin", "POST", adminui.Prefix + "signin", "", "", http.StatusForbidden, "without Origin"},
		{"a same-origin sign-in without its form's token", "POST", adminui.Prefix + "signin", "", s.Admin, http.StatusForbidden, "sign-in form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := do(tt.method, tt.path, tt.host, tt.origin)
			if status != tt.want || !strings.Contains(body, tt.wantIn) {
				t.Errorf("%d (want %d)\n%s", status, tt.want, body)
			}
			if status == http.StatusOK && h.Get("Content-Security-Policy") != adminui.CSP {
				t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
			}
		})
	}
}
