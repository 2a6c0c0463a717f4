package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
)

// TestDevSimsForwardsWritesWithTheSharedToken: `chatbridge sims` serves no
// write without the admin token of the data directory it shares with the
// dev host (or its own origin), and `dev -sims` reaches it with that token:
// the console's and curl's writes, which the dev listener's guard let
// through, and its own registration of the Jira webhook.
func TestDevSimsForwardsWritesWithTheSharedToken(t *testing.T) {
	data := t.TempDir()
	sims, addr, err := serveSimulators(data, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.shutdown)
	base := "http://" + addr
	token, err := adminToken(data)
	if err != nil {
		t.Fatal(err)
	}
	if token != sims.token || token == "" {
		t.Fatalf("the dev host's token %q is not the sims process's %q", token, sims.token)
	}
	rules := func(t *testing.T) int {
		t.Helper()
		resp, err := http.Get(base + "/_sim/fail")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list []json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	rule := `{"service":"jira","match":"*","status":503,"count":-1}`

	t.Run("a write to the sims listener without the token is refused", func(t *testing.T) {
		resp, err := http.Post(base+"/_sim/fail", "application/json", strings.NewReader(rule))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), filepath.Join(data, adminTokenFile)) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if n := rules(t); n != 0 {
			t.Fatalf("%d fault rules after a refused write", n)
		}
	})

	remote, err := stack.RemoteSimulators(base, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the dev host forwards a write with the token, under the sims listener's own host name", func(t *testing.T) {
		// As the console's page sends it to the dev listener (reached by
		// a name from -admin-hosts, which the sims listener does not serve).
		req := httptest.NewRequest("POST", "/_sim/fail", strings.NewReader(rule))
		req.Host = "admin.internal:9090"
		req.Header.Set("Origin", "http://admin.internal:9090")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		remote.Control().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if n := rules(t); n != 1 {
			t.Fatalf("%d fault rules, want the one forwarded", n)
		}
	})
	t.Run("the dev host registers the Jira webhook with the token", func(t *testing.T) {
		if err := remote.RegisterJiraWebhook("https://127.0.0.1:8443/jira/abc", []byte("s3cret")); err != nil {
			t.Fatal(err)
		}
		var hook struct {
			URL string `json:"url"`
		}
		simGet(t, base+"/_sim/jira/webhook", &hook)
		if hook.URL != "https://127.0.0.1:8443/jira/abc" {
			t.Fatalf("the Jira webhook is %q", hook.URL)
		}
	})
	t.Run("a dev host with another token is refused", func(t *testing.T) {
		other, err := stack.RemoteSimulators(base, token+"0")
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("DELETE", "/_sim/fail", nil)
		w := httptest.NewRecorder()
		other.Control().ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if n := rules(t); n != 1 {
			t.Fatalf("%d fault rules after a refused DELETE, want 1", n)
		}
	})
}

// TestAdminTokenIsMadeOnceWhenProcessesStartTogether: a sims process and
// dev hosts sharing a data directory may all find no token at start; they
// must all end up with the same one, in a 0600 file, and nothing else left
// in the directory.
func TestAdminTokenIsMadeOnceWhenProcessesStartTogether(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		tokens := make([]string, 8)
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := adminToken(dir)
				if err != nil {
					t.Error(err)
				}
				tokens[i] = tok
			}()
		}
		wg.Wait()
		for _, tok := range tokens {
			if tok != tokens[0] || len(tok) != 48 {
				t.Fatalf("round %d: tokens differ or are malformed: %q", round, tokens)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != adminTokenFile {
			t.Fatalf("round %d: the data directory holds %v", round, entries)
		}
		fi, err := os.Stat(filepath.Join(dir, adminTokenFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: %v %v", round, fi.Mode(), err)
		}
	}
	t.Run("an empty token file is an error, not an empty token", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, adminTokenFile), []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if tok, err := adminToken(dir); err == nil {
			t.Fatalf("token %q from an empty file", tok)
		}
	})
}
