package adminui

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// An installation's Jira webhook secret (shown again, rotated) and its
// uninstall with the signed receipt. Each change takes a confirm step: a
// ticked box for the rotation, the installation id typed for the
// uninstall.

func (u *UI) installationURL(r *http.Request) string {
	return Prefix + "installations/" + url.PathEscape(r.PathValue("id"))
}

func (u *UI) apiPath(r *http.Request) string {
	return "/admin/installations/" + url.PathEscape(r.PathValue("id"))
}

type secretPage struct {
	common
	Installation installation
	Secret       webhookSecret
	Rotated      bool
}

// webhookSecret shows the Jira webhook's URL and secret again, and the
// form that rotates it.
func (u *UI) webhookSecret(w http.ResponseWriter, r *http.Request, s signedIn) {
	in, ok, err := u.findInstallation(r)
	if !ok {
		u.notFound(w, s, err)
		return
	}
	p := secretPage{common: u.common(s, "Jira webhook secret"), Installation: in}
	status := http.StatusOK
	if err := u.api.do(r.Context(), http.MethodGet, u.apiPath(r)+"/webhook-secret", nil, &p.Secret); err != nil {
		p.Problem, status = problem(err), http.StatusBadGateway
	}
	u.render(w, status, "secret", p)
}

func (u *UI) rotateSecret(w http.ResponseWriter, r *http.Request, s signedIn) {
	if r.PostForm.Get("confirm") != "yes" {
		u.sess.setFlash(s.key, "Nothing rotated: tick the box to confirm.")
		http.Redirect(w, r, u.installationURL(r)+"/webhook-secret#rotate", http.StatusSeeOther)
		return
	}
	in, ok, err := u.findInstallation(r)
	if !ok {
		u.notFound(w, s, err)
		return
	}
	p := secretPage{common: u.common(s, "Jira webhook secret rotated"), Installation: in, Rotated: true}
	if err := u.api.do(r.Context(), http.MethodPost, u.apiPath(r)+"/webhook-secret/rotate", struct{}{}, &p.Secret); err != nil {
		u.sess.setFlash(s.key, problem(err))
		http.Redirect(w, r, u.installationURL(r)+"/webhook-secret", http.StatusSeeOther)
		return
	}
	u.log.Info("admin UI: jira webhook secret rotated", "installation", in.ID)
	u.render(w, http.StatusOK, "secret", p)
}

type uninstallPage struct {
	common
	Installation installation
	Error        string
	Receipt      string
	JiraWebhook  string
}

func (u *UI) uninstallForm(w http.ResponseWriter, r *http.Request, s signedIn) {
	in, ok, err := u.findInstallation(r)
	if !ok {
		u.notFound(w, s, err)
		return
	}
	u.render(w, http.StatusOK, "uninstall", uninstallPage{common: u.common(s, "Uninstall "+in.SiteURL), Installation: in})
}

func (u *UI) uninstall(w http.ResponseWriter, r *http.Request, s signedIn) {
	in, ok, err := u.findInstallation(r)
	if !ok {
		u.notFound(w, s, err)
		return
	}
	if strings.TrimSpace(r.PostForm.Get("confirmId")) != in.ID {
		u.render(w, http.StatusUnprocessableEntity, "uninstall", uninstallPage{common: u.common(s, "Uninstall "+in.SiteURL), Installation: in,
			Error: "Nothing uninstalled: type the installation id exactly as shown to confirm."})
		return
	}
	rec, err := u.api.call(r.Context(), http.MethodDelete, u.apiPath(r), nil)
	if err != nil {
		u.sess.setFlash(s.key, problem(err))
		http.Redirect(w, r, u.installationURL(r)+"/uninstall", http.StatusSeeOther)
		return
	}
	receipt := bytes.TrimSpace(rec.body.Bytes())
	u.sess.keepReceipt(s.key, in.ID, receipt)
	u.log.Info("admin UI: uninstalled", "installation", in.ID)
	u.render(w, http.StatusOK, "uninstalled", uninstallPage{common: u.common(s, "Uninstalled "+in.SiteURL), Installation: in,
		Receipt: string(receipt), JiraWebhook: rec.header.Get("Jira-Webhook")})
}

// safeFileName keeps an installation id to what a file name may hold.
var safeFileName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// receipt serves an uninstall receipt this session received as a file,
// byte for byte as the host signed it.
func (u *UI) receipt(w http.ResponseWriter, r *http.Request, s signedIn) {
	b, ok := u.sess.receipt(s.key, r.PathValue("id"))
	if !ok {
		c := u.common(s, "Not found")
		c.Problem = "This session holds no receipt of that installation: it is shown once, on the page of the uninstall."
		u.render(w, http.StatusNotFound, "refused", struct {
			common
			Message string
		}{c, ""})
		return
	}
	name := "chatbridge-receipt-" + safeFileName.ReplaceAllString(r.PathValue("id"), "_") + ".json"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(append(b, '\n'))
}
