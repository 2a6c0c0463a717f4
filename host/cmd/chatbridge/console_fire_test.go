package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// The console's Triggers pane, in headless Chromium, lists the loaded
// manifest's scheduled trigger and fires it with a click: the scaffolded
// plugin's counter counts the tick.
func TestDevConsoleFiresAScheduledTriggerWithAClick(t *testing.T) {
	t.Parallel()
	b := startChromium(t)
	root := t.TempDir()
	dir := filepath.Join(root, "hello")
	mustRun(t, "new", "-sdk", bundletest.RepoRoot(), dir)
	data := filepath.Join(root, "data")
	dev := startDev(t, "-watch", dir, "-data", data)
	url := regexp.MustCompile(`web trigger counter\s+(\S+)`).FindStringSubmatch(dev.stdout.String())
	if url == nil {
		t.Fatalf("dev printed no counter URL:\n%s", dev.stdout.String())
	}
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
	page.waitFor(t, "the Fire tick button", `!!document.querySelector('#fire-buttons button[data-schedule=tick]')`, wait)
	page.eval(t, `document.querySelector('#fire-buttons button[data-schedule=tick]').click(); true`, nil)
	page.waitFor(t, "the console reports the firing", `document.querySelector('#fire-result').textContent.startsWith('fired tick')`, wait)
	waitForCounter(t, url[1], filepath.Join(data, "dev", "dev-cert.pem"), `"ticks":1`)
	page.waitFor(t, "the scheduled invocation in the trace", `[...document.querySelectorAll('#trace tr.invocation')].some(r => r.innerText.includes('tick'))`, wait)
	if p := page.consoleProblems(); len(p) > 0 {
		t.Fatalf("the page logged problems: %v", p)
	}
}
