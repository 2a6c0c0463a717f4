package proxy

import (
	"context"
	"net/http"
	"time"
)

// Admin paths the proxy serves itself; every other path goes to
// AdminConfig.Extra.
const (
	AdminHealthz = "/healthz"
	AdminReadyz  = "/readyz"
	AdminMetrics = "/metrics"
)

// AdminHandler returns the admin handler: /healthz (the process is up),
// /readyz (Backend.Ready, and not shutting down), /metrics (Prometheus text
// format: the proxy's metrics, then Backend.WriteMetrics), and
// AdminConfig.Extra for every other path, all behind a LocalGuard of
// Admin.Addr, Admin.Hosts and Admin.Token. Mount it anywhere; ServeAdmin and
// ListenAndServe serve it on the admin listener.
func (s *Server) AdminHandler() http.Handler { return s.admin }

func (s *Server) adminHandler() http.Handler {
	extra := s.cfg.Admin.Extra
	guard := LocalGuard{Addr: s.cfg.Admin.Addr, Hosts: s.cfg.Admin.Hosts, Token: s.cfg.Admin.Token, TokenFile: s.cfg.Admin.TokenFile}
	return guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case AdminHealthz:
			if !getOrHead(w, r) {
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		case AdminReadyz:
			if !getOrHead(w, r) {
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if s.draining.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("shutting down\n"))
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			if err := s.backend.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		case AdminMetrics:
			if !getOrHead(w, r) {
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			if err := s.metrics.write(w); err != nil {
				return
			}
			if err := s.backend.WriteMetrics(w); err != nil {
				s.log.Warn("proxy: backend metrics failed", "error", err)
			}
		default:
			if extra != nil {
				extra.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		}
	}))
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
