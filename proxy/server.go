package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Server is the edge: the public HTTPS listener and the admin listener.
// Create it with New; it serves until Shutdown.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	fast    *fasthttp.Server
	tls     *tls.Config
	cert    atomic.Pointer[tls.Certificate]
	conns   *connTracker
	metrics *metrics
	hsts    string

	routes        *limiter
	installations *limiter
	addresses     *limiter      // routes' per-address buckets (Target.PerAddress)
	inFlight      chan struct{} // a slot per running invocation
	uploads       *uploadSlots  // uploads being read (MaxUploadsInFlight, MaxUploadsPerIP)

	// invokeCtx parents every invocation; cancelled when Shutdown gives up.
	invokeCtx    context.Context
	cancelInvoke context.CancelFunc
	// streamsEnd is closed when Shutdown starts: realtime streams end then,
	// as they never fall idle on their own.
	streamsEnd chan struct{}

	admin     http.Handler
	mu        sync.Mutex // guards adminSrv and listeners
	adminSrv  *http.Server
	listeners []net.Listener

	draining  atomic.Bool
	sighupOne sync.Once
	sighupEnd chan struct{}
	shutOnce  sync.Once
}

var _ fasthttp.Logger = (*fasthttpLogger)(nil)

// New validates cfg, loads the certificate and returns a Server that is not
// yet listening. backend is required; a nil logger discards logs.
func New(cfg Config, backend Backend, logger *slog.Logger) (*Server, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: nil Backend", ErrConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cert, err := loadCertificate(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		backend:       backend,
		log:           logger,
		metrics:       &metrics{},
		hsts:          "max-age=" + strconv.FormatInt(int64(cfg.HSTSMaxAge/time.Second), 10),
		routes:        newLimiter(cfg.RouteRate, cfg.RouteBurst, cfg.RateLimitKeys),
		installations: newLimiter(cfg.InstallationRate, cfg.InstallationBurst, cfg.RateLimitKeys),
		addresses:     newLimiter(cfg.RouteRate, cfg.RouteBurst, cfg.RateLimitKeys), // rate and burst per call
		inFlight:      make(chan struct{}, cfg.MaxInFlight),
		uploads:       newUploadSlots(cfg.MaxUploadsInFlight, cfg.MaxUploadsPerIP),
		sighupEnd:     make(chan struct{}),
		streamsEnd:    make(chan struct{}),
	}
	s.cert.Store(cert)
	s.metrics.certExpiry.Store(cert.Leaf.NotAfter.Unix())
	// A lingering close reads at most a few bodies' worth, for at most 2 s.
	s.conns = newConnTracker(cfg.MaxConns, cfg.MaxConnsPerIP, min(cfg.ReadTimeout, 2*time.Second),
		int64(4*cfg.MaxBodyBytes+cfg.MaxHeaderBytes), s.metrics)
	s.invokeCtx, s.cancelInvoke = context.WithCancel(context.Background())
	s.tls = s.tlsConfig()
	s.fast = &fasthttp.Server{
		Handler:      s.handle,
		ErrorHandler: s.handleError,
		// Refuse an announced oversize body before inviting it with 100 Continue.
		ExpectHandler:         s.handleExpect,
		Logger:                &fasthttpLogger{l: logger, m: s.metrics},
		Name:                  "",
		NoDefaultServerHeader: true,
		Concurrency:           cfg.MaxConns + 1, // the tracker enforces MaxConns first
		ReadBufferSize:        cfg.MaxHeaderBytes,
		WriteBufferSize:       4 << 10,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		MaxRequestBodySize:    cfg.MaxBodyBytes,
		SecureErrorLogMessage: true,
		CloseOnShutdown:       true,
		// Bodies are bytes for the module; never parse them here.
		DisablePreParseMultipartForm: true,
		// Every body arrives as a stream: an upload link's is handed on as
		// it arrives (serveUpload); every other route's is read here, at
		// most MaxBodyBytes of it (readBody), before anything else.
		StreamRequestBody: true,
	}
	s.admin = s.adminHandler()
	if host, _, _ := net.SplitHostPort(cfg.Admin.Addr); !cfg.Admin.Disabled && !isLoopback(host) {
		logger.Warn("proxy: the admin listener is not on loopback; it has no authentication", "addr", cfg.Admin.Addr)
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve accepts public connections on ln, a plain TCP listener: the Server
// terminates TLS itself. It returns nil after Shutdown, or the listener's
// error. Unless Config.DisableSIGHUPReload, SIGHUP reloads the certificate
// while Serve runs.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	if !s.cfg.DisableSIGHUPReload {
		s.sighupOne.Do(s.watchSIGHUP)
	}
	tl := &trackedListener{Listener: ln, t: s.conns, onFail: func(error) {
		s.log.Warn("proxy: accept failed, retrying")
	}}
	return s.fast.Serve(tls.NewListener(tl, s.tls))
}

// ServeAdmin serves the admin handler over plain HTTP on ln until Shutdown.
// It returns nil after Shutdown.
func (s *Server) ServeAdmin(ln net.Listener) error {
	srv := s.adminServer()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ListenAndServe listens on Config.Addr and, unless Admin.Disabled, on
// Admin.Addr, and serves both until Shutdown or until one fails. It
// returns the first error, or nil after Shutdown.
func (s *Server) ListenAndServe() error {
	pub, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("proxy: listen: %w", err)
	}
	var adm net.Listener
	if !s.cfg.Admin.Disabled {
		if adm, err = net.Listen("tcp", s.cfg.Admin.Addr); err != nil {
			pub.Close()
			return fmt.Errorf("proxy: listen admin: %w", err)
		}
	}
	errc := make(chan error, 2)
	n := 1
	go func() { errc <- s.Serve(pub) }()
	if adm != nil {
		n++
		go func() { errc <- s.ServeAdmin(adm) }()
	}
	var first error
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil && first == nil {
			first = err
			// One listener failed: stop the other rather than run half an edge.
			go s.Shutdown(context.Background())
		}
	}
	return first
}

func (s *Server) adminServer() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminSrv == nil {
		s.adminSrv = &http.Server{
			Handler:           s.admin,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    64 << 10,
		}
		if s.draining.Load() {
			_ = s.adminSrv.Close()
		}
	}
	return s.adminSrv
}

// Shutdown stops accepting connections, lets in-flight requests finish and
// closes keep-alive connections as they fall idle. It waits at most until
// ctx is done or Config.ShutdownTimeout has passed, whichever is first;
// then it closes what is left, cancels the invocations still running and
// returns context.DeadlineExceeded (or ctx's error). Calling it again
// returns at once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := context.Canceled
	first := false
	s.shutOnce.Do(func() {
		first = true
		err = s.shutdown(ctx)
	})
	if !first {
		return nil
	}
	return err
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	s.mu.Unlock()
	s.conns.stop()
	close(s.sighupEnd)
	close(s.streamsEnd)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()

	var adminErr error
	adminDone := make(chan struct{})
	go func() {
		defer close(adminDone)
		s.mu.Lock()
		srv := s.adminSrv
		s.mu.Unlock()
		if srv != nil {
			if adminErr = srv.Shutdown(ctx); adminErr != nil {
				_ = srv.Close()
			}
		}
	}()

	err := s.fast.ShutdownWithContext(ctx)
	// A Serve that raced with Shutdown may have registered its listener
	// with us but not yet with fasthttp: close them all here too.
	s.mu.Lock()
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	if err != nil {
		// Out of time: close the stragglers and tell running invocations.
		s.cancelInvoke()
		s.conns.closeAll()
		s.log.Warn("proxy: shutdown timed out, connections closed", "open", s.conns.count())
	}
	<-adminDone
	if err == nil && adminErr != nil {
		err = adminErr
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// watchSIGHUP reloads the certificate on SIGHUP until Shutdown.
func (s *Server) watchSIGHUP() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-s.sighupEnd:
				return
			case <-ch:
				if err := s.ReloadCertificate(); err != nil {
					s.log.Error("proxy: certificate reload failed, keeping the old one", "error", err)
				} else {
					s.log.Info("proxy: certificate reloaded", "not_after", s.cert.Load().Leaf.NotAfter)
				}
			}
		}
	}()
}
