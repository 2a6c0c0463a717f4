package sim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/chatbridge/chatbridge/emulator/devca"
)

// Listeners are simulators served as the real services: each on its own
// loopback TLS listener, with a certificate for the service's host name
// signed by a development CA of its own.
type Listeners struct {
	// Routes maps each service host name to its listener's address, for a
	// client that dials the real name (reroute.Client).
	Routes map[string]string
	// CA signed every listener's certificate; trust only it.
	CA      *devca.CA
	servers []*http.Server
}

// ServeTLS serves each handler under its service host name.
func ServeTLS(services map[string]http.Handler) (*Listeners, error) {
	ca, err := devca.New()
	if err != nil {
		return nil, err
	}
	l := &Listeners{Routes: map[string]string{}, CA: ca}
	for name, h := range services {
		cert, err := ca.Leaf(name)
		if err != nil {
			l.Close()
			return nil, err
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			l.Close()
			return nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		l.servers = append(l.servers, srv)
		l.Routes[name] = ln.Addr().String()
	}
	return l, nil
}

// Close stops every listener.
func (l *Listeners) Close() {
	for _, srv := range l.servers {
		_ = srv.Close()
	}
}

// DeliveryClient is the simulators' client for their webhook deliveries:
// it trusts only the edge's certificate (a PEM file), as a real service
// trusts the edge's public certificate.
func DeliveryClient(edgeCertFile string) (*http.Client, error) {
	pem, err := os.ReadFile(edgeCertFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("sim: the edge certificate file holds no PEM certificate")
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}, nil
}
