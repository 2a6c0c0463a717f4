package adminui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTheInstallationPageShowsItsHealth(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	b.signIn()
	p := b.get(Prefix + "installations/inst-1")
	if p.status != http.StatusOK {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
	for _, want := range []string{`<dd id="h-webhook">registered</dd>`, `<dd id="h-delivery">2025-11-22 09:58:07 UTC</dd>`,
		`<dd id="h-credentials">ok</dd>`, `href="/admin/ui/installations/inst-1/webhook-secret"`, `href="/admin/ui/installations/inst-1/uninstall"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the installation page lacks %s", want)
		}
	}
	if calls := f.api.called("GET /admin/installations/inst-1/health"); len(calls) != 1 {
		t.Errorf("health calls: %v", calls)
	}
}

func TestTheWebhookSecretIsShownAgainAndRotatedOnlyWhenConfirmed(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	tok := b.signIn()
	p := b.get(Prefix + "installations/inst-1/webhook-secret")
	for _, want := range []string{`<code id="webhook-secret">old-secret-0123</code>`, `<code id="webhook-url">https://bridge.example/j/1</code>`,
		`action="/admin/ui/installations/inst-1/webhook-secret/rotate"`, `name="confirm" value="yes"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the secret page lacks %s", want)
		}
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page with the secret may be cached: %q", p.header.Get("Cache-Control"))
	}
	rotate := Prefix + "installations/inst-1/webhook-secret/rotate"

	unconfirmed := b.post(rotate, url.Values{"csrf": {tok}})
	if !strings.Contains(unconfirmed.body, "Nothing rotated: tick the box to confirm.") || !strings.Contains(unconfirmed.body, "old-secret-0123") {
		t.Errorf("an unconfirmed rotation: %d at %s\n%s", unconfirmed.status, unconfirmed.url, unconfirmed.body)
	}
	if calls := f.api.called("POST /admin/installations/inst-1/webhook-secret/rotate"); len(calls) != 0 {
		t.Fatalf("rotated without the confirm step: %v", calls)
	}

	done := b.post(rotate, url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if done.status != http.StatusOK {
		t.Fatalf("rotation: %d\n%s", done.status, done.body)
	}
	for _, want := range []string{`<code id="webhook-secret">new-secret-4567</code>`, `<dd id="previous-until">2025-11-23 10:00:00 UTC</dd>`,
		`registered the webhook again with the new secret (Jira's id 42) and deleted the old one`} {
		if !strings.Contains(done.body, want) {
			t.Errorf("the rotation's page lacks %s", want)
		}
	}
	if strings.Contains(done.body, "old-secret-0123") {
		t.Error("the rotation's page shows the old secret")
	}
	if calls := f.api.called("POST /admin/installations/inst-1/webhook-secret/rotate"); len(calls) != 1 {
		t.Errorf("rotate calls: %v", calls)
	}
	if p := b.get(Prefix + "installations/nope/webhook-secret"); p.status != http.StatusNotFound {
		t.Errorf("the secret of an unknown installation: %d", p.status)
	}
}

func TestUninstallTakesTheTypedIdAndShowsTheSignedReceipt(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	tok := b.signIn()
	form := b.get(Prefix + "installations/inst-1/uninstall")
	if form.status != http.StatusOK || !strings.Contains(form.body, `name="confirmId"`) || !strings.Contains(form.body, `<code>inst-1</code>`) {
		t.Fatalf("the uninstall form: %d\n%s", form.status, form.body)
	}
	path := Prefix + "installations/inst-1/uninstall"
	for _, typed := range []string{"", "inst-", "INST-1", "inst-12", "yes"} {
		p := b.post(path, url.Values{"csrf": {tok}, "confirmId": {typed}, "confirm": {"yes"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Nothing uninstalled: type the installation id") {
			t.Errorf("typed %q: %d\n%s", typed, p.status, p.body)
		}
	}
	if calls := f.api.called("DELETE"); len(calls) != 0 {
		t.Fatalf("uninstalled without the id typed: %v", calls)
	}
	if p := b.get(Prefix + "installations/inst-1/receipt"); p.status != http.StatusNotFound {
		t.Errorf("a receipt before the uninstall: %d", p.status)
	}

	done := b.post(path, url.Values{"csrf": {tok}, "confirmId": {" inst-1 "}})
	if done.status != http.StatusOK {
		t.Fatalf("uninstall: %d\n%s", done.status, done.body)
	}
	if calls := f.api.called("DELETE"); len(calls) != 1 || calls[0] != "DELETE /admin/installations/inst-1" {
		t.Errorf("DELETE calls: %v", calls)
	}
	escaped := strings.NewReplacer(`"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(fakeReceipt)
	for _, want := range []string{`<pre id="receipt">` + escaped + `</pre>`, `<p id="uninstall-webhook">Jira webhook: deleted.</p>`,
		`href="/admin/ui/installations/inst-1/receipt" download`} {
		if !strings.Contains(done.body, want) {
			t.Errorf("the receipt page lacks %s\n%s", want, done.body)
		}
	}
	if strings.Contains(done.body, "<script") || done.header.Get("Content-Security-Policy") != CSP {
		t.Error("the receipt page runs the receipt's text or lacks the CSP")
	}

	file := b.get(Prefix + "installations/inst-1/receipt")
	if file.status != http.StatusOK || file.body != fakeReceipt+"\n" {
		t.Errorf("the download is not the receipt as the host signed it: %d %q", file.status, file.body)
	}
	if cd := file.header.Get("Content-Disposition"); cd != `attachment; filename="chatbridge-receipt-inst-1.json"` || file.header.Get("Content-Type") != "application/json" {
		t.Errorf("the download's headers: %q %q", cd, file.header.Get("Content-Type"))
	}
	other := f.browser()
	other.signIn()
	if p := other.get(Prefix + "installations/inst-1/receipt"); p.status != http.StatusNotFound {
		t.Errorf("another session downloads this session's receipt: %d", p.status)
	}
}
