package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	bundletest.Cleanup()
	os.Exit(code)
}

func probeManifest(t *testing.T) []byte {
	t.Helper()
	m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func hasFinding(r *Report, sev Severity, substr string) bool {
	for _, f := range r.Findings {
		if f.Severity == sev && strings.Contains(f.Message, substr) {
			return true
		}
	}
	return false
}

func TestASignedBundleGetsACompleteReportAndPasses(t *testing.T) {
	dir := bundletest.Probe(t, nil)
	r, err := Run(context.Background(), dir, bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed() {
		t.Fatalf("a good bundle failed: %+v", r.Findings)
	}
	if r.Signature.Ed25519 != "valid" || r.Signature.MLDSA65 != "valid" || !r.Signature.Trusted {
		t.Errorf("signature: %+v", r.Signature)
	}
	if r.Signature.Signer != bundletest.Key(t).Public().Fingerprint() {
		t.Errorf("signer %q", r.Signature.Signer)
	}
	for _, group := range []string{"storage", "secrets", "fetch", "jira", "queue", "log", "abi", "wasi"} {
		if len(r.Imports[group]) == 0 {
			t.Errorf("no %s imports listed: %v", group, r.Imports)
		}
	}
	if !strings.Contains(strings.Join(r.Imports["wasi"], ","), "random_get") {
		t.Errorf("WASI functions not listed one by one: %v", r.Imports["wasi"])
	}
	for _, e := range []string{"handle-web-trigger", "init", "_initialize"} {
		if !strings.Contains(strings.Join(r.Exports, ","), e) {
			t.Errorf("export %s missing from %v", e, r.Exports)
		}
	}
	if r.Build == nil || !strings.HasPrefix(r.Build.GoVersion, "go1.") || r.Build.Path != "github.com/chatbridge/chatbridge/plugin/examples/probe" {
		t.Errorf("build info: %+v", r.Build)
	}
	if r.Limits.MemoryMinPages == 0 || r.Permissions.MemoryMiB != 64 || r.Permissions.TimeoutSeconds["webtrigger"] != 25 {
		t.Errorf("limits %+v permissions %+v", r.Limits, r.Permissions)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module sha256", "ml-dsa-65", "imports storage", "egress", "result  PASS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

func TestAuditFailsWithTheReason(t *testing.T) {
	cases := []struct {
		name  string
		dir   func(t *testing.T) string
		trust func(t testing.TB) *bundle.Trust
		want  string
	}{
		{"a module that names an undeclared egress host", func(t *testing.T) string {
			m := []byte(`app: {id: "ari:cloud:ecosystem::app/egress"}
modules:
  webtrigger: [{key: hook, function: main}]
  function: [{key: main, handler: h}]
permissions:
  capabilities: [fetch, log, storage, secrets, jira, queue]
`)
			return bundletest.Write(t, m, bundletest.Module(t, "./host/audit/testdata/egress"))
		}, bundletest.Trust, "https://api.telegram.org but the manifest does not allow"},
		{"a module changed after signing", func(t *testing.T) string {
			dir := bundletest.Probe(t, nil)
			f, err := os.OpenFile(filepath.Join(dir, "plugin.wasm"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0})
			f.Close()
			return dir
		}, bundletest.Trust, "changed after signing"},
		{"a signer the host does not trust", func(t *testing.T) string { return bundletest.Probe(t, nil) },
			func(t testing.TB) *bundle.Trust {
				k, err := bundle.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				return bundle.NewTrust([]*bundle.PublicKey{k.Public()}, nil)
			}, "not trusted"},
		{"a revoked signer", func(t *testing.T) string { return bundletest.Probe(t, nil) },
			func(t testing.TB) *bundle.Trust {
				return bundle.NewTrust([]*bundle.PublicKey{bundletest.Key(t).Public()}, []string{bundletest.Key(t).Public().Fingerprint()})
			}, "revoked"},
		{"an import the manifest does not declare", func(t *testing.T) string {
			narrowed := bytes.Replace(probeManifest(t), []byte("capabilities: [storage, secrets, fetch, jira, queue, log, realtime]"), []byte("capabilities: [storage, log]"), 1)
			return bundletest.Probe(t, narrowed)
		}, bundletest.Trust, "imports secrets but the manifest does not declare it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Run(context.Background(), c.dir(t), c.trust(t))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Failed() || !hasFinding(r, Fail, c.want) {
				t.Fatalf("want a failure mentioning %q, got %+v", c.want, r.Findings)
			}
		})
	}
}

func TestADeclaredButUnusedCapabilityAndAWildcardAreWarnings(t *testing.T) {
	m := []byte(`app: {id: "ari:cloud:ecosystem::app/egress"}
modules:
  webtrigger: [{key: hook, function: main}]
  function: [{key: main, handler: h}]
permissions:
  external: {fetch: {backend: [{address: api.telegram.org}, {address: "*.example.com"}]}}
  capabilities: [fetch, log, storage, secrets, jira, queue]
`)
	r, err := Run(context.Background(), bundletest.Write(t, m, bundletest.Module(t, "./host/audit/testdata/egress")), bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed() {
		t.Fatalf("warnings failed the report: %+v", r.Findings)
	}
	if !hasFinding(r, Warn, "*.example.com is a wildcard") {
		t.Errorf("no wildcard warning: %+v", r.Findings)
	}
}

// A module whose minimum memory exceeds the manifest's memoryMiB fails the
// audit, as it would fail every start on the host (issue 22, item 4).
func TestAuditFailsAModuleThatNeedsMoreMemoryThanTheManifestAllows(t *testing.T) {
	small := bytes.Replace(probeManifest(t), []byte("memoryMiB: 64"), []byte("memoryMiB: 1"), 1)
	r, err := Run(context.Background(), bundletest.Probe(t, small), bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Limits.MemoryMinPages <= 16 {
		t.Fatalf("the probe starts with %d pages; the test needs more than 1 MiB", r.Limits.MemoryMinPages)
	}
	if !r.Failed() || !hasFinding(r, Fail, "allows 1 MiB") {
		t.Fatalf("want a memory failure, got %+v", r.Findings)
	}
	// The same module under its own manifest passes the memory check.
	r, err = Run(context.Background(), bundletest.Probe(t, nil), bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Check == "memory" {
			t.Fatalf("memory finding under 64 MiB: %+v", f)
		}
	}
}

// A module that imports fetch may build URLs the audit cannot see (the
// probe fetches whatever URL its input names): the report says it cannot
// tell instead of "egress used none" (issue 22, item 5).
func TestAuditCannotTellTheEgressOfAModuleThatBuildsURLs(t *testing.T) {
	r, err := Run(context.Background(), bundletest.Probe(t, nil), bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	if !r.EgressCannotTell {
		t.Fatal("a module importing fetch is reported as fully known")
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`egress used +cannot tell: the module imports fetch`).MatchString(text.String()) {
		t.Fatalf("the text report does not say it cannot tell:\n%s", text.String())
	}
	// A module that cannot fetch at all is known to use none.
	r.EgressCannotTell = false
	text.Reset()
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`egress used +none\n`).MatchString(text.String()) {
		t.Fatalf("without fetch the report should say none:\n%s", text.String())
	}
}

// Every string the text report prints is escaped: an export name with
// terminal escapes cannot redraw the signer's line (issue 22, item 6).
func TestTheTextReportEscapesControlCharacters(t *testing.T) {
	r := &Report{
		Bundle:    "dir\r",
		Signature: Signature{Signer: "trusted-vendor"},
		Exports:   []string{"handle\x1b[2A\x1b[2Ksigner  someone-else", "rtl\u202eexe.txt", "bad\xffutf8", "tab\there"},
		Findings:  []Finding{{Fail, "imports", "evil\x07.\x1b]0;title\x07"}},
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, c := range out {
		if c != '\n' && (unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c)) {
			t.Fatalf("the report prints %U raw:\n%q", c, out)
		}
	}
	for _, want := range []string{`handle\x1b[2A\x1b[2Ksigner`, `rtl\u202eexe.txt`, `bad\xffutf8`, `tab\there`, `evil\a.\x1b]0;title\a`, `dir\r`} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %s:\n%s", want, out)
		}
	}
}
