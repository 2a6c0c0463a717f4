package node

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/proxy"
)

func TestMain(m *testing.M) { os.Exit(bundletest.Main(m, new(string))) }

// config is a node of the probe example plugin on loopback, with the
// emulator's keys and a dev certificate.
func config(t *testing.T) Config {
	t.Helper()
	data := t.TempDir()
	cert, key, err := proxy.DevCertificate(filepath.Join(data, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: data,
		BundleDir: bundletest.Probe(t, nil), Trust: bundletest.Trust(t),
		CertFile: cert, KeyFile: key, DevKeys: true,
	}
}

func TestStartServesTheBundleAndShutdownReleasesTheStore(t *testing.T) {
	c := config(t)
	n, err := Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.AdminURL + proxy.AdminReadyz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %s", resp.Status)
	}
	if n.Host.Bundle() == nil || !strings.HasPrefix(n.PublicURL, "https://127.0.0.1:") {
		t.Fatalf("bundle %v, public URL %q", n.Host.Bundle(), n.PublicURL)
	}
	if tok, err := AdminToken(c.DataDir); err != nil || tok != n.Token {
		t.Fatalf("the token file holds %q (%v), the node serves %q", tok, err, n.Token)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// The data file is closed: another process could open it now.
	s, err := OpenStore(t.Context(), c.DataDir, "", true, Store{})
	if err != nil {
		t.Fatalf("the store after shutdown: %v", err)
	}
	s.Close()
}

// A node that cannot start (its admin address is taken) leaves nothing
// open behind it: the public port and the data file are free again.
func TestAFailedStartReleasesItsListenerAndStore(t *testing.T) {
	c := config(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Listen = free.Addr().String()
	free.Close()
	c.Admin = busy.Addr().String()
	if n, err := Start(t.Context(), c); err == nil {
		n.Shutdown(context.Background())
		t.Fatal("started on a busy admin address")
	}
	again, err := net.Listen("tcp", c.Listen)
	if err != nil {
		t.Fatalf("the public address stayed taken: %v", err)
	}
	again.Close()
	s, err := OpenStore(t.Context(), c.DataDir, "", true, Store{})
	if err != nil {
		t.Fatalf("the store stayed open: %v", err)
	}
	s.Close()
}

func TestStoreRefusesWhatItCannotUse(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    Store
		want string
	}{
		{"unknown backend", Store{Backend: "redis"}, "unknown -storage"},
		{"etcd without endpoints", Store{Backend: "etcd"}, "needs -etcd-endpoints"},
		{"etcd settings with BuntDB", Store{Endpoints: []string{"http://127.0.0.1:2379"}}, "need -storage etcd"},
		{"etcd prefix without a slash", Store{Backend: "etcd", Endpoints: []string{"http://127.0.0.1:2379"}, Prefix: "cb"}, "must end with /"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenStore(t.Context(), t.TempDir(), "", true, tt.s)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %q, want it to say %q", err, tt.want)
			}
		})
	}
}
