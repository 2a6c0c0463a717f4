package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// copyTree copies the files under src/rel into dst/rel.
func copyTree(t *testing.T, src, dst string, rels ...string) {
	t.Helper()
	copyFiles(t, src, dst, 0o755, 0o644, rels...)
}

// copyFiles copies the files under src/rel into dst/rel, with these modes.
func copyFiles(t *testing.T, src, dst string, dirMode, fileMode fs.FileMode, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		err := filepath.WalkDir(filepath.Join(src, rel), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(src, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, r), dirMode)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, r), b, fileMode)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

type consoleState struct {
	Pending      int64  `json:"pending"`
	ModuleSHA256 string `json:"moduleSha256"`
	Reload       struct {
		State   string `json:"state"`
		Message string `json:"message"`
		Count   int    `json:"count"`
	} `json:"reload"`
}

func simPost(t *testing.T, token, method, url, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}

// pollUntil polls cond every 200 ms until it holds or within passes.
func pollUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestLiveReloadServesTheNewGreetingAndKeepsQueuedWork(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyTree(t, bundletest.RepoRoot(), src, "go.mod", "go.sum", "plugin", "wit")
	dev := startDev(t, "-bundle", bridgeBundleDir(t), "-data", t.TempDir(), "-watch", src)

	state := func() consoleState {
		var st consoleState
		simGet(t, dev.admin+"/_console/state", &st)
		return st
	}
	sent := func(chat string) []sentMessage {
		var out []sentMessage
		simGet(t, dev.admin+"/_sim/telegram/sent?chat_id="+chat, &out)
		return out
	}
	said := func(chat, text string) bool {
		for _, m := range sent(chat) {
			if strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	}
	requestFor := func(text string) bool {
		var reqs []struct{ Summary string }
		simGet(t, dev.admin+"/_sim/jira/requests", &reqs)
		for _, r := range reqs {
			if strings.Contains(r.Summary, text) {
				return true
			}
		}
		return false
	}
	pollUntil(t, "the watcher starts", 30*time.Second, func() bool { return state().Reload.State == "watching" })
	before := state().ModuleSHA256

	simPost(t, dev.token, http.MethodPost, dev.admin+"/_sim/telegram/send", `{"chat_id":2001,"text":"/start"}`)
	pollUntil(t, "the old greeting", 30*time.Second, func() bool { return said("2001", "Hello! Write your question here") })

	// A customer message whose request Jira refuses for now (429, retry in
	// 25 s) waits in the queue across the reload.
	simPost(t, dev.token, http.MethodPost, dev.admin+"/_sim/fail", `{"service":"jira","match":"*","status":429,"retry_after":25,"count":1}`)
	const question = "Queued before the reload"
	simPost(t, dev.token, http.MethodPost, dev.admin+"/_sim/telegram/send", `{"chat_id":2002,"text":"`+question+`"}`)
	pollUntil(t, "the message waits in the queue", 20*time.Second, func() bool { return state().Pending > 0 })

	texts := filepath.Join(src, "plugin", "bridge", "texts.go")
	b, err := os.ReadFile(texts)
	if err != nil {
		t.Fatal(err)
	}
	const old, greeting = "Hello! Write your question here", "Howdy! Live reload says hi; write your question here"
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s no longer holds the greeting %q", texts, old)
	}
	writeFile(t, texts, bytes.Replace(b, []byte(old), []byte(greeting), 1))

	pollUntil(t, "the rebuilt bundle is loaded", 2*time.Minute, func() bool {
		st := state()
		if st.Reload.State == "failed" {
			t.Fatalf("reload failed: %s", st.Reload.Message)
		}
		return st.Reload.State == "loaded" && st.Reload.Count == 1
	})
	if st := state(); st.ModuleSHA256 == before {
		t.Fatal("the module did not change")
	}
	if requestFor(question) {
		t.Log("the queued message was delivered before the swap finished; the reload was slower than its retry")
	}

	t.Run("the next /start is answered with the new greeting", func(t *testing.T) {
		simPost(t, dev.token, http.MethodPost, dev.admin+"/_sim/telegram/send", `{"chat_id":2003,"text":"/start"}`)
		pollUntil(t, "the new greeting", 30*time.Second, func() bool { return said("2003", "Howdy! Live reload says hi") })
	})
	t.Run("the message queued before the reload is delivered", func(t *testing.T) {
		pollUntil(t, "the request for the queued message", 60*time.Second, func() bool { return requestFor(question) })
	})
	if strings.Contains(dev.stdout.String()+dev.stderr.String(), "panic") {
		t.Fatal("the process panicked")
	}
	var st struct {
		DeadLetters int64 `json:"deadLetters"`
	}
	simGet(t, dev.admin+"/_console/state", &st)
	if st.DeadLetters != 0 {
		t.Fatalf("%d queued messages dead-lettered", st.DeadLetters)
	}
}
