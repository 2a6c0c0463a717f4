package proxy

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"
)

// Config configures the edge. The zero value of every field selects the
// default written on it; New rejects negative or out-of-range values, so a
// typo fails startup instead of silently disabling a limit. There is no way to
// turn a limit off: the edge faces the internet.
type Config struct {
	// Addr is the public HTTPS address ListenAndServe listens on.
	// Default ":8443".
	Addr string

	// CertFile and KeyFile are the PEM certificate chain and private key.
	// Required. They are read again by ReloadCertificate and on SIGHUP
	// (see DisableSIGHUPReload); DevCertificate makes a pair for development.
	CertFile string
	KeyFile  string

	// DisableSIGHUPReload stops Serve from reloading the certificate files
	// when the process receives SIGHUP. Default false: SIGHUP reloads.
	DisableSIGHUPReload bool

	// ReadTimeout bounds reading one whole request, TLS handshake and body
	// included; a slow-drip client is cut off when it runs out.
	// Default 10 s.
	ReadTimeout time.Duration

	// WriteTimeout bounds writing one response. Default 10 s.
	WriteTimeout time.Duration

	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request. Default 60 s.
	IdleTimeout time.Duration

	// MaxHeaderBytes bounds the request line plus headers; larger requests are
	// answered 431. Default 8 KiB; at least 1 KiB, at most 1 MiB.
	MaxHeaderBytes int

	// MaxBodyBytes bounds the request body; larger bodies are answered 413,
	// before they are read when Content-Length announces them.
	// Default 1 MiB; at most 64 MiB.
	MaxBodyBytes int

	// MaxUploadBytes bounds the body of an upload link (POST /ul/{token}),
	// which the edge streams to its Uploader instead of reading it whole:
	// the file and its multipart form. Larger announced bodies are
	// answered 413 before they are read. Default 101 MiB (the largest
	// upload link a manifest may ask for, and room for the form): a
	// second fence behind the link's own size, which the backend holds
	// while streaming; at most 1 GiB.
	MaxUploadBytes int64

	// UploadTimeout bounds reading one upload's body and handing it on, in
	// place of ReadTimeout. Default 5 minutes; at most one hour.
	UploadTimeout time.Duration

	// MaxConns bounds open public connections; connections beyond it are
	// closed on accept. Default 10,000.
	MaxConns int

	// MaxConnsPerIP bounds open public connections from one client address;
	// connections beyond it are closed on accept, before the TLS handshake.
	// Default 128 (webhook senders such as Telegram open up to 100).
	MaxConnsPerIP int

	// MaxInFlight bounds invocations running in the backend at once,
	// counting ones the proxy has given up waiting for; beyond it requests
	// are answered 503 at once. Default 512.
	MaxInFlight int

	// MaxUploadsInFlight bounds upload links (POST /ul/{token}) being read
	// at once, in a pool of their own: an upload may take UploadTimeout, so
	// slow uploads never take the slots of MaxInFlight that webhooks and
	// web triggers need. Beyond it an upload is answered 503 with
	// Retry-After. Default 32.
	MaxUploadsInFlight int

	// MaxUploadsPerIP bounds the uploads of one client address being read
	// at once, so that one address cannot fill MaxUploadsInFlight alone.
	// Default 4; at most MaxUploadsInFlight.
	MaxUploadsPerIP int

	// InvokeTimeout is the deadline of every invocation, set by the proxy
	// (never taken from the connection). The client gets 504 when it
	// passes. Default 25 s; at most 55 s, Forge's web trigger limit.
	InvokeTimeout time.Duration

	// RealtimeHeartbeat is how often an idle realtime stream (GET
	// /rt/{token}) sends an SSE comment, so that a client that went away is
	// found and intermediaries keep the connection. Default 15 s.
	RealtimeHeartbeat time.Duration

	// ShutdownTimeout bounds how long Shutdown waits for in-flight requests
	// before it closes the remaining connections. The earlier of it and the
	// context given to Shutdown wins. Default 30 s.
	ShutdownTimeout time.Duration

	// RouteRate and RouteBurst are the token bucket of each route id:
	// requests per second, and how many may arrive at once. Requests over
	// it are answered 429 with Retry-After. Defaults 20/s and 60.
	RouteRate  float64
	RouteBurst int

	// InstallationRate and InstallationBurst are the token bucket shared by
	// all routes of one installation. Defaults 100/s and 300.
	InstallationRate  float64
	InstallationBurst int

	// RateLimitKeys bounds how many buckets each limiter keeps; when full,
	// idle buckets are dropped first. Default 100,000.
	RateLimitKeys int

	// HSTSMaxAge is the max-age of the Strict-Transport-Security header sent
	// on every response. Default 730 days; at least one day.
	HSTSMaxAge time.Duration

	// Admin configures the admin listener (health, readiness, metrics).
	Admin AdminConfig
}

// AdminConfig configures the admin listener. It speaks plain HTTP and is
// meant for loopback or a private network only.
type AdminConfig struct {
	// Addr is the address ListenAndServe serves the admin handler on.
	// Default "127.0.0.1:9091".
	Addr string

	// Hosts are host names the admin listener answers to besides Addr's
	// host, "localhost" and the loopback addresses (see LocalGuard); a
	// request naming any other is 421. Default none.
	Hosts []string

	// Token is the admin token: a state-changing request (to Extra) is
	// served only with "Authorization: Bearer <Token>" or from the
	// listener's own origin (see LocalGuard). Default none: only the
	// listener's own pages can write.
	Token string

	// TokenFile is where the operator finds Token; a refused write names
	// it. Default none.
	TokenFile string

	// Disabled stops ListenAndServe from opening the admin listener; the
	// handler is still available from (*Server).AdminHandler.
	Disabled bool

	// Extra serves every admin path the proxy does not serve itself
	// (everything but /healthz, /readyz and /metrics), e.g. a dev console.
	// Default nil: such paths are 404.
	Extra http.Handler
}

// Defaults, as documented on Config.
const (
	DefaultAddr               = ":8443"
	DefaultAdminAddr          = "127.0.0.1:9091"
	DefaultReadTimeout        = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultMaxHeaderBytes     = 8 << 10
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxUploadBytes     = 101 << 20
	DefaultUploadTimeout      = 5 * time.Minute
	DefaultMaxConns           = 10_000
	DefaultMaxConnsPerIP      = 128
	DefaultMaxInFlight        = 512
	DefaultMaxUploadsInFlight = 32
	DefaultMaxUploadsPerIP    = 4
	DefaultInvokeTimeout      = 25 * time.Second
	MaxInvokeTimeout          = 55 * time.Second
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultRouteRate          = 20.0
	DefaultRouteBurst         = 60
	DefaultInstallationRate   = 100.0
	DefaultInstallationBurst  = 300
	DefaultRateLimitKeys      = 100_000
	DefaultHSTSMaxAge         = 730 * 24 * time.Hour
)

// ErrConfig is wrapped by every configuration error New returns.
var ErrConfig = errors.New("proxy: invalid config")

// withDefaults returns c with every zero field set to its default, or an
// error naming the first field that is out of range.
func (c Config) withDefaults() (Config, error) {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrConfig, field, v, want)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Admin.Addr == "" {
		c.Admin.Addr = DefaultAdminAddr
	}
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.InvokeTimeout, DefaultInvokeTimeout)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	def(&c.RealtimeHeartbeat, defaultRealtimeHeartbeat)
	def(&c.HSTSMaxAge, DefaultHSTSMaxAge)
	def(&c.UploadTimeout, DefaultUploadTimeout)
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	defInt(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	defInt(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	defInt(&c.MaxConns, DefaultMaxConns)
	defInt(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	defInt(&c.MaxInFlight, DefaultMaxInFlight)
	defInt(&c.MaxUploadsInFlight, DefaultMaxUploadsInFlight)
	defInt(&c.MaxUploadsPerIP, DefaultMaxUploadsPerIP)
	defInt(&c.RouteBurst, DefaultRouteBurst)
	defInt(&c.InstallationBurst, DefaultInstallationBurst)
	defInt(&c.RateLimitKeys, DefaultRateLimitKeys)
	if c.RouteRate == 0 {
		c.RouteRate = DefaultRouteRate
	}
	if c.InstallationRate == 0 {
		c.InstallationRate = DefaultInstallationRate
	}

	for _, a := range []struct{ name, addr string }{{"Addr", c.Addr}, {"Admin.Addr", c.Admin.Addr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return c, bad(a.name, a.addr, "host:port")
		}
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return c, fmt.Errorf("%w: CertFile and KeyFile are required (see DevCertificate)", ErrConfig)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReadTimeout", c.ReadTimeout}, {"WriteTimeout", c.WriteTimeout},
		{"IdleTimeout", c.IdleTimeout}, {"InvokeTimeout", c.InvokeTimeout},
		{"ShutdownTimeout", c.ShutdownTimeout}, {"RealtimeHeartbeat", c.RealtimeHeartbeat},
	} {
		if d.v < 0 {
			return c, bad(d.name, d.v, "> 0")
		}
	}
	if c.InvokeTimeout > MaxInvokeTimeout {
		return c, bad("InvokeTimeout", c.InvokeTimeout, "<= "+MaxInvokeTimeout.String())
	}
	if c.HSTSMaxAge < 24*time.Hour {
		return c, bad("HSTSMaxAge", c.HSTSMaxAge, ">= 24h")
	}
	if c.MaxHeaderBytes < 1<<10 || c.MaxHeaderBytes > 1<<20 {
		return c, bad("MaxHeaderBytes", c.MaxHeaderBytes, "1 KiB..1 MiB")
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > 64<<20 {
		return c, bad("MaxBodyBytes", c.MaxBodyBytes, "1..64 MiB")
	}
	if c.MaxUploadBytes < 0 || c.MaxUploadBytes > 1<<30 {
		return c, bad("MaxUploadBytes", c.MaxUploadBytes, "1 byte..1 GiB")
	}
	if c.UploadTimeout < 0 || c.UploadTimeout > time.Hour {
		return c, bad("UploadTimeout", c.UploadTimeout, "> 0, at most 1h")
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"MaxConns", c.MaxConns}, {"MaxConnsPerIP", c.MaxConnsPerIP},
		{"MaxInFlight", c.MaxInFlight}, {"RouteBurst", c.RouteBurst},
		{"MaxUploadsInFlight", c.MaxUploadsInFlight}, {"MaxUploadsPerIP", c.MaxUploadsPerIP},
		{"InstallationBurst", c.InstallationBurst}, {"RateLimitKeys", c.RateLimitKeys},
	} {
		if n.v < 0 {
			return c, bad(n.name, n.v, "> 0")
		}
	}
	if c.MaxUploadsPerIP > c.MaxUploadsInFlight {
		return c, bad("MaxUploadsPerIP", c.MaxUploadsPerIP, fmt.Sprintf("<= MaxUploadsInFlight (%d)", c.MaxUploadsInFlight))
	}
	if c.MaxConnsPerIP > c.MaxConns {
		return c, bad("MaxConnsPerIP", c.MaxConnsPerIP, fmt.Sprintf("<= MaxConns (%d)", c.MaxConns))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"RouteRate", c.RouteRate}, {"InstallationRate", c.InstallationRate}} {
		if !(r.v > 0) || math.IsInf(r.v, 0) {
			return c, bad(r.name, r.v, "a finite rate > 0")
		}
	}
	return c, nil
}
