package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/devca"
	"github.com/chatbridge/chatbridge/host/sim"
	"github.com/chatbridge/chatbridge/host/sim/jira"
	"github.com/chatbridge/chatbridge/host/sim/telegram"
	"github.com/chatbridge/chatbridge/host/sim/viber"
	"github.com/chatbridge/chatbridge/host/sim/whatsapp"
)

// simulators are the dev mode's stand-ins for Telegram, Viber, WhatsApp and
// the Jira site, each on its own loopback TLS listener with a certificate for
// the real service name, so the module and its manifest run unchanged.
type simulators struct {
	telegram *telegram.Sim
	jira     *jira.Sim
	viber    *viber.Sim
	whatsapp *whatsapp.Sim
	servers  []*http.Server
	// egress is the host's outbound client: real names routed to the simulators.
	egress *http.Client
}

// startSimulators starts both simulators. edgeCert is the dev certificate of
// the edge, which the simulators' webhook deliveries must trust.
func startSimulators(edgeCert string) (*simulators, error) {
	pem, err := os.ReadFile(edgeCert)
	if err != nil {
		return nil, err
	}
	edgeRoots := x509.NewCertPool()
	if !edgeRoots.AppendCertsFromPEM(pem) {
		return nil, errors.New("dev certificate: no PEM certificate")
	}
	deliver := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: edgeRoots}}}
	s := &simulators{
		// Any port: dev mode listens where the developer says, not only on
		// the four ports Telegram accepts.
		telegram: telegram.New(telegram.Config{Client: deliver, AnyWebhookPort: true}),
		jira:     jira.New(jira.Config{Client: deliver, Site: devSite}),
		viber:    viber.New(viber.Config{Client: deliver}),
		whatsapp: whatsapp.New(whatsapp.Config{Client: deliver}),
	}
	ca, err := devca.New()
	if err != nil {
		return nil, err
	}
	site, _ := url.Parse(devSite)
	routes := map[string]string{}
	for _, svc := range []struct {
		name string
		h    http.Handler
	}{{"api.telegram.org", s.telegram.API()}, {site.Hostname(), s.jira.API()},
		{"chatapi.viber.com", s.viber.API()}, {"dl-media.viber.com", s.viber.API()},
		{"graph.facebook.com", s.whatsapp.API()}, {"lookaside.fbsbx.com", s.whatsapp.API()}} {
		cert, err := ca.Leaf(svc.name)
		if err != nil {
			s.close()
			return nil, err
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			s.close()
			return nil, err
		}
		srv := &http.Server{Handler: svc.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		s.servers = append(s.servers, srv)
		routes[svc.name] = ln.Addr().String()
	}
	s.egress = host.RoutedClient(routes, ca.Pool())
	return s, nil
}

// control serves the simulators' /_sim/ API.
func (s *simulators) control() http.Handler {
	return sim.Control(s.telegram, s.jira, s.viber, s.whatsapp)
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
	for _, srv := range s.servers {
		_ = srv.Close()
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
