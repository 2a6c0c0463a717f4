package proxy

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestNew_RejectsInvalidConfig(t *testing.T) {
	good := testConfig(t)
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no certificate", func(c *Config) { c.CertFile, c.KeyFile = "", "" }},
		{"a missing certificate file", func(c *Config) { c.CertFile = "/nonexistent/cert.pem" }},
		{"a bad address", func(c *Config) { c.Addr = "8443" }},
		{"a bad admin address", func(c *Config) { c.Admin.Addr = "localhost" }},
		{"a negative read timeout", func(c *Config) { c.ReadTimeout = -1 }},
		{"a negative write timeout", func(c *Config) { c.WriteTimeout = -time.Second }},
		{"an invoke timeout over Forge's 55 s", func(c *Config) { c.InvokeTimeout = 56 * time.Second }},
		{"a header limit under 1 KiB", func(c *Config) { c.MaxHeaderBytes = 100 }},
		{"a header limit over 1 MiB", func(c *Config) { c.MaxHeaderBytes = 2 << 20 }},
		{"a negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }},
		{"a body limit over 64 MiB", func(c *Config) { c.MaxBodyBytes = 65 << 20 }},
		{"a negative upload limit", func(c *Config) { c.MaxUploadBytes = -1 }},
		{"an upload limit over 1 GiB", func(c *Config) { c.MaxUploadBytes = 1<<30 + 1 }},
		{"an upload timeout over an hour", func(c *Config) { c.UploadTimeout = time.Hour + time.Second }},
		{"a negative per-IP cap", func(c *Config) { c.MaxConnsPerIP = -1 }},
		{"a per-IP cap over the total cap", func(c *Config) { c.MaxConns, c.MaxConnsPerIP = 10, 20 }},
		{"a negative upload pool", func(c *Config) { c.MaxUploadsInFlight = -1 }},
		{"a negative per-IP upload cap", func(c *Config) { c.MaxUploadsPerIP = -1 }},
		{"a per-IP upload cap over the upload pool", func(c *Config) { c.MaxUploadsInFlight, c.MaxUploadsPerIP = 2, 3 }},
		{"a negative rate", func(c *Config) { c.RouteRate = -1 }},
		{"a NaN rate", func(c *Config) { c.InstallationRate = math.NaN() }},
		{"an infinite rate", func(c *Config) { c.RouteRate = math.Inf(1) }},
		{"a negative burst", func(c *Config) { c.RouteBurst = -5 }},
		{"an HSTS max-age under a day", func(c *Config) { c.HSTSMaxAge = time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			if _, err := New(c, newFakeBackend(), nil); err == nil {
				t.Fatal("New accepted it")
			} else if !errors.Is(err, ErrConfig) && !errors.Is(err, ErrCertificate) {
				t.Errorf("error %v wraps neither ErrConfig nor ErrCertificate", err)
			}
		})
	}
	t.Run("a nil backend", func(t *testing.T) {
		if _, err := New(good, nil, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("New(nil backend) = %v", err)
		}
	})
}

func TestNew_ZeroValuesSelectTheDocumentedDefaults(t *testing.T) {
	certFile, keyFile, err := DevCertificate(sharedCertDir(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile}, newFakeBackend(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, ":8443"},
		{"Admin.Addr", c.Admin.Addr, "127.0.0.1:9091"},
		{"ReadTimeout", c.ReadTimeout, 10 * time.Second},
		{"WriteTimeout", c.WriteTimeout, 10 * time.Second},
		{"IdleTimeout", c.IdleTimeout, 60 * time.Second},
		{"MaxHeaderBytes", c.MaxHeaderBytes, 8 << 10},
		{"MaxBodyBytes", c.MaxBodyBytes, 1 << 20},
		{"MaxUploadBytes", c.MaxUploadBytes, int64(101 << 20)},
		{"UploadTimeout", c.UploadTimeout, 5 * time.Minute},
		{"MaxConns", c.MaxConns, 10_000},
		{"MaxConnsPerIP", c.MaxConnsPerIP, 128},
		{"MaxInFlight", c.MaxInFlight, 512},
		{"MaxUploadsInFlight", c.MaxUploadsInFlight, 32},
		{"MaxUploadsPerIP", c.MaxUploadsPerIP, 4},
		{"InvokeTimeout", c.InvokeTimeout, 25 * time.Second},
		{"ShutdownTimeout", c.ShutdownTimeout, 30 * time.Second},
		{"RouteRate", c.RouteRate, 20.0},
		{"RouteBurst", c.RouteBurst, 60},
		{"InstallationRate", c.InstallationRate, 100.0},
		{"InstallationBurst", c.InstallationBurst, 300},
		{"RateLimitKeys", c.RateLimitKeys, 100_000},
		{"HSTSMaxAge", c.HSTSMaxAge, 730 * 24 * time.Hour},
		{"HSTS header", s.hsts, "max-age=63072000"},
		{"fasthttp ReadBufferSize (the header limit)", s.fast.ReadBufferSize, 8 << 10},
		{"fasthttp MaxRequestBodySize", s.fast.MaxRequestBodySize, 1 << 20},
		{"fasthttp SecureErrorLogMessage", s.fast.SecureErrorLogMessage, true},
		{"TLS minimum version", s.tls.MinVersion, uint16(0x0303)},
		{"TLS key exchanges left to Go (hybrid post-quantum first)", len(s.tls.CurvePreferences), 0},
		{"TLS session tickets on", s.tls.SessionTicketsDisabled, false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}
