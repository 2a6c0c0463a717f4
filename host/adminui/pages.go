package adminui

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"age": func(sec int64) string {
		if sec <= 0 {
			return "–"
		}
		return (time.Duration(sec) * time.Second).Round(time.Second).String()
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"path": url.PathEscape,
	"has":  slices.Contains[[]string],
}

// projectKey is the form of a Jira project key (the module checks it too;
// this keeps anything else out of the UI's paths).
var projectKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,99}$`)

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := u.sess.lookup(r); ok {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	u.showSignin(w, r, http.StatusOK, "")
}

// showSignin renders the sign-in form, with a sign-in cookie unless the
// browser has one (so that two open sign-in pages both work).
func (u *UI) showSignin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	nonce := randomToken()
	if c, err := r.Cookie(signinCookie); err == nil && len(c.Value) == len(nonce) {
		nonce = c.Value
	}
	http.SetCookie(w, cookie(r, signinCookie, nonce, int(signinTTL/time.Second)))
	u.render(w, status, "signin", common{Title: "Sign in", CSRF: signinCSRF(u.key, nonce), Problem: problem, Prefix: Prefix})
}

func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(signinCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), signinCSRF(u.key, c.Value)) {
		u.log.Warn("admin UI: a sign-in without its CSRF token refused")
		u.refuse(w, http.StatusForbidden, "Refused: this sign-in form has expired or did not come from this page; open the sign-in page again.")
		return
	}
	if !sameToken(strings.TrimSpace(r.PostForm.Get("token")), u.token) {
		u.log.Warn("admin UI: a sign-in with a wrong token refused")
		u.showSignin(w, r, http.StatusUnauthorized, "That is not the admin token. It is in the data directory's admin.token file.")
		return
	}
	id := u.sess.start()
	http.SetCookie(w, cookie(r, signinCookie, "", -1))
	http.SetCookie(w, cookie(r, sessionCookie, id, 0))
	u.log.Info("admin UI: signed in")
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (u *UI) signout(w http.ResponseWriter, r *http.Request, s signedIn) {
	u.sess.end(s.key)
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}

type homePage struct {
	common
	Installations []installation
	Queue         queueView
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, s signedIn) {
	p := homePage{common: u.common(s, "ChatBridge administration")}
	status := http.StatusOK
	if err := u.api.do(r.Context(), http.MethodGet, "/admin/installations", nil, &p.Installations); err != nil {
		p.Problem, status = problem(err), http.StatusBadGateway
	}
	if err := u.api.do(r.Context(), http.MethodGet, "/admin/queue", nil, &p.Queue); err != nil {
		p.Problem, status = problem(err), http.StatusBadGateway
	}
	u.render(w, status, "home", p)
}

func (u *UI) replay(w http.ResponseWriter, r *http.Request, s signedIn) {
	u.deadLetter(w, r, s, http.MethodPost, "/replay", "Dead letter queued again.")
}

func (u *UI) discard(w http.ResponseWriter, r *http.Request, s signedIn) {
	u.deadLetter(w, r, s, http.MethodDelete, "", "Dead letter discarded.")
}

func (u *UI) deadLetter(w http.ResponseWriter, r *http.Request, s signedIn, method, suffix, done string) {
	msg := done
	if err := u.api.do(r.Context(), method, "/admin/queue/dead/"+url.PathEscape(r.PathValue("id"))+suffix, nil, nil); err != nil {
		msg = problem(err)
	}
	u.sess.setFlash(s.key, msg)
	http.Redirect(w, r, Prefix+"#deliveries", http.StatusSeeOther)
}

type installationPage struct {
	common
	Installation installation
	Projects     []projectConfig
	Inventory    inventory
	Health       *health
}

// findInstallation returns the installation of the request's path.
func (u *UI) findInstallation(r *http.Request) (installation, bool, error) {
	var list []installation
	if err := u.api.do(r.Context(), http.MethodGet, "/admin/installations", nil, &list); err != nil {
		return installation{}, false, err
	}
	for _, in := range list {
		if in.ID == r.PathValue("id") {
			return in, true, nil
		}
	}
	return installation{}, false, nil
}

func (u *UI) installation(w http.ResponseWriter, r *http.Request, s signedIn) {
	in, ok, err := u.findInstallation(r)
	if !ok {
		u.notFound(w, s, err)
		return
	}
	p := installationPage{common: u.common(s, "Installation "+in.SiteURL), Installation: in}
	var list configList
	if err := u.api.resolve(r.Context(), in.ID, "config.list", struct{}{}, &list); err != nil {
		p.Problem = problem(err)
	}
	p.Projects = list.Configs
	if err := u.api.resolve(r.Context(), in.ID, "inventory", struct{}{}, &p.Inventory); err != nil {
		p.Problem = problem(err)
	}
	var hl health
	if err := u.api.do(r.Context(), http.MethodGet, "/admin/installations/"+url.PathEscape(in.ID)+"/health", nil, &hl); err != nil {
		p.Problem = problem(err)
	} else {
		p.Health = &hl
	}
	u.render(w, http.StatusOK, "installation", p)
}

func (u *UI) notFound(w http.ResponseWriter, s signedIn, err error) {
	c := u.common(s, "Not found")
	c.Problem = "No such installation."
	status := http.StatusNotFound
	if err != nil {
		c.Problem, status = problem(err), http.StatusBadGateway
	}
	u.render(w, status, "refused", struct {
		common
		Message string
	}{c, ""})
}

func (u *UI) openProject(w http.ResponseWriter, r *http.Request, s signedIn) {
	key := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("key")))
	base := Prefix + "installations/" + url.PathEscape(r.PathValue("id"))
	if !projectKey.MatchString(key) {
		u.sess.setFlash(s.key, "Not a Jira project key: upper-case letters, digits and _, starting with a letter.")
		http.Redirect(w, r, base, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, base+"/projects/"+key, http.StatusSeeOther)
}

// projectPage is a project's settings form, deliveries and stored data.
type projectPage struct {
	common
	Installation installation
	Key          string
	Exists       bool
	Config       projectConfig
	Desk         string // "deskID:typeID" of the chosen request type
	Errors       map[string]string
	Options      options
	Desks        serviceDesks
	Mappings     mappings
	Cursor       string
	Inventory    inventory
	Queue        queueView
}

func (u *UI) project(w http.ResponseWriter, r *http.Request, s signedIn) {
	u.showProject(w, r, s, http.StatusOK, nil, nil)
}

// showProject renders the project page; with form set, its fields show
// what was submitted, and errs beside them.
func (u *UI) showProject(w http.ResponseWriter, r *http.Request, s signedIn, status int, form *projectConfig, errs map[string]string) {
	key := r.PathValue("key")
	in, ok, err := u.findInstallation(r)
	if !ok || !projectKey.MatchString(key) {
		u.notFound(w, s, err)
		return
	}
	p := projectPage{common: u.common(s, "Project "+key), Installation: in, Key: key, Errors: errs, Cursor: r.URL.Query().Get("cursor")}
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	ctx := r.Context()
	var problems []string
	note := func(err error) {
		if err != nil {
			problems = append(problems, problem(err))
		}
	}
	note(u.api.resolve(ctx, in.ID, "config.options", struct{}{}, &p.Options))
	var got configAnswer
	note(u.api.resolve(ctx, in.ID, "config.get", map[string]string{"projectKey": key}, &got))
	p.Exists = got.OK
	p.Config = got.Config
	if !p.Exists {
		p.Config = projectConfig{ProjectKey: key, Enabled: true, Channel: "telegram", Language: p.Options.DefaultLanguage,
			SummaryTemplate: p.Options.DefaultSummaryTemplate, AttachmentsIn: p.Options.AttachmentKinds, AttachmentsOut: true,
			RetentionDays: p.Options.DefaultRetentionDays}
	}
	if form != nil {
		form.Bot, form.TokenSet = p.Config.Bot, p.Config.TokenSet
		p.Config = *form
	}
	p.Desk = p.Config.ServiceDeskID + ":" + p.Config.RequestTypeID
	note(u.api.resolve(ctx, in.ID, "servicedesks.list", map[string]string{"projectKey": key}, &p.Desks))
	for f, msg := range p.Desks.Errors {
		if p.Errors[f] == "" {
			p.Errors[f] = msg
		}
	}
	if p.Desks.OK && len(p.Desks.ServiceDesks) == 0 && p.Errors["serviceDeskId"] == "" {
		p.Errors["serviceDeskId"] = "Jira shows the app no service desk of project " + key + "."
	}
	page := map[string]string{"projectKey": key}
	if p.Cursor != "" {
		page["cursor"] = p.Cursor
	}
	note(u.api.resolve(ctx, in.ID, "mappings.list", page, &p.Mappings))
	note(u.api.resolve(ctx, in.ID, "inventory", map[string]string{"projectKey": key}, &p.Inventory))
	note(u.api.do(ctx, http.MethodGet, "/admin/queue", nil, &p.Queue))
	p.Problem = strings.Join(problems, " ")
	u.render(w, status, "project", p)
}

func (u *UI) saveProject(w http.ResponseWriter, r *http.Request, s signedIn) {
	f := r.PostForm
	key := r.PathValue("key")
	form := projectConfig{ProjectKey: key, Enabled: f.Get("enabled") == "on", Channel: f.Get("channel"),
		SummaryTemplate: f.Get("summaryTemplate"), Greeting: f.Get("greeting"), ResolutionMessage: f.Get("resolutionMessage"),
		AttachmentsIn: f["attachmentsIn"], AttachmentsOut: f.Get("attachmentsOut") == "on", Language: f.Get("language"),
		RelayReactions: f.Get("relayReactions") == "on"}
	if form.AttachmentsIn == nil {
		form.AttachmentsIn = []string{}
	}
	errs := map[string]string{}
	desk, typ, _ := strings.Cut(f.Get("desk"), ":")
	form.ServiceDeskID, form.RequestTypeID = desk, typ
	if desk == "" || typ == "" {
		errs["serviceDeskId"] = "Choose a service desk and request type."
	}
	days, err := strconv.Atoi(strings.TrimSpace(f.Get("retentionDays")))
	if err != nil {
		errs["retentionDays"] = "A whole number of days."
	}
	form.RetentionDays = days
	if len(errs) > 0 {
		u.showProject(w, r, s, http.StatusUnprocessableEntity, &form, errs)
		return
	}
	in := map[string]any{"projectKey": key, "enabled": form.Enabled, "channel": form.Channel,
		"serviceDeskId": desk, "requestTypeId": typ, "summaryTemplate": form.SummaryTemplate,
		"greeting": form.Greeting, "resolutionMessage": form.ResolutionMessage, "attachmentsIn": form.AttachmentsIn,
		"attachmentsOut": form.AttachmentsOut, "language": form.Language, "retentionDays": days,
		"relayReactions": form.RelayReactions}
	if tok := strings.TrimSpace(f.Get("botToken")); tok != "" {
		in["botToken"] = tok
	}
	var a configAnswer
	if err := u.api.resolve(r.Context(), r.PathValue("id"), "config.set", in, &a); err != nil {
		u.sess.setFlash(s.key, problem(err))
		u.showProject(w, r, s, http.StatusBadGateway, &form, nil)
		return
	}
	if !a.OK {
		u.showProject(w, r, s, http.StatusUnprocessableEntity, &form, a.Errors)
		return
	}
	msg := "Saved."
	if a.Config.Bot != "" {
		msg = "Saved. The messenger accepted the token: bot @" + a.Config.Bot + "."
	}
	u.sess.setFlash(s.key, msg)
	http.Redirect(w, r, u.projectURL(r), http.StatusSeeOther)
}

func (u *UI) projectURL(r *http.Request) string {
	return Prefix + "installations/" + url.PathEscape(r.PathValue("id")) + "/projects/" + url.PathEscape(r.PathValue("key"))
}

func (u *UI) deleteProject(w http.ResponseWriter, r *http.Request, s signedIn) {
	if r.PostForm.Get("confirm") != "yes" {
		u.sess.setFlash(s.key, "Nothing deleted: tick the box to confirm.")
		http.Redirect(w, r, u.projectURL(r)+"#delete", http.StatusSeeOther)
		return
	}
	var a struct {
		answer
		Records int `json:"records"`
	}
	err := u.api.resolve(r.Context(), r.PathValue("id"), "config.delete", map[string]string{"projectKey": r.PathValue("key")}, &a)
	switch {
	case err != nil:
		u.sess.setFlash(s.key, problem(err))
	case !a.OK:
		u.sess.setFlash(s.key, firstError(a.Errors))
	default:
		u.sess.setFlash(s.key, fmt.Sprintf("Project %s deleted with %d stored records.", r.PathValue("key"), a.Records))
	}
	http.Redirect(w, r, Prefix+"installations/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}

func (u *UI) forget(w http.ResponseWriter, r *http.Request, s signedIn) {
	issue := r.PostForm.Get("issueKey")
	var a struct {
		answer
		Forgotten []string `json:"forgotten"`
		Records   int      `json:"records"`
	}
	err := u.api.resolve(r.Context(), r.PathValue("id"), "mappings.forget", map[string]string{"projectKey": r.PathValue("key"), "issueKey": issue}, &a)
	switch {
	case err != nil:
		u.sess.setFlash(s.key, problem(err))
	case !a.OK:
		u.sess.setFlash(s.key, firstError(a.Errors))
	default:
		u.sess.setFlash(s.key, fmt.Sprintf("The chat of %s is forgotten: %d records; requests no longer linked: %s. Jira is untouched.",
			issue, a.Records, strings.Join(a.Forgotten, ", ")))
	}
	http.Redirect(w, r, u.projectURL(r)+"#mappings", http.StatusSeeOther)
}

func firstError(errs map[string]string) string {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "Refused."
	}
	return errs[keys[0]]
}
