package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Dev mode runs any plugin, here one scaffolded by `chatbridge new`, from
// relative -bundle and -watch paths; it signs a copy with the dev key and
// leaves the vendor's signed bundle as it was; the plugin's scheduled
// trigger fires on demand through the admin API, with the line dev prints.
func TestDevRunsAScaffoldedPluginFromRelativePathsAndSignsOnlyACopy(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "hello")
	mustRun(t, "new", "-sdk", bundletest.RepoRoot(), dir)
	bundleDir := filepath.Join(dir, "bundle")
	mustRun(t, "bundle", "build", "-o", bundleDir, dir)
	mustRun(t, "bundle", "keygen", "-key", filepath.Join(root, "keys", "vendor.key"), "-pub", filepath.Join(root, "trust", "vendor.pub"))
	mustRun(t, "bundle", "sign", "-key", filepath.Join(root, "keys", "vendor.key"), bundleDir)
	signed, err := os.ReadFile(filepath.Join(bundleDir, "signature.json"))
	if err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relBundle, err := filepath.Rel(cwd, bundleDir)
	if err != nil {
		t.Fatal(err)
	}
	relDir, _ := filepath.Rel(cwd, dir)
	data := filepath.Join(root, "data")
	dev := startDev(t, "-bundle", relBundle, "-watch", relDir, "-data", data)

	out := dev.stdout.String()
	id := regexp.MustCompile(`installation (\S+) site`).FindStringSubmatch(out)
	url := regexp.MustCompile(`web trigger counter\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || url == nil || !strings.Contains(out, "live reload: watching "+dir) {
		t.Fatalf("dev printed:\n%s", out)
	}
	// The hints come from the loaded manifest: the scheduled trigger and
	// the line that fires it.
	if !strings.Contains(out, "scheduled trigger tick (every ") || !strings.Contains(out, dev.admin+"/admin/installations/"+id[1]+"/schedule/tick/fire") {
		t.Fatalf("dev printed no hint to fire the scheduled trigger:\n%s", out)
	}
	req, _ := http.NewRequest(http.MethodPost, dev.admin+"/admin/installations/"+id[1]+"/schedule/tick/fire", nil)
	req.Header.Set("Authorization", "Bearer "+dev.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fire: %s", resp.Status)
	}
	waitForCounter(t, url[1], filepath.Join(data, "dev", "dev-cert.pem"), `"ticks":1`)

	req, _ = http.NewRequest(http.MethodPost, dev.admin+"/admin/installations/"+id[1]+"/schedule/nope/fire", nil)
	req.Header.Set("Authorization", "Bearer "+dev.token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("firing an undeclared trigger: %s, want 404", resp.Status)
	}

	after, err := os.ReadFile(filepath.Join(bundleDir, "signature.json"))
	if err != nil || !bytes.Equal(after, signed) {
		t.Fatalf("dev touched the vendor's signature (%v)", err)
	}
	mustRun(t, "bundle", "verify", "-trust", filepath.Join(root, "trust"), bundleDir)
	waitfor.Until(t, stacktest.Wait, "the watcher to start", func() string {
		var st consoleState
		simGet(t, dev.admin+"/_console/state", &st)
		if st.Reload.State != "watching" {
			return "reload state " + st.Reload.State + ": " + st.Reload.Message
		}
		return ""
	})
}
