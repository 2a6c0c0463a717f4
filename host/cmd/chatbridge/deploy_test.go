package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// needTool skips when a packaging tool is missing: `make test` installs it
// first (make deploy-tools), so only a bare `go test` skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: `make deploy-tools` installs it from Debian's packages", name)
	}
	return path
}

// unitExecStart is the unit's ExecStart= with its line continuations joined.
func unitExecStart(t *testing.T, unit string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ExecStart=((?:.*\\\n)*.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("the unit has no ExecStart=")
	}
	return strings.Fields(strings.ReplaceAll(m[1], "\\\n", " "))
}

func TestSystemdUnitVerifies(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "deploy", "chatbridge.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)

	// ExecStart= is a serve command line that serve's flags accept.
	args := unitExecStart(t, unit)
	if len(args) < 2 || args[0] != "/usr/local/bin/chatbridge" || args[1] != "serve" {
		t.Fatalf("ExecStart= runs %v", args)
	}
	var c serveConfig
	fs := newFlags("serve", &strings.Builder{})
	c.flags(fs, false)
	c.clusterFlags(fs)
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 {
		t.Fatalf("serve refuses the unit's flags %v: %v", args[2:], err)
	}
	if c.masterKeyFile == "" || !strings.HasPrefix(c.masterKeyFile, "/etc/chatbridge/keys/") || !strings.Contains(unit, "ReadWritePaths=/etc/chatbridge/keys") {
		t.Errorf("the master key file %q is not in the one directory the unit lets serve write (online rotation rewrites it)", c.masterKeyFile)
	}
	if c.data != "/var/lib/chatbridge" || !strings.Contains(unit, "StateDirectory=chatbridge") {
		t.Errorf("-data %q is not the unit's StateDirectory", c.data)
	}
	for _, want := range []string{"User=chatbridge", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %s", want)
		}
	}

	// systemd-analyze verify, with ExecStart= pointing at this build (it
	// checks that the command exists). Any output is a finding: an
	// unknown key is only a warning to systemd.
	analyze := needTool(t, "systemd-analyze")
	dir := t.TempDir()
	path := filepath.Join(dir, "chatbridge.service")
	writeFile(t, path, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/chatbridge", "ExecStart="+binary, 1)))
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check can fail: a misspelt option is reported.
	bad := filepath.Join(dir, "bad.service")
	writeFile(t, bad, []byte(strings.Replace(string(mustRead(t, path)), "ProtectSystem=", "ProtectSystm=", 1)))
	if out, _ := exec.Command(analyze, "verify", bad).CombinedOutput(); !strings.Contains(string(out), "ProtectSystm") {
		t.Fatalf("systemd-analyze verify let a misspelt key through:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContainerImageBuildsOffline(t *testing.T) {
	buildah := needTool(t, "buildah")
	root := bundletest.RepoRoot()
	store := t.TempDir()
	flags := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
	image := fmt.Sprintf("localhost/chatbridge-test:%d", os.Getpid())
	cmd := exec.Command("sh", "deploy/build-image.sh")
	cmd.Dir = root
	// No proxy and no registry: FROM scratch must need neither.
	cmd.Env = append(os.Environ(), "IMAGE="+image, "CTX="+filepath.Join(t.TempDir(), "ctx"),
		"BUILDAH_FLAGS="+strings.Join(flags[:4], " "), "HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	bah := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(buildah, append(flags, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("buildah %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	var info struct {
		OCIv1 struct {
			Config struct {
				User       string
				Entrypoint []string
				Cmd        []string
			}
		}
	}
	if err := json.Unmarshal([]byte(bah("inspect", "--type", "image", image)), &info); err != nil {
		t.Fatal(err)
	}
	cfg := info.OCIv1.Config
	if cfg.User != "65532:65532" || len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "/usr/local/bin/chatbridge" || len(cfg.Cmd) == 0 || cfg.Cmd[0] != "serve" {
		t.Fatalf("image config: %+v", cfg)
	}
	ctr := bah("from", image)
	defer bah("rm", ctr)
	mnt := bah("mount", ctr)
	defer bah("umount", ctr)
	// Nothing but what the Containerfile puts there.
	var files []string
	_ = filepath.Walk(mnt, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(mnt, p)
			files = append(files, rel)
		}
		return nil
	})
	if strings.Join(files, " ") != "etc/ssl/certs/ca-certificates.crt usr/local/bin/chatbridge" {
		t.Fatalf("the image holds %v", files)
	}
	st, err := os.Stat(filepath.Join(mnt, "var", "lib", "chatbridge"))
	if err != nil || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 65532 {
		t.Fatalf("the data directory is not the image user's alone: %v %v", st, err)
	}
	// The binary is static: it runs here, outside the image's loader.
	out, err := exec.Command(filepath.Join(mnt, "usr", "local", "bin", "chatbridge"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go1") {
		t.Fatalf("the image's binary: %v\n%s", err, out)
	}
	file, err := os.ReadFile(filepath.Join(mnt, "usr", "local", "bin", "chatbridge"))
	if err != nil || strings.Contains(string(file[:4096]), "ld-linux") {
		t.Fatal("the image's binary asks for a dynamic loader")
	}
}
