package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// servePage serves, on a loopback port of its own (another origin than the
// edge's), a page that embeds the widget with one script tag.
func servePage(t *testing.T, edge, endpoint string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A shop</h1><script src="%s" async data-endpoint="%s"></script></body></html>`, publicurl.Widget(edge), endpoint)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// widgetJS reaches into the widget's shadow root.
const widgetRoot = `document.querySelector('[data-chatbridge]').shadowRoot`

// widgetStack starts a stack whose project speaks through the website
// widget, serves a page embedding it on an origin of its own (allowed, the
// project's one allowed origin), and opens a headless Chromium tab with
// Page, Runtime and Log enabled; endpoint is the widget's, for more pages.
// The edge's certificate is the emulator's development CA's, which the
// browser is told to accept.
func widgetStack(t *testing.T) (s *stacktest.Stack, page *cdp, allowed, endpoint string) {
	t.Helper()
	s = stacktest.Start(t)
	in, ok := s.Node.Host.Registry().Get(s.Emu.Installation.ID)
	if !ok || in.Routes["web-widget"] == "" {
		t.Fatalf("the installation has no web-widget route: %+v", in.Routes)
	}
	endpoint = publicurl.WebTrigger(s.Node.PublicURL, in.Routes["web-widget"]) + "?project=" + stack.Project
	allowed = servePage(t, s.Node.PublicURL, endpoint)
	if a := s.AdminResolve(t, "config.set", map[string]any{"projectKey": stack.Project, "enabled": true, "channel": "web",
		"allowedOrigins": []string{allowed}, "serviceDeskId": "1", "requestTypeId": "10"}); a["ok"] != true {
		t.Fatalf("config.set web: %v", a)
	}
	page = startChromium(t, "--ignore-certificate-errors").newPage(t)
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := page.call(domain, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	return s, page, allowed, endpoint
}

// TestE2E_WebsiteWidgetInHeadlessChromium: a page on one origin embeds the
// widget served by the edge on another; the customer chats, an agent's
// public reply appears live without a reload, an internal note never
// appears, a reload shows the history from Jira, and a page on an origin
// not allowed gets nothing; the privacy scan then finds none of it in the
// data file or the log.
func TestE2E_WebsiteWidgetInHeadlessChromium(t *testing.T) {
	t.Parallel()
	s, page, allowed, endpoint := widgetStack(t)
	other := servePage(t, s.Node.PublicURL, endpoint)
	navigate := func(url string) {
		t.Helper()
		if _, err := page.call("Page.navigate", map[string]any{"url": url}); err != nil {
			t.Fatal(err)
		}
		page.waitFor(t, "the widget loads", `document.querySelector('[data-chatbridge]')`, 30*time.Second)
	}
	logText := `(` + widgetRoot + `.querySelector('[role=log]').innerText)`
	navigate(allowed + "/")
	page.eval(t, widgetRoot+`.querySelector('.b').click(); true`, nil)
	var expanded string
	page.eval(t, widgetRoot+`.querySelector('.b').getAttribute('aria-expanded')`, &expanded)
	if expanded != "true" {
		t.Errorf("aria-expanded = %q after opening", expanded)
	}
	page.waitFor(t, "the widget connects", `localStorage.getItem('chatbridge:`+stack.Project+`') && JSON.parse(localStorage.getItem('chatbridge:`+stack.Project+`')).session`, stacktest.Wait)

	var session string
	page.eval(t, `JSON.parse(localStorage.getItem('chatbridge:`+stack.Project+`')).session`, &session)
	first := fmt.Sprintf("Widget e2e %d: my order has not arrived", time.Now().UnixNano())
	js, _ := json.Marshal(first)
	page.eval(t, widgetRoot+`.querySelector('#cb-name').value = 'Ada'; `+widgetRoot+`.querySelector('#cb-text').value = `+string(js)+`; `+widgetRoot+`.querySelector('.s').click(); true`, nil)
	req := s.WaitRequest(t, first)

	s.Reply(t, req.Key, "Agent reply one: we are on it")
	page.waitFor(t, "the agent's reply appears live", logText+`.includes('Agent reply one: we are on it')`, stacktest.Wait)

	// An internal note, then a public reply: the lane keeps their order, so
	// once the second reply shows, the note was handled and not shown.
	s.AgentComment(t, req.Key, map[string]any{"body": "INTERNAL NOTE never for the customer", "public": false})
	s.Reply(t, req.Key, "Agent reply two: a refund is on its way")
	page.waitFor(t, "the second reply appears live", logText+`.includes('Agent reply two')`, stacktest.Wait)
	var shown string
	page.eval(t, logText, &shown)
	if strings.Contains(shown, "INTERNAL NOTE") {
		t.Fatalf("an internal note reached the page: %q", shown)
	}

	// A bot question with buttons (/requests): real buttons in a named
	// group, pressed from the keyboard; the press comes back to the bridge.
	page.eval(t, widgetRoot+`.querySelector('#cb-text').value = '/requests'; `+widgetRoot+`.querySelector('.s').click(); true`, nil)
	current := widgetRoot + `.querySelector('[role=log] [role=group] button')`
	page.waitFor(t, "the /requests buttons appear", current+` && `+current+`.textContent.includes(`+jsString(req.Key)+`)`, stacktest.Wait)
	var group string
	page.eval(t, widgetRoot+`.querySelector('[role=log] [role=group]').getAttribute('aria-label')`, &group)
	if !strings.Contains(group, "You are writing to "+req.Key) {
		t.Errorf("the buttons' group is named %q, not by its question", group)
	}
	page.eval(t, current+`.focus(); true`, nil)
	for _, ev := range []map[string]any{{"type": "keyDown", "text": "\r"}, {"type": "keyUp"}} {
		ev["key"], ev["code"], ev["windowsVirtualKeyCode"] = "Enter", "Enter", 13
		if _, err := page.call("Input.dispatchKeyEvent", ev); err != nil {
			t.Fatal(err)
		}
	}
	page.waitFor(t, "the press is answered", logText+`.includes('You are now writing to `+req.Key+`')`, stacktest.Wait)
	var disabled bool
	page.eval(t, current+`.disabled`, &disabled)
	if !disabled {
		t.Error("the buttons stay enabled after a press")
	}

	// The customer's file, 1.25 MB (over the edge's 1 MiB body limit of a
	// web trigger), goes by a single-use upload link: the edge streams it
	// to Jira, and the module attaches it to the request.
	page.eval(t, `(() => { const dt = new DataTransfer(); dt.items.add(new File([new TextEncoder().encode('receipt bytes zebra31415 '.repeat(50000))], 'receipt.png', {type: 'image/png'}));
		const input = `+widgetRoot+`.querySelector('#cb-file'); input.files = dt.files; input.dispatchEvent(new Event('change')); return true })()`, nil)
	page.waitFor(t, "the upload is confirmed", logText+`.includes('Sent a file: receipt.png')`, stacktest.Wait)
	var receipt []stacktest.JiraAttachment
	for _, a := range s.Request(t, req.Key).Attachments {
		if a.Filename == "receipt.png" {
			receipt = append(receipt, a)
		}
	}
	if len(receipt) != 1 || receipt[0].Size != int64(len("receipt bytes zebra31415 ")*50000) {
		t.Errorf("the customer's file on the request: %+v, want one of %d bytes", receipt, len("receipt bytes zebra31415 ")*50000)
	}

	// An agent's file reaches the page as a single-use link to the edge.
	var att stacktest.JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+req.Key+"/attachment", map[string]any{"filename": "label.pdf", "size": 2048, "public": true, "comment": "Here is your label"}, &att, http.StatusOK)
	stacktest.CheckWebhooks(t, att.Webhooks)
	page.waitFor(t, "the agent's file appears live as a link", widgetRoot+`.querySelector('[role=log] a[download]')`, stacktest.Wait)
	var href string
	page.eval(t, widgetRoot+`.querySelector('[role=log] a[download]').href`, &href)
	if !strings.HasPrefix(href, s.Node.PublicURL+publicurl.DownloadPrefix) {
		t.Fatalf("the file's link %q is not a download link of the edge", href)
	}
	for i, want := range []int{200, 404} {
		resp, err := s.Client.Get(href)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && len(body) != 2048) {
			t.Errorf("download %d: %d, %d bytes; want %d (the link works once)", i+1, resp.StatusCode, len(body), want)
		}
	}

	// A reload shows the history, read from Jira.
	navigate(allowed + "/")
	page.eval(t, widgetRoot+`.querySelector('.b').click(); true`, nil)
	page.waitFor(t, "the history shows after a reload", logText+`.includes('Agent reply two') && `+logText+`.includes('my order has not arrived') && `+logText+`.includes('Agent reply one')`, stacktest.Wait)
	page.eval(t, logText, &shown)
	if strings.Contains(shown, "INTERNAL NOTE") {
		t.Fatalf("the history holds an internal note: %q", shown)
	}

	// A page of another origin gets nothing: no session, and its own
	// request is refused by CORS.
	navigate(other + "/")
	var refused string
	page.eval(t, `fetch(`+jsString(endpoint)+`, {method: 'POST', headers: {'Content-Type': 'text/plain'}, body: '{"op":"session"}'}).then(r => 'read ' + r.status, e => 'refused: ' + e.name)`, &refused)
	if !strings.HasPrefix(refused, "refused") {
		t.Errorf("a page of another origin read an answer: %s", refused)
	}
	page.eval(t, widgetRoot+`.querySelector('.b').click(); true`, nil)
	s.Settle(t)
	var stored string
	page.eval(t, `String(localStorage.getItem('chatbridge:`+stack.Project+`'))`, &stored)
	if strings.Contains(stored, "session") {
		t.Errorf("a page of another origin got a session: %s", stored)
	}
	if n := len(s.RequestsWith(t, "Widget e2e")); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// The privacy scan: no widget message text, session or issue key in the
	// data file or the host's log.
	stacktest.CheckJiraCalls(t, s)
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Data, "chatbridge.db"))
	if err != nil || len(raw) == 0 {
		t.Fatalf("data file: %d bytes, %v", len(raw), err)
	}
	log := []byte(s.Log.String())
	for what, secret := range map[string]string{
		"the customer's message": first, "an agent's reply": "Agent reply one: we are on it",
		"the internal note": "INTERNAL NOTE never for the customer", "the session": session, "the issue key": req.Key,
		"the uploaded file's bytes": "receipt bytes zebra31415",
	} {
		if form, ok := leaks(raw, secret); ok {
			t.Errorf("the data file holds %s %s", what, form)
		}
		if form, ok := leaks(log, secret); ok {
			t.Errorf("the host log holds %s %s", what, form)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
