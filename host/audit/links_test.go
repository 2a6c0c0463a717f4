package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

// linksManifest is a manifest for testdata/links with the given
// permissions.external block.
func linksManifest(external string) []byte {
	return []byte(`app: {id: "ari:cloud:ecosystem::app/links"}
modules:
  webtrigger: [{key: hook, function: main}]
  function: [{key: main, handler: h}]
permissions:
  capabilities: [fetch, log, storage, secrets, jira, queue]
  external:
` + external)
}

func linksReport(t *testing.T, external string) *Report {
	t.Helper()
	dir := bundletest.Write(t, linksManifest(external), bundletest.Module(t, "./host/audit/testdata/links"))
	r, err := Run(context.Background(), dir, bundletest.Trust(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A URL whose host the manifest declares as a link (the map link a module
// writes into a comment) passes and is listed apart from egress, in the
// JSON and in the text report; the same module without the declaration
// fails on it, as on any undeclared host.
func TestAuditListsDeclaredLinksApartFromEgress(t *testing.T) {
	const backend = "    fetch: {backend: [{address: api.telegram.org}]}\n"
	r := linksReport(t, backend+"    links: [www.openstreetmap.org]\n")
	if r.Failed() {
		t.Fatalf("a declared link host failed the audit: %+v", r.Findings)
	}
	if !slices.Equal(r.LinksUsed, []string{"www.openstreetmap.org"}) || !slices.Equal(r.EgressUsed, []string{"api.telegram.org"}) {
		t.Fatalf("links used %v, egress used %v", r.LinksUsed, r.EgressUsed)
	}
	if !slices.Equal(r.Permissions.Links, []string{"www.openstreetmap.org"}) {
		t.Errorf("permissions.links %v", r.Permissions.Links)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"linksUsed":["www.openstreetmap.org"]`, `"links":["www.openstreetmap.org"]`, `"egressUsed":["api.telegram.org"]`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the JSON report lacks %s:\n%s", want, raw)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^links +www\.openstreetmap\.org$`, `(?m)^links used +www\.openstreetmap\.org$`, `(?m)^egress used +api\.telegram\.org`, `result +PASS`} {
		if !regexp.MustCompile(want).MatchString(text.String()) {
			t.Errorf("the text report does not match %s:\n%s", want, text.String())
		}
	}

	// Without the declaration the link host is undeclared egress.
	r = linksReport(t, backend)
	if !r.Failed() || !hasFinding(r, Fail, "https://www.openstreetmap.org but the manifest does not allow egress to it") {
		t.Fatalf("an undeclared link host passed: %+v", r.Findings)
	}
	if len(r.LinksUsed) != 0 || !slices.Contains(r.EgressUsed, "www.openstreetmap.org") {
		t.Errorf("links used %v, egress used %v", r.LinksUsed, r.EgressUsed)
	}

	// A link declaration covers its own host only: the fetched host is
	// still egress, and fails without a backend entry.
	r = linksReport(t, "    links: [www.openstreetmap.org]\n")
	if !r.Failed() || !hasFinding(r, Fail, "https://api.telegram.org but the manifest does not allow egress") {
		t.Fatalf("a links list let undeclared egress pass: %+v", r.Findings)
	}
}

// A declared link host the module never names is a warning, as a declared
// but unused capability is.
func TestAuditWarnsOfADeclaredLinkTheModuleNeverNames(t *testing.T) {
	r := linksReport(t, "    fetch: {backend: [{address: api.telegram.org}]}\n    links: [www.openstreetmap.org, maps.example.com]\n")
	if r.Failed() {
		t.Fatalf("an unused link failed the audit: %+v", r.Findings)
	}
	if !hasFinding(r, Warn, "declares maps.example.com as a link but the module never contains https://maps.example.com") {
		t.Errorf("no warning for the unused link: %+v", r.Findings)
	}
	if hasFinding(r, Warn, "declares www.openstreetmap.org") {
		t.Errorf("a used link is warned of: %+v", r.Findings)
	}
}

// audit -diff shows a link host added to the manifest and to the module's
// data, apart from egress.
func TestDiffShowsLinks(t *testing.T) {
	old := linksReport(t, "    fetch: {backend: [{address: api.telegram.org}, {address: www.openstreetmap.org}]}\n")
	new := linksReport(t, "    fetch: {backend: [{address: api.telegram.org}]}\n    links: [www.openstreetmap.org]\n")
	d := Compare(old, new)
	if !slices.Equal(d.Links.Added, []string{"www.openstreetmap.org"}) || !slices.Equal(d.LinksUsed.Added, []string{"www.openstreetmap.org"}) ||
		!slices.Equal(d.Egress.Removed, []string{"www.openstreetmap.org:443"}) || !slices.Equal(d.EgressUsed.Removed, []string{"www.openstreetmap.org"}) {
		t.Fatalf("diff %+v", d)
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^links +\+ www\.openstreetmap\.org$`, `(?m)^links used +\+ www\.openstreetmap\.org$`, `(?m)^egress used +- www\.openstreetmap\.org$`} {
		if !regexp.MustCompile(want).MatchString(text.String()) {
			t.Errorf("the diff does not match %s:\n%s", want, text.String())
		}
	}
	if Compare(new, new).Empty() != true {
		t.Error("a bundle compared with itself is not empty")
	}
	raw, _ := json.Marshal(d)
	if !bytes.Contains(raw, []byte(`"linksUsed":{"added":["www.openstreetmap.org"]`)) {
		t.Errorf("the JSON diff lacks linksUsed:\n%s", raw)
	}
}
