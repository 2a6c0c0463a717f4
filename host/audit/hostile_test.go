package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// patchExport renames the export old to new (same length) in the module's
// export section, as a hostile vendor would patch the binary.
func patchExport(t *testing.T, module []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) {
		t.Fatal("the names must have the same length")
	}
	encoded := append([]byte{byte(len(old))}, old...)
	i := bytes.Index(module, encoded)
	if i < 0 {
		t.Fatalf("no export %q", old)
	}
	out := bytes.Clone(module)
	copy(out[i+1:], new)
	return out
}

// The hostile-plugin suite's escape case (issue 22, item 6): a bundle whose
// export name, manifest strings and signer name (from the operator's trust
// directory, a Name header in the vendor's public key file) carry terminal
// escapes and bidirectional controls gets a text report, and a diff, that
// print them escaped: nothing in them can move the cursor or redraw the
// signer's line.
func TestHostile_EscapeCharactersInABundleAndItsSignerPrintEscaped(t *testing.T) {
	const evilExport = "handle\x1b[2A\x1b[2Ksign" // as long as "handle-web-trigger"
	module := patchExport(t, bundletest.Module(t, "./plugin/examples/probe"), "handle-web-trigger", evilExport)
	manifest := bytes.Replace(probeManifest(t), []byte("scopes: [read:jira-work, read:jira-user]"),
		[]byte(`scopes: [read:jira-work, "read:\e[31mjira-admin\e[0m", "rtl\u202Eexe"]`), 1)
	manifest = bytes.Replace(manifest, []byte("interval: hour"), []byte(`interval: "hour\r\e[1Ksigner trusted-vendor"`), 1)
	// Signed with its own manifest (Sign refuses an invalid one), then the
	// hostile manifest put in its place: the signer is still looked up.
	dir := bundletest.Write(t, probeManifest(t), module)
	if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	// The trust directory holds the vendor's key file, whose Name header
	// the vendor wrote: escapes included.
	trustDir := t.TempDir()
	pub := filepath.Join(trustDir, "vendor.pub")
	if err := bundle.WritePublicKeyFile(pub, bundletest.Key(t).Public()); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	pem = bytes.Replace(pem, []byte("Key-Id:"), []byte("Name: Acme\x1b[1A\x1b[2K\u202eLtd\nKey-Id:"), 1)
	if err := os.WriteFile(pub, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	trust, err := bundle.LoadTrust(trustDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), dir, trust)
	if err != nil {
		t.Fatal(err)
	}
	if r.Signature.SignerName != "Acme\x1b[1A\x1b[2K\u202eLtd" {
		t.Fatalf("signer name %q: the trust entry's name did not reach the report", r.Signature.SignerName)
	}
	if !strings.Contains(strings.Join(r.Exports, ","), "\x1b[2A") || !strings.Contains(strings.Join(r.Permissions.Scopes, ","), "\x1b[31m") {
		t.Fatalf("the hostile strings did not reach the report: %q %q", r.Exports, r.Permissions.Scopes)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if err := Compare(r, r).WriteText(&out); err != nil {
		t.Fatal(err)
	}
	d := Compare(run(t, bundletest.Probe(t, nil)), r)
	if err := d.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, c := range text {
		if c != '\n' && (unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c)) {
			t.Fatalf("the report prints %U raw:\n%q", c, text)
		}
	}
	for _, want := range []string{`Acme\x1b[1A\x1b[2K\u202eLtd sha256:`, `handle\x1b[2A\x1b[2Ksign`, `read:\x1b[31mjira-admin\x1b[0m`, `rtl\u202eexe`, `hour\r\x1b[1Ksigner trusted-vendor`} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %s:\n%s", want, text)
		}
	}
	if !r.Failed() {
		t.Error("a bundle the host would refuse passed")
	}
}
