package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The messenger pane speaks the website widget too: it switches the dev
// project to the widget with this console's origin allowed, frames the
// demo page, and a message written in the widget opens a request in the
// Jira simulator whose agent reply appears live in the widget. A flood of
// the widget's route from another address meets the edge's per-address
// limit (the manifest's perAddress) while the console's widget still gets
// through.
func TestDevConsoleChatsThroughTheWebsiteWidget(t *testing.T) {
	t.Parallel()
	// The widget loads from the edge, whose certificate is the dev one.
	b := startChromium(t, "--ignore-certificate-errors")
	data := t.TempDir()
	dev := startDev(t, "-bundle", bridgeBundleDir(t), "-data", data)
	page := b.newPage(t)
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := page.call(domain, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := page.call("Page.navigate", map[string]any{"url": dev.admin + "/"}); err != nil {
		t.Fatal(err)
	}
	const wait = 30 * time.Second
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	page.waitFor(t, "the console connects", `document.querySelector('#conn') && document.querySelector('#conn').textContent === 'live'`, wait)

	page.eval(t, `document.querySelector('#channel').value = 'web'; document.querySelector('#channel').dispatchEvent(new Event('change')); true`, nil)
	page.waitFor(t, "the offer to switch the project to the widget", `!document.querySelector('#channel-hint').hidden && document.querySelector('#channel-switch').innerText.includes('Website widget for SUP')`, wait)
	var simulatorChatHidden bool
	page.eval(t, `document.querySelector('#widget-frame').hidden && document.querySelector('#compose').hidden && document.querySelector('#chat').hidden`, &simulatorChatHidden)
	if !simulatorChatHidden {
		t.Fatal("before the switch the pane shows the simulator's chat or the widget's frame")
	}
	page.eval(t, `document.querySelector('#channel-switch').click(); true`, nil)
	page.waitFor(t, "the project switched and the widget framed", `document.querySelector('#channel-hint').hidden && document.querySelector('#compose-error').hidden && !document.querySelector('#widget-frame').hidden`, wait)

	widget := `document.querySelector('#widget-frame').contentDocument.querySelector('[data-chatbridge]')`
	root := widget + `.shadowRoot`
	page.waitFor(t, "the widget loads in the frame", widget, wait)
	page.eval(t, root+`.querySelector('.b').click(); true`, nil)
	page.waitFor(t, "the widget connects", `(JSON.parse(localStorage.getItem('chatbridge:SUP') || '{}')).session`, wait)

	// say writes text in the widget and waits until the Jira simulator
	// holds it (a new request's description, or a follow-up's comment;
	// texts without wiki markup, which the bridge escapes).
	say := func(text string) {
		t.Helper()
		page.eval(t, root+`.querySelector('#cb-name').value = 'Ada'; `+root+`.querySelector('#cb-text').value = `+quote(text)+`; `+root+`.querySelector('.s').click(); true`, nil)
		waitfor.Until(t, wait, "the widget's message in the Jira simulator", waitfor.True(func() bool {
			var reqs []map[string]any
			simGet(t, dev.admin+"/_sim/jira/requests", &reqs)
			raw, _ := json.Marshal(reqs)
			return strings.Contains(string(raw), text)
		}))
	}
	question := "Console widget: my parcel is lost " + strconv.FormatInt(time.Now().UnixNano(), 36)
	say(question)
	page.waitFor(t, "the request in the desk pane", `[...document.querySelectorAll('#requests li[data-key]')].some(li => li.innerText.includes(`+quote(question)+`))`, wait)

	reply := "Console widget: we found it"
	page.eval(t, `[...document.querySelectorAll('#requests li[data-key]')].find(li => li.innerText.includes(`+quote(question)+`)).click(); true`, nil)
	page.waitFor(t, "the request opened", `document.querySelector('#request h3') && document.querySelector('#request h3').innerText.includes(`+quote(question)+`)`, wait)
	page.eval(t, `document.querySelector('#reply').value = `+quote(reply)+`; document.querySelector('#reply-public').click(); true`, nil)
	page.waitFor(t, "the agent's reply live in the widget", root+`.querySelector('[role=log]').innerText.includes(`+quote(reply)+`)`, wait)

	// Another address floods the widget's route: the edge refuses it over
	// its burst, and the console's widget (127.0.0.1) still gets through.
	var endpoint string
	page.eval(t, `document.querySelector('#widget-frame').contentDocument.querySelector('script[data-endpoint]').dataset.endpoint`, &endpoint)
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	flooder := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: devTLS(t, data), DialContext: dialer.DialContext}}
	defer flooder.CloseIdleConnections()
	origin := strings.TrimSuffix(dev.admin, "/")
	const flood = 60
	served, refused := 0, 0
	for range flood {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"op":"session"}`))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", origin)
		resp, err := flooder.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			served++
		case 429:
			refused++
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("flood: status %d", resp.StatusCode)
		}
	}
	// The manifest's bucket: 20 at once, then one a second.
	if served < 20 || refused == 0 {
		t.Fatalf("a flood of %d from one address: %d served, %d refused; want the burst of 20 served and the rest mostly refused", flood, served, refused)
	}
	t.Logf("flood from 127.0.0.2: %d served, %d refused", served, refused)
	more := "Console widget: and one more thing " + strconv.FormatInt(time.Now().UnixNano(), 36)
	say(more)

	page.screenshot(t, filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts", "console-widget.png"))
	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
