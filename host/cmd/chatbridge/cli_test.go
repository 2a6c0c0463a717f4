package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// exitCode runs the binary and returns its output and exit code.
func exitCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := chatbridge(t, args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	t.Fatalf("chatbridge %v: %v", args, err)
	return "", 0
}

func TestEveryCommandPrintsUsageAndExitsZeroOnDashH(t *testing.T) {
	cases := [][]string{{"-h"}, {"--help"}, {"help"}}
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "-h"})
	}
	for _, sub := range []string{"build", "keygen", "sign", "verify"} {
		cases = append(cases, []string{"bundle", sub, "-h"})
	}
	for _, sub := range []string{"new", "rotate"} {
		cases = append(cases, []string{"keys", sub, "-h"})
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, code := exitCode(t, args...)
			if code != 0 || !strings.Contains(strings.ToLower(out), "usage") {
				t.Fatalf("exit %d, want 0 and a usage message:\n%s", code, out)
			}
		})
	}
	// A usage error still exits 2.
	for _, args := range [][]string{{}, {"bundle"}, {"keys"}, {"bundle", "frobnicate"}} {
		if out, code := exitCode(t, args...); code != 2 {
			t.Errorf("chatbridge %v: exit %d, want 2:\n%s", args, code, out)
		}
	}
}

func TestVersionSaysWhatTheBinaryKnows(t *testing.T) {
	out, code := exitCode(t, "version")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// TestMain builds with -buildvcs=false and no -X main.commit.
	for _, want := range []string{"chatbridge ", "commit     unknown", "go         " + runtime.Version(), "module sha256"} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	commit = "0123abcd"
	defer func() { commit = "" }()
	if l := versionLines()[1]; !strings.HasPrefix(l, "commit     0123abcd") {
		t.Errorf("with -X main.commit: %q", l)
	}
}

// flagDefault is the default of name in the flag set a command builds.
func flagDefault(t *testing.T, run func([]string, io.Writer, io.Writer) error, args []string, name string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(append(args, "-h"), &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	m := regexp.MustCompile(`(?m)^  -` + name + ` string\n(?:.*\n)*?.*\(default "([^"]*)"\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no default for -%s in:\n%s", name, out.String())
	}
	return m[1]
}

func TestServeAndTheCLIShareTheirDefaults(t *testing.T) {
	admin := flagDefault(t, runServe, nil, "admin")
	data := flagDefault(t, runServe, nil, "data")
	if admin != "127.0.0.1:9091" || data != "/var/lib/chatbridge" {
		t.Fatalf("serve's defaults: -admin %q -data %q", admin, data)
	}
	for name, run := range map[string]func([]string, io.Writer, io.Writer) error{"install": runInstall, "uninstall": runUninstall, "installations": runInstallations} {
		if got := flagDefault(t, run, nil, "admin"); got != "http://"+admin {
			t.Errorf("%s -admin defaults to %q, serve listens on %q", name, got, admin)
		}
		if got := flagDefault(t, run, nil, "data"); got != data {
			t.Errorf("%s -data defaults to %q, serve's is %q", name, got, data)
		}
	}
	if got := flagDefault(t, runKeys, []string{"rotate"}, "data"); got != data {
		t.Errorf("keys rotate -data defaults to %q, serve's is %q", got, data)
	}
	if got := flagDefault(t, runDev, nil, "data"); got != "data" {
		t.Errorf("dev -data defaults to %q", got)
	}
}

func TestTheCLITakesTheAdminTokenFromAFlag(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer the-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/health") {
			_, _ = io.WriteString(w, `{}`)
			return
		}
		_, _ = io.WriteString(w, `[{"id":"inst-1"}]`)
	}))
	defer api.Close()
	empty := t.TempDir()
	var out, errb bytes.Buffer
	if err := runInstallations([]string{"-admin", api.URL, "-data", empty, "-token", "the-token"}, &out, &errb); err != nil || !strings.Contains(out.String(), "inst-1") {
		t.Fatalf("with -token: %v %s %s", err, out.String(), errb.String())
	}
	err := runInstallations([]string{"-admin", api.URL, "-data", empty}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "-token") {
		t.Fatalf("without a token: %v", err)
	}
	if err := runInstallations([]string{"-admin", api.URL, "-data", empty, "-token", "wrong"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: %v", err)
	}
}

// TestLongRunningCommandsLogJSONOnly provokes a line from net/http's server
// (a TLS handshake error on a simulator's listener), which the standard
// log package printed as plain text, and a failure at start.
func TestLongRunningCommandsLogJSONOnly(t *testing.T) {
	cmd := exec.Command(binary, "sims", "-data", t.TempDir(), "-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &stacktest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`control API (http://\S+)/_sim/`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("sims printed %q: %v\n%s", line, err, stderr.String())
	}
	resp, err := http.Get(m[1] + "/_sim/egress")
	if err != nil {
		t.Fatal(err)
	}
	var route stack.EgressRoute
	err = json.NewDecoder(resp.Body).Decode(&route)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", route.Routes["api.telegram.org"])
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	_, _ = io.ReadAll(c)
	c.Close()
	waitfor.Until(t, stacktest.Wait, "the simulator's listener logs the handshake error", func() string {
		if strings.Contains(stderr.String(), "TLS handshake error") {
			return ""
		}
		return stderr.String()
	})

	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	checkJSONLines(t, stderr.String())

	// A failing start is a JSON record too.
	out, code := exitCode(t, "balance", "-listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "-to is required") {
		t.Fatalf("balance without -to: exit %d\n%s", code, out)
	}
	checkJSONLines(t, out)
}

func checkJSONLines(t *testing.T, s string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !json.Valid([]byte(l)) {
			t.Errorf("a log line that is not JSON: %q", l)
		}
	}
}

func TestMakeRunSaysWhatItBuilds(t *testing.T) {
	cmd := exec.Command("make", "-n", "run")
	cmd.Dir = bundletest.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	// Every go build is announced and names its packages as it goes.
	var announced bool
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "echo \"==> ") {
			announced = true
		}
		if strings.Contains(l, "go build") && !strings.HasPrefix(l, "echo") {
			if !announced || !strings.Contains(l, " -v ") {
				t.Errorf("a silent build step: %q", l)
			}
			announced = false
		}
	}
}

func TestKeysNewWritesAKeyServeAcceptsAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	out, code := exitCode(t, "keys", "new", "-out", keyFile)
	if code != 0 || !strings.Contains(out, "wrote master key") {
		t.Fatalf("keys new: exit %d\n%s", code, out)
	}
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	keys, err := seal.ReadKeyFile(keyFile)
	if err != nil || len(keys) != 1 || !strings.Contains(out, keys[0].ID()) {
		t.Fatalf("the loader reads %v, %v; keys new said:\n%s", keys, err, out)
	}
	before, _ := os.ReadFile(keyFile)
	out, code = exitCode(t, "keys", "new", "-out", keyFile)
	if after, _ := os.ReadFile(keyFile); code != 1 || !strings.Contains(out, "not overwritten") || !bytes.Equal(before, after) {
		t.Fatalf("a second keys new: exit %d\n%s", code, out)
	}
	// -out - prints the key alone, which the environment variable takes.
	out, code = exitCode(t, "keys", "new", "-out", "-")
	if k, err := seal.ParseMasterKey(strings.TrimSpace(out)); code != 0 || err != nil {
		t.Fatalf("keys new -out -: exit %d, %v %v\n%s", code, k, err, out)
	}
}

func TestRawKeyBytesAreRefusedSayingWhatToDo(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(0x80 + i) // not base64 in any alphabet
	}
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := seal.ReadKeyFile(keyFile)
	if err == nil || !strings.Contains(err.Error(), "chatbridge keys new") || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("raw bytes in the key file: %v", err)
	}
	t.Setenv(masterKeyEnv, "short")
	if _, err := seal.LoadMasterKeys(""); err == nil || !strings.Contains(err.Error(), "chatbridge keys new") {
		t.Fatalf("a short key in %s: %v", masterKeyEnv, err)
	}
}
