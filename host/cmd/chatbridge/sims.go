package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/proxy"
)

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
	*stack.Local
	srv *http.Server
	// token is the admin token of the data directory, which a write to
	// the control API must carry (or come from the listener's origin);
	// tokenFile holds it.
	token, tokenFile string
}

func (s *servedSimulators) shutdown() {
	_ = s.srv.Close()
	s.Close()
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
	sims, err := stack.StartSimulators(certFile)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		sims.Close()
		return nil, "", err
	}
	guard := proxy.LocalGuard{Addr: listen, Hosts: hosts, Token: token, TokenFile: tokenFile}
	srv := &http.Server{Handler: guard.Handler(sims.Standalone()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &servedSimulators{Local: sims, srv: srv, token: token, tokenFile: tokenFile}, ln.Addr().String(), nil
}
