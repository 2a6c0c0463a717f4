package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/emulator/sim"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
	"github.com/chatbridge/chatbridge/proxy"
)

// simulators are the dev mode's stand-ins for Telegram, Viber, WhatsApp and
// the Jira site, each on its own loopback TLS listener with a certificate for
// the real service name, so the module and its manifest run unchanged.
type simulators struct {
	telegram *telegram.Sim
	jira     *jira.Sim
	viber    *viber.Sim
	whatsapp *whatsapp.Sim
	// listeners serve the simulators as the real services' names.
	listeners *sim.Listeners
	// egress is the host's outbound client: real names routed to the simulators.
	egress *http.Client
	// route is what a host in another process needs to reach them.
	route egressRoute
}

// simulatorControl is what dev mode needs of the simulators, whether they
// run in this process or in a `chatbridge sims` process.
type simulatorControl interface {
	control() http.Handler
	egressClient() *http.Client
	registerJiraWebhook(hookURL string, secret []byte) error
	close()
}

// egressRoute tells a host where each service's simulator listens and which
// CA signed their certificates: GET /_sim/egress.
type egressRoute struct {
	Routes map[string]string `json:"routes"` // service host name -> loopback address
	CA     string            `json:"ca"`     // PEM
}

// startSimulators starts the simulators. edgeCert is the dev certificate of
// the edge, which the simulators' webhook deliveries must trust.
func startSimulators(edgeCert string) (*simulators, error) {
	deliver, err := sim.DeliveryClient(edgeCert)
	if err != nil {
		return nil, err
	}
	s := &simulators{
		// Any port: dev mode listens where the developer says, not only on
		// the four ports Telegram accepts.
		telegram: telegram.New(telegram.Config{Client: deliver, AnyWebhookPort: true}),
		jira:     jira.New(jira.Config{Client: deliver, Site: devSite}),
		viber:    viber.New(viber.Config{Client: deliver}),
		whatsapp: whatsapp.New(whatsapp.Config{Client: deliver}),
	}
	site, _ := url.Parse(devSite)
	ls, err := sim.ServeTLS(map[string]http.Handler{
		"api.telegram.org": s.telegram.API(), site.Hostname(): s.jira.API(),
		"chatapi.viber.com": s.viber.API(), "dl-media.viber.com": s.viber.API(),
		"graph.facebook.com": s.whatsapp.API(), "lookaside.fbsbx.com": s.whatsapp.API(),
	})
	if err != nil {
		s.close()
		return nil, err
	}
	s.listeners = ls
	s.egress = reroute.Client(ls.Routes, ls.CA.Pool())
	s.route = egressRoute{Routes: ls.Routes, CA: string(ls.CA.PEM())}
	return s, nil
}

func (s *simulators) egressClient() *http.Client { return s.egress }

// control serves the simulators' /_sim/ API.
func (s *simulators) control() http.Handler {
	return sim.Control(s.telegram, s.jira, s.viber, s.whatsapp)
}

// standalone serves the control API and GET /_sim/egress, for `chatbridge sims`.
func (s *simulators) standalone() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/egress", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.route)
	})
	mux.Handle("/_sim/", s.control())
	return mux
}

// registerJiraWebhook points the Jira simulator's webhook at an installation,
// through the same control API a developer would use.
func (s *simulators) registerJiraWebhook(hookURL string, secret []byte) error {
	body, err := json.Marshal(map[string]string{"url": hookURL, "secret": string(secret)})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, "/_sim/jira/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	rec := &statusRecorder{header: http.Header{}}
	s.control().ServeHTTP(rec, req)
	if rec.status >= 300 {
		return errors.New("register the Jira webhook with the simulator: " + http.StatusText(rec.status))
	}
	return nil
}

func (s *simulators) close() {
	if s.listeners != nil {
		s.listeners.Close()
	}
	s.telegram.Close()
	s.jira.Close()
	s.viber.Close()
	s.whatsapp.Close()
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

// remoteSimulators asks the sims process at base where its simulators listen.
// token is the admin token of the data directory the two processes share:
// every call to the sims process carries it, because the sims listener
// serves a write only with it or from its own pages.
func remoteSimulators(base, token string) (*remote, error) {
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
	var route egressRoute
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

func (r *remote) control() http.Handler      { return r.proxy }
func (r *remote) egressClient() *http.Client { return r.egress }
func (r *remote) close()                     {}

func (r *remote) registerJiraWebhook(hookURL string, secret []byte) error {
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

// runSims is `chatbridge sims`: the simulators alone, for a dev host in
// another process (`chatbridge dev -sims URL`) that may be stopped or killed
// while the simulated services keep their state, as real ones would.
func runSims(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sims", stderr)
	data := fs.String("data", devDataDir, "the dev host's data directory: the edge's dev certificate under dev/ and the admin token (admin.token), which writes to the control API must carry, are read, or created")
	listen := fs.String("listen", devSimsAddr, "control API address; keep it on loopback")
	hosts := fs.String("hosts", "", "host names the control API answers to besides the -listen host, localhost and loopback addresses (comma-separated); others get 421")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, addr, err := serveSimulators(*data, *listen, hostList(*hosts)...)
	if err != nil {
		return err
	}
	defer s.shutdown()
	// The first line ends with the control URL: scripts read it there.
	fmt.Fprintf(stdout, "simulators: control API http://%s/_sim/\nwrites carry the admin token: -H \"Authorization: Bearer $(cat %s)\"\nrun the host with: chatbridge dev -sims http://%s -data %s -bundle ...\n",
		addr, shellWord(s.tokenFile), addr, *data)
	<-ctx.Done()
	return nil
}

// servedSimulators is a sims process's simulators and control listener.
type servedSimulators struct {
	*simulators
	srv *http.Server
	// token is the admin token of the data directory, which a write to
	// the control API must carry (or come from the listener's origin);
	// tokenFile holds it.
	token, tokenFile string
}

func (s *servedSimulators) shutdown() {
	_ = s.srv.Close()
	s.close()
}

// serveSimulators starts the simulators, trusting the edge certificate of
// the dev data directory, and serves their control API on listen behind
// the admin listener's guard (host names; writes with the data directory's
// admin token, or from the listener's own origin).
func serveSimulators(data, listen string, hosts ...string) (*servedSimulators, string, error) {
	certFile, _, err := proxy.DevCertificate(filepath.Join(data, "dev"))
	if err != nil {
		return nil, "", err
	}
	token, err := adminToken(data)
	if err != nil {
		return nil, "", err
	}
	tokenFile := filepath.Join(data, adminTokenFile)
	sims, err := startSimulators(certFile)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		sims.close()
		return nil, "", err
	}
	guard := proxy.LocalGuard{Addr: listen, Hosts: hosts, Token: token, TokenFile: tokenFile}
	srv := &http.Server{Handler: guard.Handler(sims.standalone()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &servedSimulators{simulators: sims, srv: srv, token: token, tokenFile: tokenFile}, ln.Addr().String(), nil
}
