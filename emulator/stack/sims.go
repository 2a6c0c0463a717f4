package stack

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/emulator/sim"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
)

// Local is the emulator's stand-ins for Telegram, Viber, WhatsApp and
// the Jira site, each on its own loopback TLS listener with a certificate for
// the real service name, so the module and its manifest run unchanged.
type Local struct {
	Telegram *telegram.Sim
	Jira     *jira.Sim
	Viber    *viber.Sim
	WhatsApp *whatsapp.Sim
	// listeners serve the simulators as the real services' names.
	listeners *sim.Listeners
	// egress is the host's outbound client: real names routed to the simulators.
	egress *http.Client
	// route is what a host in another process needs to reach them.
	route EgressRoute
}

// Simulators is what the emulator needs of the simulators, whether they
// run in this process or in a `chatbridge sims` process.
type Simulators interface {
	// Control serves the simulators' /_sim/ API.
	Control() http.Handler
	// Egress is the module's outbound client: the real services' names
	// routed to the simulators.
	Egress() *http.Client
	// RegisterJiraWebhook points the Jira simulator's webhook at hookURL.
	RegisterJiraWebhook(hookURL string, secret []byte) error
	Close()
}

// EgressRoute tells a host where each service's simulator listens and which
// CA signed their certificates: GET /_sim/egress.
type EgressRoute struct {
	Routes map[string]string `json:"routes"` // service host name -> loopback address
	CA     string            `json:"ca"`     // PEM
}

// SimOptions tune the simulators StartSimulators starts.
type SimOptions struct {
	// TelegramTopics gives the Telegram bots topics in private chats
	// (Bot API 9.3's forum topic mode; telegram.Config.Topics).
	TelegramTopics bool
}

// StartSimulators starts the simulators. edgeCert is the dev certificate of
// the edge, which the simulators' webhook deliveries must trust.
func StartSimulators(edgeCert string, opts ...SimOptions) (*Local, error) {
	var o SimOptions
	for _, x := range opts {
		o.TelegramTopics = o.TelegramTopics || x.TelegramTopics
	}
	deliver, err := sim.DeliveryClient(edgeCert)
	if err != nil {
		return nil, err
	}
	s := &Local{
		// Any port: dev mode listens where the developer says, not only on
		// the four ports Telegram accepts.
		Telegram: telegram.New(telegram.Config{Client: deliver, AnyWebhookPort: true, Tokens: []string{telegram.DefaultToken, SecondTelegramToken}, Topics: o.TelegramTopics}),
		Jira:     jira.New(jira.Config{Client: deliver, Site: Site}),
		Viber:    viber.New(viber.Config{Client: deliver}),
		WhatsApp: whatsapp.New(whatsapp.Config{Client: deliver}),
	}
	site, _ := url.Parse(Site)
	ls, err := sim.ServeTLS(map[string]http.Handler{
		"api.telegram.org": s.Telegram.API(), site.Hostname(): s.Jira.API(),
		"chatapi.viber.com": s.Viber.API(), "dl-media.viber.com": s.Viber.API(),
		"graph.facebook.com": s.WhatsApp.API(), "lookaside.fbsbx.com": s.WhatsApp.API(),
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.listeners = ls
	s.egress = reroute.Client(ls.Routes, ls.CA.Pool())
	s.route = EgressRoute{Routes: ls.Routes, CA: string(ls.CA.PEM())}
	return s, nil
}

// Egress is the module's outbound client to the simulators.
func (s *Local) Egress() *http.Client { return s.egress }

// Control serves the simulators' /_sim/ API.
func (s *Local) Control() http.Handler {
	return sim.Control(s.Telegram, s.Jira, s.Viber, s.WhatsApp)
}

// Standalone serves the control API and GET /_sim/egress, for `chatbridge sims`.
func (s *Local) Standalone() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/egress", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.route)
	})
	mux.Handle("/_sim/", s.Control())
	return mux
}

// RegisterJiraWebhook points the Jira simulator's webhook at an installation,
// through the same control API a developer would use.
func (s *Local) RegisterJiraWebhook(hookURL string, secret []byte) error {
	body, err := json.Marshal(map[string]string{"url": hookURL, "secret": string(secret)})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, "/_sim/jira/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	rec := &statusRecorder{header: http.Header{}}
	s.Control().ServeHTTP(rec, req)
	if rec.status >= 300 {
		return errors.New("register the Jira webhook with the simulator: " + http.StatusText(rec.status))
	}
	return nil
}

// Close stops the simulators.
func (s *Local) Close() {
	if s.listeners != nil {
		s.listeners.Close()
	}
	s.Telegram.Close()
	s.Jira.Close()
	s.Viber.Close()
	s.WhatsApp.Close()
}

// statusRecorder keeps only the status of an in-process control call.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(status int) { r.status = status }

// remote is the simulators of a `chatbridge sims` process, reached through
// its control API.
type remote struct {
	base   *url.URL
	token  string // the admin token, which the sims process takes as a write's proof
	egress *http.Client
	proxy  http.Handler
}

// RemoteSimulators asks the sims process at base where its simulators listen.
// token is the admin token of the data directory the two processes share:
// every call to the sims process carries it, because the sims listener
// serves a write only with it or from its own pages.
func RemoteSimulators(base, token string) (*remote, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-sims %q: want the http URL of a `chatbridge sims` control API", base)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u.String() + "/_sim/egress")
	if err != nil {
		return nil, fmt.Errorf("-sims: %w", err)
	}
	defer resp.Body.Close()
	var route EgressRoute
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("-sims: GET /_sim/egress: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&route); err != nil {
		return nil, fmt.Errorf("-sims: GET /_sim/egress: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(route.CA)) || len(route.Routes) == 0 {
		return nil, errors.New("-sims: GET /_sim/egress: no routes or no CA certificate")
	}
	// The admin listener's guard has let the request through (it carried
	// the token or came from the console's own page); it goes on to the
	// sims process as this process's own call: the sims listener's host
	// name and the token.
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Header.Set("Authorization", "Bearer "+token)
	}}
	return &remote{base: u, token: token, egress: reroute.Client(route.Routes, roots), proxy: proxy}, nil
}

func (r *remote) Control() http.Handler { return r.proxy }
func (r *remote) Egress() *http.Client  { return r.egress }
func (r *remote) Close()                {}

func (r *remote) RegisterJiraWebhook(hookURL string, secret []byte) error {
	body, err := json.Marshal(map[string]string{"url": hookURL, "secret": string(secret)})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, r.base.String()+"/_sim/jira/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("register the Jira webhook with the simulator: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return errors.New("register the Jira webhook with the simulator: " + resp.Status)
	}
	return nil
}
