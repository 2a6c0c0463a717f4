package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/proxy"
)

// TestVendorGuideRunsStepByStep follows docs/vendors.md from an empty
// folder: every sh block runs in order under sh -e, with the guide's
// variables pointing at temporary folders. A second plugin, not the bridge,
// is scaffolded from `chatbridge new`, unit-tested, built, signed with a
// vendor key, audited, trusted by a `chatbridge serve` (the real binary),
// installed without a Jira site and called through the HTTPS edge; its
// scheduled trigger is fired through the admin API.
func TestVendorGuideRunsStepByStep(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the guide calls the web trigger with curl, which is not installed")
	}
	sections := readGuide(t, "vendors.md")
	root := t.TempDir()
	work := filepath.Join(root, "work")
	certFile, keyFile, err := proxy.DevCertificate(filepath.Join(root, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	vars := map[string]string{
		"CHATBRIDGE_REPO": bundletest.RepoRoot(), "WORK": work,
		"LISTEN": listen, "PUBLIC": "https://" + listen, "ADMIN": "http://" + admin,
		"CERT": certFile, "KEY": keyFile, "CA": certFile,
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	svc := &service{t: t, env: env}
	defer func() {
		if svc.cmd != nil {
			_ = svc.stop()
		}
	}()
	ctlDir := t.TempDir()
	ctl := startHTTP(t, svc.control(ctlDir))

	counters := func(out string) (c struct{ Hits, Worked, Ticks int }) {
		t.Helper()
		// The block's last answer (curl adds no newline between them).
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("the web trigger answered %q: %v", out, err)
			}
		}
		return c
	}
	// What each section's commands must have done, checked after its blocks.
	after := map[string]func(outs []string){
		"Scaffold a plugin": func([]string) {
			for _, f := range []string{"go.mod", "go.sum", "main.go", "main_test.go", "manifest.yml"} {
				if _, err := os.Stat(filepath.Join(work, "hello", f)); err != nil {
					t.Fatalf("the scaffold: %v", err)
				}
			}
		},
		"Unit test": func(outs []string) {
			if !strings.Contains(outs[0], "ok") {
				t.Fatalf("go test printed:\n%s", outs[0])
			}
		},
		"Sign it": func([]string) {
			if _, err := os.Stat(filepath.Join(work, "hello", "bundle", "signature.json")); err != nil {
				t.Fatal(err)
			}
		},
		"Audit it": func(outs []string) {
			for _, want := range []string{"ari:cloud:ecosystem::app/hello", "trusted: true", "result  PASS"} {
				if !strings.Contains(outs[0], want) {
					t.Fatalf("the audit does not say %q:\n%s", want, outs[0])
				}
			}
			// Where the SBOM and the diff against a changed version go (issue 22).
		},
		"Install an installation": func(outs []string) {
			if !strings.Contains(outs[0], `"counter": "https://`+listen+`/x/`) || strings.Contains(outs[0], "jiraWebhookUrl") {
				t.Fatalf("install answered:\n%s", outs[0])
			}
		},
		"Call the web trigger over HTTPS": func(outs []string) {
			if c := counters(outs[0]); c.Hits != 2 {
				t.Fatalf("after two POSTs: %+v", c)
			}
			// The consumer's work lands after the answers: the guide's
			// next block reads it, so wait here for the counter that proves it.
			waitForWorked(t, vars, 2)
		},
		"Fire the scheduled trigger now": func(outs []string) {
			if c := counters(outs[0]); c.Ticks != 1 || c.Hits != 2 || c.Worked != 2 {
				t.Fatalf("after the firing: %+v", c)
			}
		},
	}

	g := guideRun{root: root, env: append(append([]string{}, env...), "CB_TEST_DIR="+ctlDir, "CB_TEST_CTRL="+ctl),
		vars: vars, svc: svc, after: after}
	t.Logf("ran %d sh blocks of docs/vendors.md", g.run(t, sections))
	// The vendor's bundle is signed by the vendor key alone: serving it
	// signed nothing in its folder.
	mustRun(t, "bundle", "verify", "-trust", filepath.Join(work, "trust"), filepath.Join(work, "hello", "bundle"))
	if svc.cmd != nil {
		if err := svc.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForWorked waits until the plugin's consumer has counted n work items,
// asking the web trigger (GET) as the guide does.
func waitForWorked(t *testing.T, vars map[string]string, n int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vars["WORK"], "install.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct{ WebTriggers map[string]string }
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	waitForCounter(t, in.WebTriggers["counter"], vars["CA"], fmt.Sprintf(`"worked":%d`, n))
}

// waitForCounter GETs url over HTTPS (trusting caFile) until the answer
// holds want.
func waitForCounter(t *testing.T, url, caFile, want string) {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no certificate in " + caFile)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitfor.Until(t, stacktest.Wait, "the answer to hold "+want, func() string {
		resp, err := client.Get(url)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), want) {
			return "answered " + string(b)
		}
		return ""
	})
}
