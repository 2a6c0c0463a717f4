package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/audit"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/proxy"
)

// TestVendorGuideRunsStepByStep follows docs/vendors.md from an empty
// folder: every sh block runs in order under sh -e, with the guide's
// variables pointing at temporary folders. A second plugin, not the bridge,
// is scaffolded from `chatbridge new`, unit-tested, run in the real host by
// a test of its own through host/hosttest, built, signed with a
// vendor key, audited (its CycloneDX SBOM names the plugin and the SDK; a
// changed version, with a new capability and egress host, is diffed against
// it and the diff names both), trusted by a `chatbridge serve` (the real binary),
// installed without a Jira site and called through the HTTPS edge; its
// scheduled trigger is fired through the admin API.
func TestVendorGuideRunsStepByStep(t *testing.T) {
	t.Parallel()
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
		"Test it in the real host": func(outs []string) {
			// TestInTheHost ran the built module in host/hosttest's host.
			if !strings.Contains(outs[0], "ok  \texample.com/hello") {
				t.Fatalf("go test with hosttest printed:\n%s", outs[0])
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
		},
		"Write its bill of materials": func(outs []string) {
			checkGuideSBOM(t, filepath.Join(work, "hello"), vars["CHATBRIDGE_REPO"])
		},
		"Review a new version": func(outs []string) {
			// The text diff names the change and nothing else.
			for _, want := range []string{`(?m)^capabilities +\+ fetch$`, `(?m)^egress +\+ api\.example\.com:443$`,
				`(?m)^unchanged +egress used, links, links used, scopes, imports, exports, memory, dependencies$`} {
				if !regexp.MustCompile(want).MatchString(outs[1]) {
					t.Fatalf("the diff does not match %s:\n%s", want, outs[1])
				}
			}
			raw, err := os.ReadFile(filepath.Join(work, "hello", "diff.json"))
			if err != nil {
				t.Fatal(err)
			}
			var d audit.Diff
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Capabilities.Added, []string{"fetch"}) || !slices.Equal(d.Egress.Added, []string{"api.example.com:443"}) ||
				len(d.Capabilities.Removed)+len(d.Egress.Removed)+len(d.Scopes.Added)+len(d.Imports.Added)+len(d.Deps.Added)+len(d.Deps.Changed)+len(d.Other) != 0 ||
				d.Old.ModuleSHA256 != d.New.ModuleSHA256 {
				t.Fatalf("the JSON diff: %s", raw)
			}
			// The new version on its own: it passes, warning that the
			// module does not import the capability it now declares.
			for _, want := range []string{"WARN    capabilities: the manifest declares fetch but the module never imports it", "result  PASS"} {
				if !strings.Contains(outs[1], want) {
					t.Fatalf("the audit of version 2 does not say %q:\n%s", want, outs[1])
				}
			}
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

// checkGuideSBOM checks the SBOM the guide wrote for the plugin in dir: a
// CycloneDX 1.5 bill whose component is the plugin's main module with
// plugin.wasm's SHA-256, and which lists the SDK, replaced by the checkout.
func checkGuideSBOM(t *testing.T, dir, sdk string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "sbom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bom audit.SBOM
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(filepath.Join(dir, "bundle", "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(module)
	main := bom.Metadata.Component
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || main.Name != "example.com/hello" ||
		len(main.Hashes) != 1 || main.Hashes[0].Alg != "SHA-256" || main.Hashes[0].Content != hex.EncodeToString(sum[:]) {
		t.Fatalf("the SBOM's plugin: %s", raw)
	}
	for _, c := range bom.Components {
		if c.Name != "github.com/chatbridge/chatbridge" {
			continue
		}
		for _, p := range c.Properties {
			if p.Name == "chatbridge:gomod:replace" && strings.HasPrefix(p.Value, filepath.Clean(sdk)+" ") {
				return
			}
		}
		t.Fatalf("the SDK is not replaced by %s in the SBOM: %+v", sdk, c)
	}
	t.Fatalf("the SBOM does not list the SDK: %s", raw)
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
