package adminui

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "admin-token-0123456789abcdef0123456789abcdef"

// fakeAPI stands in for adminapi.Handler: the same paths, the bearer token
// required, and the resolvers' answers as plugin/bridge gives them.
type fakeAPI struct {
	t  *testing.T
	mu sync.Mutex
	// calls lists "METHOD path [function payload]" in order.
	calls []string
	// setAnswer is config.set's answer.
	setAnswer string
	// queueAnswer, when set, is GET /admin/queue's answer.
	queueAnswer string
}

func (f *fakeAPI) called(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"admin token required"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	setAnswer, queueAnswer := f.setAnswer, f.queueAnswer
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case r.Method == "GET" && p == "/admin/installations":
		_, _ = io.WriteString(w, `[{"id":"inst-1","siteUrl":"https://acme.atlassian.net","appAccountId":"app","webTriggers":{"telegram-webhook":"https://bridge.example/x/1"},"jiraWebhookUrl":"https://bridge.example/j/1"}]`)
	case r.Method == "GET" && p == "/admin/queue" && queueAnswer != "":
		_, _ = io.WriteString(w, queueAnswer)
	case r.Method == "GET" && p == "/admin/queue":
		_, _ = io.WriteString(w, `{"stats":{"pending":1,"delivered":7,"retried":2,"deadLettered":1,"deadLetters":1},"deadLetters":[{"id":"dl-1","installation":"inst-1","queue":"inbound","attempts":40,"pushed":"2025-01-01T00:00:00Z","failedAt":"2025-01-01T03:00:00Z","lastError":"timeout"}]}`)
	case strings.HasPrefix(p, "/admin/queue/dead/dl-1"):
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "/admin/queue/dead/"):
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"no such dead letter"}`)
	case r.Method == "GET" && p == "/admin/installations/inst-1/health":
		_, _ = io.WriteString(w, `{"webhook":"registered","lastJiraDelivery":"2025-11-22T09:58:07Z","credentials":"ok"}`)
	case r.Method == "GET" && p == "/admin/installations/inst-1/webhook-secret":
		_, _ = io.WriteString(w, `{"jiraWebhookUrl":"https://bridge.example/j/1","jiraWebhookSecret":"old-secret-0123"}`)
	case r.Method == "POST" && p == "/admin/installations/inst-1/webhook-secret/rotate":
		_, _ = io.WriteString(w, `{"jiraWebhookUrl":"https://bridge.example/j/1","jiraWebhookSecret":"new-secret-4567","previousValidUntil":"2025-11-23T10:00:00Z","jiraWebhook":{"registered":true,"id":"42"}}`)
	case r.Method == "DELETE" && p == "/admin/installations/inst-1":
		w.Header().Set("Jira-Webhook", "deleted")
		_, _ = io.WriteString(w, fakeReceipt+"\n")
	case strings.HasPrefix(p, "/admin/installations/inst-1/resolve/"):
		switch strings.TrimPrefix(p, "/admin/installations/inst-1/resolve/") {
		case "config.options":
			_, _ = io.WriteString(w, `{"ok":true,"channels":["telegram","viber","whatsapp"],"languages":["de","en"],"attachmentKinds":["photo","document","voice","video","sticker"],"defaultLanguage":"en","defaultSummaryTemplate":"Chat with {name}: {text}","defaultRetentionDays":90,"maxRetentionDays":3650}`)
		case "config.get":
			_, _ = io.WriteString(w, `{"ok":false,"errors":{"projectKey":"This project has no chat configuration."}}`)
		case "config.list":
			_, _ = io.WriteString(w, `{"ok":true,"configs":[]}`)
		case "config.set":
			_, _ = io.WriteString(w, setAnswer)
		case "config.delete":
			_, _ = io.WriteString(w, `{"ok":true,"deleted":true,"records":3,"webhookRemoved":true}`)
		case "servicedesks.list":
			_, _ = io.WriteString(w, `{"ok":true,"serviceDesks":[{"id":"2","name":"Acme Support","projectKey":"SUP","requestTypes":[{"id":"11","name":"Get help"},{"id":"12","name":"Report a delivery problem"}]}]}`)
		case "mappings.list":
			_, _ = io.WriteString(w, `{"ok":true,"mappings":[{"issueKey":"SUP-4","channel":"telegram","chat":"a1b2c3d4e5f6","open":true,"resolved":false,"lastActivity":"2025-01-01T00:00:00Z"}]}`)
		case "mappings.forget":
			_, _ = io.WriteString(w, `{"ok":true,"forgotten":["SUP-4"],"records":5}`)
		case "inventory":
			_, _ = io.WriteString(w, `{"ok":true,"kinds":[{"kind":"chat","holds":"a chat","lifetime":"forever","sealed":true,"count":1,"oldestAgeSeconds":0,"undated":1}],"projects":{}}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid-argument"}`)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not found"}`)
	}
}

// fakeReceipt is the fake API's uninstall receipt; its note would run as
// a script if the UI did not escape it.
const fakeReceipt = `{"receipt":{"format":"chatbridge-receipt/1","installation":"inst-1","note":"</pre><script>alert(1)</script>"},"ed25519":"c2ln","mldsa65":"c2lnMg=="}`

// clock is a settable clock for sessions.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	t     *testing.T
	api   *fakeAPI
	clock *clock
	srv   *httptest.Server
}

func newFixture(t *testing.T, tls bool) *fixture {
	t.Helper()
	f := &fixture{t: t, api: &fakeAPI{t: t, setAnswer: `{"ok":true,"config":{"projectKey":"SUP","bot":"acme_support_bot","tokenSet":true}}`},
		clock: &clock{now: time.Date(2025, 11, 22, 10, 0, 0, 0, time.UTC)}}
	ui := New(Config{API: f.api, Token: testToken, Now: f.clock.Now, IdleTimeout: 30 * time.Minute, MaxAge: 2 * time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	mux.Handle(Prefix, ui)
	mux.Handle("/", f.api)
	if tls {
		f.srv = httptest.NewTLSServer(mux)
	} else {
		f.srv = httptest.NewServer(mux)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// browser is a client with its own cookies that sends what a browser
// sends with a form: its Origin and Sec-Fetch-Site.
type browser struct {
	f      *fixture
	client *http.Client
	origin string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: f.srv.Client().Transport, Jar: jar}
	return &browser{f: f, client: c, origin: f.srv.URL}
}

type page struct {
	status int
	url    string
	body   string
	header http.Header
}

func (b *browser) get(path string) page {
	b.f.t.Helper()
	resp, err := b.client.Get(b.f.srv.URL + path)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return read(b.f.t, resp)
}

// post submits a form; extra headers replace the browser's (an empty
// value removes one).
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.f.t.Helper()
	req, _ := http.NewRequest("POST", b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return read(b.f.t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL.Path, body: string(body), header: resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on %s:\n%s", p.url, p.body)
	}
	return m[1]
}

// signIn signs b in and returns the CSRF token of its session.
func (b *browser) signIn() string {
	b.f.t.Helper()
	form := b.get(Prefix + "signin")
	home := b.post(Prefix+"signin", url.Values{"csrf": {form.csrf(b.f.t)}, "token": {testToken}})
	if home.status != http.StatusOK || home.url != Prefix {
		b.f.t.Fatalf("sign-in: %d at %s\n%s", home.status, home.url, home.body)
	}
	return home.csrf(b.f.t)
}

func TestSignInRefusesAWrongToken(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	form := b.get(Prefix + "signin")
	p := b.post(Prefix+"signin", url.Values{"csrf": {form.csrf(t)}, "token": {testToken + "x"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "not the admin token") {
		t.Fatalf("wrong token: %d\n%s", p.status, p.body)
	}
	if home := b.get(Prefix); home.url != Prefix+"signin" {
		t.Errorf("after a wrong token the UI shows %s", home.url)
	}
	// The refusal is a fresh form, with a fresh sign-in token.
	if p := b.post(Prefix+"signin", url.Values{"csrf": {p.csrf(t)}, "token": {""}}); p.status != http.StatusUnauthorized {
		t.Errorf("empty token: %d", p.status)
	}
	if len(f.api.called("")) != 0 {
		t.Errorf("the API was called without a session: %v", f.api.calls)
	}
}

func TestSignInStartsAServerSideSessionInAStrictCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "plain HTTP: not Secure", true: "TLS: Secure"}[tls]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tls)
			b := f.browser()
			b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			form := b.get(Prefix + "signin")
			p := b.post(Prefix+"signin", url.Values{"csrf": {form.csrf(t)}, "token": {testToken}})
			if p.status != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s", p.status, p.body)
			}
			var sess *http.Cookie
			for _, c := range (&http.Response{Header: p.header}).Cookies() {
				if c.Name == sessionCookie {
					sess = c
				}
			}
			if sess == nil {
				t.Fatalf("no session cookie: %v", p.header["Set-Cookie"])
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != Prefix || sess.Secure != tls {
				t.Errorf("session cookie %s", sess.String())
			}
			if strings.Contains(sess.Value, testToken) || len(sess.Value) < 40 {
				t.Errorf("session cookie value %q is not a random id", sess.Value)
			}
		})
	}
}

func TestFormsWithoutTheSessionsCSRFTokenAreRefused(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	good := b.signIn()
	other := f.browser()
	otherToken := other.signIn()
	save := Prefix + "installations/inst-1/projects/SUP"
	form := url.Values{"desk": {"2:11"}, "channel": {"telegram"}, "retentionDays": {"90"}, "botToken": {"123:abc"}}
	tests := []struct {
		name, path string
		csrf       []string
	}{
		{"a save without a token", save, nil},
		{"a save with a wrong token", save, []string{"x" + good}},
		{"a save with another session's token", save, []string{otherToken}},
		{"a save with the token twice, the first wrong", save, []string{"wrong", good}},
		{"a replay without a token", Prefix + "queue/dead/dl-1/replay", nil},
		{"a forget with a wrong token", save + "/forget", []string{"bad"}},
		{"a delete with a wrong token", save + "/delete", []string{"bad"}},
		{"a sign-out without a token", Prefix + "signout", nil},
		{"a rotation with a wrong token", Prefix + "installations/inst-1/webhook-secret/rotate", []string{"bad"}},
		{"an uninstall without a token", Prefix + "installations/inst-1/uninstall", nil},
		{"an uninstall with another session's token", Prefix + "installations/inst-1/uninstall", []string{otherToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range form {
				v[k] = x
			}
			v["csrf"] = tt.csrf
			v.Set("issueKey", "SUP-4")
			v.Set("confirm", "yes")
			v.Set("confirmId", "inst-1")
			if p := b.post(tt.path, v); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
				t.Errorf("%d\n%s", p.status, p.body)
			}
		})
	}
	if calls := f.api.called("POST /admin/installations/inst-1/resolve/config.set"); len(calls) != 0 {
		t.Errorf("config.set called: %v", calls)
	}
	if calls := append(f.api.called("POST /admin/queue"), f.api.called("DELETE")...); len(calls) != 0 {
		t.Errorf("queue changed: %v", calls)
	}
	if calls := f.api.called("POST /admin/installations/inst-1/resolve/mappings.forget"); len(calls) != 0 {
		t.Errorf("forget called: %v", calls)
	}
	if calls := f.api.called("POST /admin/installations/inst-1/webhook-secret"); len(calls) != 0 {
		t.Errorf("secret rotated: %v", calls)
	}
	if home := b.get(Prefix); home.url != Prefix {
		t.Errorf("a sign-out without its token ended the session: at %s", home.url)
	}
	t.Run("a sign-in without the sign-in form's token", func(t *testing.T) {
		c := f.browser()
		c.get(Prefix + "signin")
		if p := c.post(Prefix+"signin", url.Values{"token": {testToken}}); p.status != http.StatusForbidden {
			t.Errorf("%d", p.status)
		}
		fresh := f.browser() // no sign-in cookie: a form posted from elsewhere
		if p := fresh.post(Prefix+"signin", url.Values{"token": {testToken}, "csrf": {b.get(Prefix + "signin").csrf(t)}}); p.status != http.StatusForbidden {
			t.Errorf("another browser's sign-in token: %d", p.status)
		}
	})
}

func TestWritesFromAnotherOriginAreRefused(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	tok := b.signIn()
	replay := Prefix + "queue/dead/dl-1/replay"
	tests := []struct {
		name    string
		headers []string
	}{
		{"no Origin", []string{"Origin", ""}},
		{"another origin", []string{"Origin", "http://evil.example"}},
		{"the same host on another scheme", []string{"Origin", strings.Replace(f.srv.URL, "http://", "https://", 1)}},
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"Origin null", []string{"Origin", "null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := b.post(replay, url.Values{"csrf": {tok}}, tt.headers...); p.status != http.StatusForbidden || !strings.Contains(p.body, "Refused") {
				t.Errorf("%d\n%s", p.status, p.body)
			}
		})
	}
	if calls := f.api.called("POST /admin/queue/dead"); len(calls) != 0 {
		t.Fatalf("replayed: %v", calls)
	}
	t.Run("the same origin is served", func(t *testing.T) {
		p := b.post(replay, url.Values{"csrf": {tok}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Dead letter queued again.") {
			t.Errorf("%d\n%s", p.status, p.body)
		}
		if calls := f.api.called("POST /admin/queue/dead/dl-1/replay"); len(calls) != 1 {
			t.Errorf("replay calls: %v", calls)
		}
	})
}

func TestEveryAnswerCarriesTheCSPAndLoadsNothingElse(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	anon := f.browser()
	pages := map[string]func() page{
		"sign-in":   func() page { return anon.get(Prefix + "signin") },
		"refusal":   func() page { return anon.post(Prefix+"signin", url.Values{}) },
		"style":     func() page { return anon.get(Prefix + "static/ui.css") },
		"not found": func() page { return anon.get(Prefix + "nothing") },
	}
	b.signIn()
	pages["home"] = func() page { return b.get(Prefix) }
	pages["installation"] = func() page { return b.get(Prefix + "installations/inst-1") }
	pages["project"] = func() page { return b.get(Prefix + "installations/inst-1/projects/SUP") }
	pages["webhook secret"] = func() page { return b.get(Prefix + "installations/inst-1/webhook-secret") }
	pages["uninstall"] = func() page { return b.get(Prefix + "installations/inst-1/uninstall") }
	for name, get := range pages {
		t.Run(name, func(t *testing.T) {
			p := get()
			if got := p.header.Get("Content-Security-Policy"); got != CSP || p.status == 0 {
				t.Errorf("CSP %q", got)
			}
			for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
				if p.header.Get(h) != want {
					t.Errorf("%s: %q", h, p.header.Get(h))
				}
			}
			low := strings.ToLower(p.body)
			for _, bad := range []string{"<script", " style=", " onclick", " onload", " onsubmit", "javascript:", " src=\"http", "@import", "url(http"} {
				if strings.Contains(low, bad) {
					t.Errorf("the answer contains %q", bad)
				}
			}
		})
	}
	for _, directive := range []string{"default-src 'none'", "script-src", "frame-ancestors 'none'", "form-action 'self'"} {
		if directive == "script-src" {
			if strings.Contains(CSP, directive) {
				t.Errorf("CSP allows a script source: %s", CSP)
			}
			continue
		}
		if !strings.Contains(CSP, directive) {
			t.Errorf("CSP lacks %s", directive)
		}
	}
}

func TestSessionsExpire(t *testing.T) {
	f := newFixture(t, false)
	t.Run("after the idle timeout", func(t *testing.T) {
		b := f.browser()
		tok := b.signIn()
		f.clock.advance(29 * time.Minute)
		if p := b.get(Prefix); p.url != Prefix {
			t.Fatalf("a session ended before its idle timeout: at %s", p.url)
		}
		f.clock.advance(30 * time.Minute)
		if p := b.get(Prefix); p.url != Prefix+"signin" {
			t.Errorf("an idle session still served: at %s", p.url)
		}
		if p := b.post(Prefix+"queue/dead/dl-1/replay", url.Values{"csrf": {tok}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "session has ended") {
			t.Errorf("a form of an expired session: %d %s", p.status, p.body)
		}
	})
	t.Run("at its maximum age however active", func(t *testing.T) {
		b := f.browser()
		b.signIn()
		for range 5 { // 5 × 20 min: active, under 2 h
			f.clock.advance(20 * time.Minute)
			if p := b.get(Prefix); p.url != Prefix {
				t.Fatalf("an active session ended early: at %s", p.url)
			}
		}
		f.clock.advance(20 * time.Minute)
		if p := b.get(Prefix); p.url != Prefix+"signin" {
			t.Errorf("a session past its maximum age still served: at %s", p.url)
		}
	})
	if calls := f.api.called("POST /admin/queue/dead"); len(calls) != 0 {
		t.Errorf("an expired session replayed: %v", calls)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	tok := b.signIn()
	u, _ := url.Parse(f.srv.URL + Prefix)
	old := b.client.Jar.Cookies(u)
	p := b.post(Prefix+"signout", url.Values{"csrf": {tok}})
	if p.url != Prefix+"signin" {
		t.Fatalf("after sign-out: %d at %s", p.status, p.url)
	}
	if home := b.get(Prefix); home.url != Prefix+"signin" {
		t.Errorf("signed out, the UI shows %s", home.url)
	}
	// The old cookie, kept by someone, opens nothing.
	b.client.Jar.SetCookies(u, old)
	if home := b.get(Prefix); home.url != Prefix+"signin" {
		t.Errorf("the old session cookie still works: at %s", home.url)
	}
	if p := b.post(Prefix+"queue/dead/dl-1/replay", url.Values{"csrf": {tok}}); p.status != http.StatusForbidden {
		t.Errorf("a form of the ended session: %d", p.status)
	}
}

func TestAProjectIsConfiguredByNames(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	b.signIn()
	form := b.get(Prefix + "installations/inst-1/projects/SUP")
	for _, want := range []string{`<optgroup label="Acme Support (SUP)">`, `<option value="2:11" >Acme Support — Get help</option>`,
		`<label for="f-botToken">Bot token</label>`, `value="Chat with {name}: {text}"`, "SUP-4", "a1b2c3d4e5f6", `id="q-delivered">7<`} {
		if !strings.Contains(form.body, want) {
			t.Errorf("the project page lacks %s", want)
		}
	}
	v := url.Values{"csrf": {form.csrf(t)}, "desk": {"2:12"}, "channel": {"telegram"}, "botToken": {" 7000000001:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd "},
		"enabled": {"on"}, "language": {"de"}, "summaryTemplate": {"{name}: {text}"}, "greeting": {"Hallo"}, "resolutionMessage": {""},
		"attachmentsIn": {"photo", "document"}, "retentionDays": {"30"}, "relayReactions": {"on"}}
	if !strings.Contains(form.body, `id="f-relayReactions" name="relayReactions"`) {
		t.Error("the project page lacks the reactions setting")
	}
	p := b.post(Prefix+"installations/inst-1/projects/SUP", v)
	if p.status != http.StatusOK || !strings.Contains(p.body, "The messenger accepted the token: bot @acme_support_bot.") {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	calls := f.api.called("POST /admin/installations/inst-1/resolve/config.set")
	if len(calls) != 1 {
		t.Fatalf("config.set calls: %v", calls)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(calls[0], " ", 3)[2]), &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"projectKey": "SUP", "serviceDeskId": "2", "requestTypeId": "12", "botToken": "7000000001:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd",
		"enabled": true, "attachmentsOut": false, "language": "de", "retentionDays": float64(30), "greeting": "Hallo", "relayReactions": true}
	for k, w := range want {
		if sent[k] != w {
			t.Errorf("config.set %s = %v, want %v", k, sent[k], w)
		}
	}
	if got, _ := json.Marshal(sent["attachmentsIn"]); string(got) != `["photo","document"]` {
		t.Errorf("attachmentsIn %s", got)
	}

	t.Run("the module's refusal is shown beside its field, the token never echoed", func(t *testing.T) {
		f.api.mu.Lock()
		f.api.setAnswer = `{"ok":false,"errors":{"botToken":"The messenger rejected this token (401 Unauthorized). Copy it again from @BotFather."}}`
		f.api.mu.Unlock()
		v.Set("csrf", form.csrf(t))
		v.Set("botToken", "123:secret-never-echoed")
		p := b.post(Prefix+"installations/inst-1/projects/SUP", v)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "The messenger rejected this token") {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
		if strings.Contains(p.body, "secret-never-echoed") {
			t.Error("the page shows the token")
		}
		if !strings.Contains(p.body, `<option value="2:12" selected>`) || !strings.Contains(p.body, ">Hallo</textarea>") {
			t.Error("the form lost what was submitted")
		}
	})
	t.Run("no request type chosen is caught before the module is called", func(t *testing.T) {
		v.Set("desk", "")
		before := len(f.api.called("POST /admin/installations/inst-1/resolve/config.set"))
		p := b.post(Prefix+"installations/inst-1/projects/SUP", v)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Choose a service desk and request type.") {
			t.Errorf("%d", p.status)
		}
		if after := len(f.api.called("POST /admin/installations/inst-1/resolve/config.set")); after != before {
			t.Error("config.set called")
		}
	})
}

func TestDeadLettersForgetAndDeleteGoThroughTheAdminAPI(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	tok := b.signIn()
	if p := b.post(Prefix+"queue/dead/dl-1/delete", url.Values{"csrf": {tok}}); !strings.Contains(p.body, "Dead letter discarded.") {
		t.Errorf("delete: %d %s", p.status, p.body)
	}
	if p := b.post(Prefix+"queue/dead/dl-9/replay", url.Values{"csrf": {tok}}); !strings.Contains(p.body, "no such dead letter") {
		t.Errorf("an unknown dead letter: %d %s", p.status, p.body)
	}
	if p := b.post(Prefix+"installations/inst-1/projects/SUP/forget", url.Values{"csrf": {tok}, "issueKey": {"SUP-4"}}); !strings.Contains(p.body, "The chat of SUP-4 is forgotten: 5 records") {
		t.Errorf("forget: %d %s", p.status, p.body)
	}
	if p := b.post(Prefix+"installations/inst-1/projects/SUP/delete", url.Values{"csrf": {tok}}); !strings.Contains(p.body, "tick the box") {
		t.Errorf("delete unconfirmed: %d %s", p.status, p.body)
	}
	if p := b.post(Prefix+"installations/inst-1/projects/SUP/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); !strings.Contains(p.body, "Project SUP deleted with 3 stored records.") {
		t.Errorf("delete: %d %s", p.status, p.body)
	}
	want := []string{"DELETE /admin/queue/dead/dl-1", "POST /admin/queue/dead/dl-9/replay",
		`POST /admin/installations/inst-1/resolve/mappings.forget {"issueKey":"SUP-4","projectKey":"SUP"}`,
		`POST /admin/installations/inst-1/resolve/config.delete {"projectKey":"SUP"}`}
	var got []string
	for _, c := range f.api.called("") {
		if strings.HasPrefix(c, "DELETE") || strings.Contains(c, "/dead/") || strings.Contains(c, "forget") || strings.Contains(c, "config.delete") {
			got = append(got, c)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("API calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := b.get(Prefix + "installations/nope"); p.status != http.StatusNotFound {
		t.Errorf("an unknown installation: %d", p.status)
	}
	if p := b.get(Prefix + "installations/inst-1/projects/not-a-key"); p.status != http.StatusNotFound {
		t.Errorf("a bad project key: %d", p.status)
	}
}
