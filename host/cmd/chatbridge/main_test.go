package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatbridge-cmd-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "chatbridge")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	bundletest.Cleanup()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// probeBundleDir writes the unsigned probe bundle, as `make bundle` does.
func probeBundleDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "manifest.yml"), manifest)
	writeFile(t, filepath.Join(dir, "plugin.wasm"), bundletest.Module(t, "./plugin/examples/probe"))
	return dir
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func chatbridge(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var (
	readyRE   = regexp.MustCompile(`^ready (https://\S+) admin (http://\S+)$`)
	triggerRE = regexp.MustCompile(`web trigger probe\s+(https://\S+)`)
)

func TestDevServesTheExampleBundleAndShutsDownCleanly(t *testing.T) {
	data := t.TempDir()
	cmd := exec.Command(binary, "dev", "-bundle", probeBundleDir(t), "-data", data, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var trigger, admin string
	timeout := time.After(2 * time.Minute)
	for admin == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("dev exited before ready:\n%s", stderr.String())
			}
			if m := triggerRE.FindStringSubmatch(line); m != nil {
				trigger = m[1]
			}
			if m := readyRE.FindStringSubmatch(line); m != nil {
				admin = m[2]
			}
		case <-timeout:
			t.Fatalf("no ready line within 2 minutes:\n%s", stderr.String())
		}
	}
	if trigger == "" {
		t.Fatal("dev printed no web trigger URL")
	}

	// The edge presents the development certificate written under data/dev.
	certPEM, err := os.ReadFile(filepath.Join(data, "dev", "dev-cert.pem"))
	if err != nil {
		entries, _ := os.ReadDir(filepath.Join(data, "dev"))
		t.Fatalf("dev certificate: %v (dev holds %v)", err, entries)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	post := func(body string) map[string]any {
		t.Helper()
		resp, err := client.Post(trigger, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Strict-Transport-Security") == "" {
			t.Error("the edge sent no HSTS header")
		}
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		return out
	}
	const marker = "a-value-that-must-only-exist-sealed"
	if r := post(`{"op":"storage.set","key":"hello","value":"` + marker + `"}`); r["ok"] != true {
		t.Fatalf("set: %v", r)
	}
	if r := post(`{"op":"storage.get","key":"hello"}`); r["value"] != marker {
		t.Fatalf("get: %v", r)
	}
	// The schedule is wired: the probe's hourly trigger fires for the dev
	// installation once, soon after start (the probe counts it).
	waitfor.Until(t, time.Minute, "the hourly trigger's first firing", func() string {
		r := post(`{"op":"storage.get","key":"scheduled-count:housekeeping"}`)
		switch r["value"] {
		case "1":
			return ""
		case nil:
			return "not fired yet"
		}
		t.Fatalf("the scheduled trigger's count: %v, want one firing", r)
		return ""
	})

	t.Run("the admin API needs the token and manages installations", func(t *testing.T) {
		resp, err := http.Get(admin + "/admin/installations")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without the token: %d", resp.StatusCode)
		}
		install := func(auth string) ([]byte, error) {
			cmd := exec.Command(binary, "install", "-admin", admin, "-data", data, "-site", stack.Site)
			cmd.Env = append(os.Environ(), "CHATBRIDGE_JIRA_AUTHORIZATION="+auth)
			return cmd.Output()
		}
		// Credentials the site refuses are refused, saying what to do.
		out, err := install("Basic eDp5")
		if ee, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(ee.Stderr), "/rest/api/3/myself answered 401") || !strings.Contains(string(ee.Stderr), "API token") {
			t.Fatalf("install with refused credentials: %v %s", err, out)
		}
		// The dev site again, from the command line: the account comes
		// from the credentials (GET /rest/api/3/myself), none is given.
		var list []struct{ ID, SiteURL string }
		out2, err := chatbridge(t, "installations", "-admin", admin, "-data", data)
		out = []byte(out2)
		if err != nil || json.Unmarshal(out, &list) != nil || len(list) != 1 {
			t.Fatalf("installations: %v\n%s", err, out)
		}
		if out, err := chatbridge(t, "uninstall", "-admin", admin, "-data", data, list[0].ID); err != nil {
			t.Fatalf("uninstall: %v\n%s", err, out)
		}
		raw, err := install("Basic ZGV2OmRldg==")
		if err != nil {
			t.Fatalf("install: %v\n%s", err, raw)
		}
		var in struct{ ID, JiraWebhookSecret, AppAccountID string }
		if err := json.Unmarshal(raw, &in); err != nil || in.ID == "" || in.JiraWebhookSecret == "" || in.AppAccountID != "chatbridge-dev-app" {
			t.Fatalf("install printed %s", raw)
		}
		if out, err := chatbridge(t, "installations", "-admin", admin, "-data", data); err != nil || !strings.Contains(out, in.ID) {
			t.Fatalf("installations: %v\n%s", err, out)
		}
		if out, err := chatbridge(t, "uninstall", "-admin", admin, "-data", data, in.ID); err != nil {
			t.Fatalf("uninstall: %v\n%s", err, out)
		}
		if out, _ := chatbridge(t, "installations", "-admin", admin, "-data", data); strings.Contains(out, in.ID) {
			t.Fatalf("still listed after uninstall:\n%s", out)
		}
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("dev did not exit within 40 s of SIGTERM")
	}
	raw, err := os.ReadFile(filepath.Join(data, "chatbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("hello")) {
		t.Fatal("the data file holds a stored key or value in plaintext")
	}
	for _, secret := range []string{"Basic eDp5", "ZGV2OmRldg"} {
		if bytes.Contains(raw, []byte(secret)) || strings.Contains(stderr.String(), secret) {
			t.Fatalf("Jira credentials %q appear in the data file or the log", secret)
		}
	}
}

func TestBundleKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "vendor.key"), filepath.Join(dir, "trust", "vendor.pub")
	if err := os.MkdirAll(filepath.Dir(pub), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := chatbridge(t, "bundle", "keygen", "-key", key, "-pub", pub); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	b := probeBundleDir(t)
	if out, err := chatbridge(t, "bundle", "verify", "-trust", filepath.Dir(pub), b); err == nil {
		t.Fatalf("an unsigned bundle verified:\n%s", out)
	}
	if out, err := chatbridge(t, "bundle", "sign", "-key", key, b); err != nil {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	out, err := chatbridge(t, "bundle", "verify", "-trust", filepath.Dir(pub), b)
	if err != nil || !strings.HasPrefix(out, "ok ari:cloud:ecosystem::app/chatbridge-probe") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = chatbridge(t, "audit", "-trust", filepath.Dir(pub), b)
	if err != nil || !strings.Contains(out, "result  PASS") {
		t.Fatalf("audit of a good bundle: %v\n%s", err, out)
	}
	if out, err := chatbridge(t, "audit", "-json", "-trust", filepath.Dir(pub), b); err != nil || !strings.Contains(out, `"moduleSha256"`) {
		t.Fatalf("audit -json: %v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(b, "plugin.wasm"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(f, "x")
	f.Close()
	if out, err := chatbridge(t, "bundle", "verify", "-trust", filepath.Dir(pub), b); err == nil || !strings.Contains(out, "changed after signing") {
		t.Fatalf("a tampered bundle: %v\n%s", err, out)
	}
	if out, err := chatbridge(t, "audit", "-trust", filepath.Dir(pub), b); err == nil || !strings.Contains(out, "FAIL") {
		t.Fatalf("audit of a tampered bundle exited 0:\n%s", out)
	}
}

func TestUnknownCommandAndMissingFlagsFailClearly(t *testing.T) {
	if out, err := chatbridge(t, "frobnicate"); err == nil || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %v\n%s", err, out)
	}
	if out, err := chatbridge(t, "serve"); err == nil || !strings.Contains(out, "missing required flags") {
		t.Fatalf("serve without flags: %v\n%s", err, out)
	}
}
