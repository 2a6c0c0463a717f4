package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// devProcess is `chatbridge dev` running as a child process.
type devProcess struct {
	admin, public string
	token         string // the admin token, when args name -data
	stdout        *lockedBuffer
	stderr        *lockedBuffer
}

// startDev runs chatbridge dev with args (plus loopback ports) until ready;
// the test's cleanup stops it with SIGTERM.
func startDev(t *testing.T, args ...string) *devProcess {
	t.Helper()
	args = append([]string{"dev", "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, args...)
	cmd := exec.Command(binary, args...)
	d := &devProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("chatbridge dev stdout:\n%s\nstderr (last lines):\n%s", d.stdout.String(), lastLines(d.stderr.String(), 40))
		}
	})
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(d.stdout, sc.Text())
			if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case r := <-ready:
		d.public, d.admin = r[0], r[1]
		if i := slicesIndex(args, "-data"); i >= 0 && i+1 < len(args) {
			d.token = readAdminToken(t, args[i+1])
		}
	case <-exited:
		t.Fatalf("dev exited before ready:\n%s\n%s", d.stdout.String(), d.stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("dev not ready within 3 minutes:\n%s\n%s", d.stdout.String(), lastLines(d.stderr.String(), 40))
	}
	return d
}

// bridgeBundleDir writes the unsigned bridge bundle, as `make wasm` does.
func bridgeBundleDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "manifest.yml"), manifest)
	writeFile(t, filepath.Join(dir, "plugin.wasm"), bundletest.Module(t, "./plugin"))
	return dir
}

// simGet decodes a GET of the simulators' control API.
func simGet(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

type sentMessage struct {
	Method string `json:"method"`
	Text   string `json:"text"`
	Plain  string `json:"plain"`
}

// openConsole starts headless Chromium and `chatbridge dev` on the bridge
// bundle with args, and opens the dev console in a page once it is live
// with an installation.
func openConsole(t *testing.T, args ...string) (*cdp, *devProcess) {
	t.Helper()
	b := startChromium(t)
	dev := startDev(t, append([]string{"-bundle", bridgeBundleDir(t), "-data", t.TempDir()}, args...)...)
	page := b.newPage(t)
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := page.call(domain, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := page.call("Page.navigate", map[string]any{"url": dev.admin + "/"}); err != nil {
		t.Fatal(err)
	}
	page.waitFor(t, "the console connects", `document.querySelector('#conn') && document.querySelector('#conn').textContent === 'live' && state.installations.length > 0`, 45*time.Second)
	return page, dev
}

func TestDevConsoleDrivesAConversationInHeadlessChromium(t *testing.T) {
	t.Parallel()
	page, dev := openConsole(t)
	const wait = 30 * time.Second
	page.waitFor(t, "the empty states show", `document.querySelector('#requests').innerText.includes('No requests yet') && document.querySelector('#chat').innerText.includes('No messages')`, wait)

	customer := func(text string) {
		t.Helper()
		js, _ := json.Marshal(text)
		page.eval(t, `document.querySelector('#message').value = `+string(js)+`; document.querySelector('#send').click(); true`, nil)
	}
	agent := func(button, text string) {
		t.Helper()
		js, _ := json.Marshal(text)
		page.eval(t, `document.querySelector('#reply').value = `+string(js)+`; document.querySelector('#`+button+`').click(); true`, nil)
	}
	chatHas := func(text string) string {
		js, _ := json.Marshal(text)
		return `[...document.querySelectorAll('#chat .bubble.bot')].some(b => b.innerText.includes(` + string(js) + `))`
	}

	t.Run("the greeting is rendered in the messenger pane", func(t *testing.T) {
		customer("/start")
		page.waitFor(t, "the greeting", chatHas("Write your question here"), wait)
	})

	const question = "My printer is on fire"
	var key string
	t.Run("a customer message opens a request in the service-desk pane", func(t *testing.T) {
		customer(question)
		page.waitFor(t, "the request", `document.querySelector('#requests li[data-key]') && document.querySelector('#request h3').innerText.includes('`+question+`')`, wait)
		page.eval(t, `document.querySelector('#requests li[data-key]').dataset.key`, &key)
		if key == "" {
			t.Fatal("no request key in the list")
		}
	})

	// Wiki bold becomes Telegram's <b>; the agent's literal tags stay text.
	const reply = "Please unplug it *now* <img src=x onerror=alert(1)>"
	t.Run("a public reply reaches the messenger pane, formatted as Telegram shows it", func(t *testing.T) {
		agent("reply-public", reply)
		page.waitFor(t, "the reply in the chat", chatHas("Please unplug it"), wait)
		page.waitFor(t, "the reply as a public comment", `[...document.querySelectorAll('#comments .comment.public')].some(c => c.innerText.includes('Please unplug it'))`, wait)
		page.waitFor(t, "bold rendered", `[...document.querySelectorAll('#chat .bubble.bot b')].some(b => b.textContent === 'now')`, wait)
		var injected bool
		page.eval(t, `!!document.querySelector('#chat script, #chat [onerror], #chat img')`, &injected)
		if injected {
			t.Fatal("markup from the bot's message became live elements")
		}
		page.waitFor(t, "the agent's literal tag shown as text", chatHas("<img src=x onerror=alert(1)>"), wait)
	})

	t.Run("the Telegram HTML renderer keeps only Telegram's tags", func(t *testing.T) {
		var html string
		page.eval(t, `(() => { const d = document.createElement('div');
			d.append(renderTelegramHTML('<b>b</b><i>i</i><u>u</u><s>s</s><code>c</code><pre>p</pre><blockquote>q</blockquote>' +
				'<a href="https://example.com/x">ok</a><a href="javascript:alert(1)">bad</a><span class="tg-spoiler">sp</span>' +
				'<img src=x onerror=alert(2)><script>alert(3)</script><div onclick="alert(4)">div</div>&lt;tag&gt;'));
			return d.innerHTML; })()`, &html)
		for _, want := range []string{"<b>b</b>", "<i>i</i>", "<u>u</u>", "<s>s</s>", "<code>c</code>", "<pre>p</pre>", "<blockquote>q</blockquote>",
			`href="https://example.com/x"`, `class="tg-spoiler"`, "div", "&lt;tag&gt;"} {
			if !strings.Contains(html, want) {
				t.Errorf("rendered %s\nwithout %s", html, want)
			}
		}
		for _, bad := range []string{"javascript:", "<img", "onerror", "<script", "alert(3)", "onclick", "<div"} {
			if strings.Contains(html, bad) {
				t.Errorf("rendered %s\nwith %s", html, bad)
			}
		}
	})

	t.Run("a document sent from the messenger pane is attached to the request", func(t *testing.T) {
		page.eval(t, `document.querySelector('input[name=kind][value=document]').click(); document.querySelector('#doc-name').value = 'invoice.pdf'; true`, nil)
		customer("Here is the invoice")
		page.waitFor(t, "the customer's document bubble", `[...document.querySelectorAll('#chat .bubble.me')].some(b => b.innerText.includes('invoice.pdf'))`, wait)
		page.waitFor(t, "the attachment on the request", `[...document.querySelectorAll('#request .attachments li')].some(a => a.innerText.includes('invoice.pdf'))`, wait)
		page.eval(t, `document.querySelector('input[name=kind][value=text]').click(); true`, nil)
	})

	const note = "Customer sounds stressed, escalate"
	t.Run("an internal note stays in the service desk", func(t *testing.T) {
		agent("reply-internal", note)
		page.waitFor(t, "the note as an internal comment", `[...document.querySelectorAll('#comments .comment.internal')].some(c => c.innerText.includes('`+note+`'))`, wait)
		// The bridge's outbound work runs from its queue: wait until the
		// host and the simulators have nothing under way, then look.
		quiet := &stacktest.Stack{Admin: dev.admin, Control: stacktest.ControlClient(30*time.Second, dev.token),
			HostAdmin: &stacktest.HostAdmin{URL: dev.admin, Token: dev.token}}
		quiet.Settle(t)
		var shown bool
		page.eval(t, chatHas("escalate"), &shown)
		var sent []sentMessage
		simGet(t, dev.admin+"/_sim/telegram/sent?chat_id=1001", &sent)
		for _, m := range sent {
			if strings.Contains(m.Text, "escalate") {
				shown = true
			}
		}
		if shown {
			t.Fatal("the internal note reached the customer")
		}
	})

	t.Run("resolving the request tells the customer", func(t *testing.T) {
		page.eval(t, `document.querySelector('#resolve').click(); true`, nil)
		page.waitFor(t, "the request resolved", `document.querySelector('#reopen') && document.querySelector('#request .chip.done')`, wait)
		page.waitFor(t, "the resolution message", chatHas("has been resolved"), wait)
	})

	t.Run("the trace, queue and storage inspector show the work", func(t *testing.T) {
		page.waitFor(t, "invocations in the trace", `[...document.querySelectorAll('#trace tr.invocation')].some(r => r.innerText.includes('webtrigger telegram-webhook'))`, wait)
		page.waitFor(t, "capability calls in the trace", `document.querySelector('#trace tr[data-kind=storage]') && document.querySelector('#trace tr[data-kind=fetch]')`, wait)
		page.eval(t, `document.querySelector('#st-refresh').click(); true`, nil)
		page.waitFor(t, "config:SUP sealed beside its value", `[...document.querySelectorAll('#storage tr')].some(r => r.cells[0].innerText.includes('config:SUP') && r.cells[1].innerText.includes('"projectKey"') && r.cells[2].innerText.includes('B: '))`, wait)
		var text string
		page.eval(t, `document.querySelector('#trace').innerText`, &text)
		if strings.Contains(text, question) || strings.Contains(text, "Please unplug") {
			t.Fatal("the trace shows message text")
		}
	})

	t.Run("the fault switches drive the simulators", func(t *testing.T) {
		type rule struct {
			Service string `json:"service"`
			Status  int    `json:"status"`
		}
		rules := func() []rule {
			var r []rule
			simGet(t, dev.admin+"/_sim/fail", &r)
			return r
		}
		page.eval(t, `document.querySelector('#fault-jira').click(); document.querySelector('#fault-telegram').click(); true`, nil)
		pollUntil(t, "Jira 503 and Telegram 429 rules", wait, func() bool {
			r := rules()
			return len(r) == 2 && ((r[0].Service == "jira" && r[0].Status == 503) || (r[1].Service == "jira" && r[1].Status == 503))
		})
		page.eval(t, `document.querySelector('#fault-jira').click(); document.querySelector('#fault-telegram').click(); true`, nil)
		pollUntil(t, "no rules", wait, func() bool { return len(rules()) == 0 })
		page.eval(t, `document.querySelector('#fault-block').click(); true`, nil)
		page.waitFor(t, "the block switch stays on without an error", `document.querySelector('#fault-block').checked && document.querySelector('#fault-error').hidden`, wait)
		page.eval(t, `document.querySelector('#fault-block').click(); true`, nil)
		page.waitFor(t, "the block switch off", `!document.querySelector('#fault-block').checked && document.querySelector('#fault-error').hidden`, wait)
	})

	artifacts := filepath.Join(bundletest.RepoRoot(), "testdata", "artifacts")
	page.screenshot(t, filepath.Join(artifacts, "console.png"))

	t.Run("project settings show validation errors inline", func(t *testing.T) {
		page.eval(t, `location.hash = '#settings'; true`, nil)
		page.waitFor(t, "the SUP settings", `document.querySelector('#cfg-project').value === 'SUP' && document.querySelector('#f-serviceDeskId').value === '1'`, wait)
		page.eval(t, `document.querySelector('#f-serviceDeskId').value = 'desk one'; document.querySelector('#cfg-save').click(); true`, nil)
		page.waitFor(t, "the inline error", `document.querySelector('.error[data-for=serviceDeskId]').innerText.includes('numeric') && document.querySelector('#cfg-result').classList.contains('bad')`, wait)
		page.eval(t, `document.querySelector('#f-serviceDeskId').value = '1'; document.querySelector('#f-greeting').value = 'Welcome to SUP support!'; document.querySelector('#cfg-save').click(); true`, nil)
		page.waitFor(t, "saved", `document.querySelector('#cfg-result').innerText === 'Saved.' && document.querySelector('.error[data-for=serviceDeskId]').innerText === ''`, wait)
		page.screenshot(t, filepath.Join(artifacts, "settings.png"))
		page.eval(t, `location.hash = '#console'; true`, nil)
	})

	t.Run("the console fits a narrow window", func(t *testing.T) {
		if _, err := page.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": true}); err != nil {
			t.Fatal(err)
		}
		page.waitFor(t, "the narrow layout", `document.documentElement.scrollWidth <= window.innerWidth + 1`, wait)
		page.screenshot(t, filepath.Join(artifacts, "console-narrow.png"))
	})

	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("screenshots in %s", artifacts)
}
