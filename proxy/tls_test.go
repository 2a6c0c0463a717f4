package proxy

import (
	"bufio"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestTLS_NegotiatesModernVersionsOnly(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	tests := []struct {
		name      string
		max       uint16
		wantErr   bool
		wantVer   uint16
		wantCurve tls.CurveID
	}{
		{"a TLS 1.1 client is refused", tls.VersionTLS11, true, 0, 0},
		{"a TLS 1.2 client is served", tls.VersionTLS12, false, tls.VersionTLS12, 0},
		{"a TLS 1.2 client offering only CBC suites is refused", tls.VersionTLS12, true, 0, 0},
		{"a modern client gets TLS 1.3 with the hybrid post-quantum key exchange", 0, false, tls.VersionTLS13, tls.X25519MLKEM768},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ts.tlsConfig()
			cfg.NextProtos = []string{"http/1.1"}
			cfg.MaxVersion = tt.max
			if tt.max == tls.VersionTLS11 {
				cfg.MinVersion = tls.VersionTLS10
			}
			if strings.Contains(tt.name, "CBC") {
				cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, cfg)
			if tt.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("handshake succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			st := c.ConnectionState()
			if st.Version != tt.wantVer {
				t.Errorf("version %x, want %x", st.Version, tt.wantVer)
			}
			if tt.wantCurve != 0 && st.CurveID != tt.wantCurve {
				t.Errorf("key exchange %v, want %v", st.CurveID, tt.wantCurve)
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1", st.NegotiatedProtocol)
			}
		})
	}
	waitfor.Until(t, 5*time.Second, "the two refused handshakes to be counted", waitfor.True(func() bool {
		return strings.Contains(ts.metricsText(), "chatbridge_proxy_tls_handshake_errors_total 2\n")
	}))

	ts.assertHealthy()
}

func TestTLS_ResumesSessions(t *testing.T) {
	ts := startServer(t, testConfig(t), nil)
	cfg := ts.tlsConfig()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		c, err := tls.Dial("tcp", ts.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A TLS 1.3 ticket arrives after the handshake: read a response.
		io.WriteString(c, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := c.ConnectionState().DidResume; got != wantResumed {
			t.Errorf("connection %d resumed = %v, want %v", i, got, wantResumed)
		}
		c.Close()
	}
}

// writeCert puts a fresh development certificate into certFile/keyFile and
// returns its serial.
func writeCert(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	certPEM, keyPEM, err := newDevCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

// servedSerial handshakes without verifying and returns the certificate serial.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestReloadCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	first := writeCert(t, certFile, keyFile)
	cfg := testConfig(t)
	cfg.CertFile, cfg.KeyFile = certFile, keyFile
	cfg.IdleTimeout = 10 * time.Second
	ts := startServer(t, cfg, nil)

	if got := servedSerial(t, ts.addr); got != first {
		t.Fatalf("serving %s, want %s", got, first)
	}
	// A live keep-alive connection made with the first certificate.
	live, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	br := bufio.NewReader(live)
	request := func() int {
		io.WriteString(live, "POST "+WebTriggerPath(ts.route)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("live connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	request()

	t.Run("new handshakes get the new certificate, live connections keep working", func(t *testing.T) {
		second := writeCert(t, certFile, keyFile)
		if err := ts.ReloadCertificate(); err != nil {
			t.Fatal(err)
		}
		if got := servedSerial(t, ts.addr); got != second {
			t.Errorf("serving %s after reload, want %s", got, second)
		}
		if code := request(); code != 200 {
			t.Errorf("live connection got %d after reload", code)
		}
		pem, _ := os.ReadFile(certFile)
		ts.roots = x509.NewCertPool()
		ts.roots.AppendCertsFromPEM(pem)
	})
	t.Run("a broken pair is refused and the old certificate stays", func(t *testing.T) {
		before := servedSerial(t, ts.addr)
		if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := ts.ReloadCertificate(); err == nil {
			t.Fatal("reload of a broken key succeeded")
		}
		if got := servedSerial(t, ts.addr); got != before {
			t.Errorf("serving %s, want the old %s", got, before)
		}
	})
	t.Run("SIGHUP reloads", func(t *testing.T) {
		cfg := cfg
		cfg.DisableSIGHUPReload = false
		dir := t.TempDir()
		cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
		writeCert(t, cfg.CertFile, cfg.KeyFile)
		hup := startServer(t, cfg, nil)
		hup.assertHealthy() // Serve has installed its SIGHUP handler by now
		want := writeCert(t, cfg.CertFile, cfg.KeyFile)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitfor.Until(t, 5*time.Second, "the SIGHUP reload", waitfor.True(func() bool { return servedSerial(t, hup.addr) == want }))
	})
	ts.assertHealthy()
}

func TestDevCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	certFile, keyFile, err := DevCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf

	t.Run("it is valid for 127.0.0.1, ::1 and localhost", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(leaf)
		for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, ok := pair.PrivateKey.(crypto.Signer); !ok {
			t.Error("no private key")
		}
		if leaf.PublicKeyAlgorithm != x509.ECDSA {
			t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
		}
	})
	t.Run("the key file is private", func(t *testing.T) {
		fi, err := os.Stat(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("a second call reuses it", func(t *testing.T) {
		c2, k2, err := DevCertificate(dir)
		if err != nil {
			t.Fatal(err)
		}
		again, err := tls.LoadX509KeyPair(c2, k2)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Leaf.Equal(leaf) {
			t.Error("a new certificate was made")
		}
	})
	t.Run("a damaged pair is replaced", func(t *testing.T) {
		if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		c3, k3, err := DevCertificate(dir)
		if err != nil {
			t.Fatal(err)
		}
		again, err := tls.LoadX509KeyPair(c3, k3)
		if err != nil {
			t.Fatalf("replacement does not load: %v", err)
		}
		if again.Leaf.Equal(leaf) {
			t.Error("the damaged pair was kept")
		}
	})
}
