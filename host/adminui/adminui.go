package adminui

import (
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Prefix is the path the UI is served under.
const Prefix = "/admin/ui/"

// maxForm bounds a form's body.
const maxForm = 64 << 10

// CSP is the Content-Security-Policy of every answer: nothing but the
// same origin's stylesheet and images, no script, forms posted to the same
// origin only, never framed.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/*.html static/*
var files embed.FS

// Config configures the UI. API and Token are required; the zero value of
// the rest works.
type Config struct {
	// API is the admin API (adminapi.Handler), called in process.
	API http.Handler
	// Token is the admin token: the sign-in secret, and what the UI sends
	// to the API.
	Token string
	// IdleTimeout ends a session after this long without a request.
	// Default 30 minutes.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in. Default 12 hours.
	MaxAge time.Duration
	// Now is the clock of sessions. Default time.Now.
	Now func() time.Time
	// Logger gets sign-ins and refusals (never a token). Default
	// slog.Default().
	Logger *slog.Logger
}

// UI is the admin web UI; it is an http.Handler for the paths under Prefix.
type UI struct {
	api   apiClient
	token string
	sess  *sessions
	key   []byte // the sign-in forms' HMAC key, per process
	log   *slog.Logger
	mux   *http.ServeMux
	pages *template.Template
	css   []byte
	icon  []byte
}

// Mount returns a handler serving the UI under Prefix and api for every
// other path.
func Mount(api http.Handler, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, New(Config{API: api, Token: token}))
	mux.Handle("/", api)
	return mux
}

// New returns the UI of c.
func New(c Config) *UI {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 12 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	u := &UI{api: apiClient{h: c.API, token: c.Token}, token: c.Token, log: c.Logger,
		sess: &sessions{idle: c.IdleTimeout, maxAge: c.MaxAge, now: c.Now, byID: map[string]*session{}},
		key:  make([]byte, 32), mux: http.NewServeMux()}
	_, _ = rand.Read(u.key)
	u.pages = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
	u.css, _ = fs.ReadFile(files, "static/ui.css")
	u.icon, _ = fs.ReadFile(files, "static/icon.svg")
	u.routes()
	return u
}

func (u *UI) routes() {
	m := u.mux
	m.HandleFunc("GET "+Prefix+"static/ui.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(u.css)
	})
	m.HandleFunc("GET "+Prefix+"static/icon.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(u.icon)
	})
	m.HandleFunc("GET "+Prefix+"signin", u.signinForm)
	m.HandleFunc("POST "+Prefix+"signin", u.signin)
	m.HandleFunc("POST "+Prefix+"signout", u.post(u.signout))
	m.HandleFunc("GET "+Prefix+"{$}", u.get(u.home))
	m.HandleFunc("POST "+Prefix+"queue/dead/{id}/replay", u.post(u.replay))
	m.HandleFunc("POST "+Prefix+"queue/dead/{id}/delete", u.post(u.discard))
	m.HandleFunc("GET "+Prefix+"installations/{id}", u.get(u.installation))
	m.HandleFunc("GET "+Prefix+"installations/{id}/open", u.get(u.openProject))
	m.HandleFunc("GET "+Prefix+"installations/{id}/webhook-secret", u.get(u.webhookSecret))
	m.HandleFunc("POST "+Prefix+"installations/{id}/webhook-secret/rotate", u.post(u.rotateSecret))
	m.HandleFunc("GET "+Prefix+"installations/{id}/uninstall", u.get(u.uninstallForm))
	m.HandleFunc("POST "+Prefix+"installations/{id}/uninstall", u.post(u.uninstall))
	m.HandleFunc("GET "+Prefix+"installations/{id}/receipt", u.get(u.receipt))
	m.HandleFunc("GET "+Prefix+"installations/{id}/projects/{key}", u.get(u.project))
	m.HandleFunc("POST "+Prefix+"installations/{id}/projects/{key}", u.post(u.saveProject))
	m.HandleFunc("POST "+Prefix+"installations/{id}/projects/{key}/delete", u.post(u.deleteProject))
	m.HandleFunc("POST "+Prefix+"installations/{id}/projects/{key}/forget", u.post(u.forget))
}

// ServeHTTP serves the UI, with its security headers on every answer and
// the origin check on every POST.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Not no-referrer: with it, Chromium sends "Origin: null" with a
	// form, which the origin checks must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if reason := crossOrigin(r); reason != "" {
			u.log.Warn("admin UI: a write refused", "reason", reason)
			u.refuse(w, http.StatusForbidden, "Refused: "+reason+".")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			u.refuse(w, http.StatusBadRequest, "This form could not be read.")
			return
		}
	}
	u.mux.ServeHTTP(w, r)
}

// crossOrigin says why a write does not prove it came from the UI's own
// pages, or "": one Origin, equal to the request's own origin, and
// Sec-Fetch-Site, if sent, same-origin.
func crossOrigin(r *http.Request) string {
	origins := r.Header.Values("Origin")
	site := r.Header.Values("Sec-Fetch-Site")
	switch {
	case len(origins) != 1:
		return "a form sent without its origin"
	case len(site) > 1 || len(site) == 1 && site[0] != "same-origin":
		return "a form sent from another site"
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if r.Host == "" || !strings.EqualFold(origins[0], scheme+r.Host) {
		return "a form sent from another origin"
	}
	return ""
}

// signedIn is what a handler of a signed-in page gets.
type signedIn struct {
	key  string // the session's key in sessions
	csrf string
}

// get wraps a page that needs a session: without one, the browser goes to
// the sign-in form.
func (u *UI) get(h func(http.ResponseWriter, *http.Request, signedIn)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, key, ok := u.sess.lookup(r)
		if !ok {
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		h(w, r, signedIn{key: key, csrf: s.csrf})
	}
}

// post wraps a form's action: it needs a session and that session's CSRF
// token, or it is refused with 403.
func (u *UI) post(h func(http.ResponseWriter, *http.Request, signedIn)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, key, ok := u.sess.lookup(r)
		if !ok {
			u.refuse(w, http.StatusForbidden, "Your session has ended; sign in again.")
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), s.csrf) {
			u.log.Warn("admin UI: a form without its CSRF token refused")
			u.refuse(w, http.StatusForbidden, "Refused: this form does not carry this session's CSRF token; reload the page and try again.")
			return
		}
		h(w, r, signedIn{key: key, csrf: s.csrf})
	}
}

func (u *UI) refuse(w http.ResponseWriter, status int, msg string) {
	u.render(w, status, "refused", struct {
		common
		Message string
	}{common{Title: http.StatusText(status), Prefix: Prefix}, msg})
}

// common is what every page's layout shows.
type common struct {
	Title    string
	CSRF     string // empty: not signed in
	Flash    string
	Problem  string
	Prefix   string
	SignedIn bool
}

func (u *UI) common(s signedIn, title string) common {
	return common{Title: title, CSRF: s.csrf, Flash: u.sess.takeFlash(s.key), Prefix: Prefix, SignedIn: true}
}

func (u *UI) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := u.pages.ExecuteTemplate(&b, name, data); err != nil {
		u.log.Error("admin UI: a page failed", "page", name, "error", err)
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// problem is what the UI says of an admin API error.
func problem(err error) string {
	if errors.Is(err, errAPI) {
		return "The host could not do this: " + strings.TrimPrefix(err.Error(), errAPI.Error()+": ")
	}
	return "The host could not do this."
}
