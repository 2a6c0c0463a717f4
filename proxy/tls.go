package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsConfig is the public listener's TLS configuration. Left at Go's
// defaults on purpose: key exchange preferences (X25519MLKEM768 first, the
// hybrid post-quantum one) and session tickets with keys Go rotates itself. The certificate comes from GetCertificate so that a
// reload reaches new handshakes without touching live connections.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, // Go picks 1.3 whenever the client offers it
		// TLS 1.2 only: forward-secret AEAD suites (Mozilla "intermediate").
		// TLS 1.3 suites are not configurable and all fine.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
}

// ReloadCertificate reads CertFile and KeyFile again and serves the new
// pair to new handshakes; open connections keep theirs. On error the old
// certificate stays in use.
func (s *Server) ReloadCertificate() error {
	cert, err := loadCertificate(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		s.metrics.reloads[1].Add(1)
		return err
	}
	s.cert.Store(cert)
	s.metrics.reloads[0].Add(1)
	s.metrics.certExpiry.Store(cert.Leaf.NotAfter.Unix())
	return nil
}

// ErrCertificate is wrapped by certificate loading errors.
var ErrCertificate = errors.New("proxy: certificate")

func loadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// The error names files and PEM problems, never key material.
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
		}
	}
	return &cert, nil
}

// Development certificate file names inside the directory DevCertificate is given.
const (
	devCertName = "dev-cert.pem"
	devKeyName  = "dev-key.pem"
)

// DevCertificate returns a self-signed ECDSA P-256 certificate for
// 127.0.0.1, ::1 and localhost in dir, making it on first use and reusing it
// while it parses, matches its key and has more than a day left. The key
// file is written with mode 0600. For development only.
func DevCertificate(dir string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, devCertName), filepath.Join(dir, devKeyName)
	if c, err := loadCertificate(certFile, keyFile); err == nil && time.Until(c.Leaf.NotAfter) > 24*time.Hour {
		return certFile, keyFile, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("%w: dev certificate: %w", ErrCertificate, err)
	}
	certPEM, keyPEM, err := newDevCertificate(time.Now())
	if err != nil {
		return "", "", err
	}
	// The key first: a cert without its key would be replaced next time anyway.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func newDevCertificate(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dev certificate: %w", ErrCertificate, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dev certificate: %w", ErrCertificate, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "chatbridge development"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so a client can trust it as its own root
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dev certificate: %w", ErrCertificate, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dev certificate: %w", ErrCertificate, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func writeFileAtomic(name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	return nil
}
