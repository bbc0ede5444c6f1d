// Package sse serves the event streams browsers and devices read
// (GET /sse), their acknowledgements (POST /ack), the browser client
// (GET /rtchub.js) and the live page built on it (GET /).
package sse

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// Options are the SSE listener's settings. Zero values take those of
// DefaultOptions.
type Options struct {
	Retry       time.Duration // reconnect delay sent as `retry:`
	CORSOrigins []string      // "*" or exact origins
	MaxBody     int64         // /ack body limit
}

// DefaultOptions are the documented defaults.
func DefaultOptions() Options {
	return Options{Retry: 2 * time.Second, CORSOrigins: []string{"*"}, MaxBody: httpx.DefaultMaxBody}
}

// Config holds what the SSE listener needs.
type Config struct {
	Options
	Store  *store.Store
	Hub    *hub.Hub
	Signer *auth.Signer
	Logger *slog.Logger
	Now    func() time.Time
}

// Server serves the SSE listener and turns committed messages into frames.
// It is the store's observer.
type Server struct {
	cfg     Config
	retry   []byte
	targets []hub.Target // MessageCommitted's scratch list
	burst   *hub.Burst   // frames of the store's current batch (the store's goroutine's)
}

// New returns a Server. Register it with Store.SetObserver.
func New(cfg Config) *Server {
	d := DefaultOptions()
	if cfg.Retry <= 0 {
		cfg.Retry = d.Retry
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = d.CORSOrigins
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = d.MaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, retry: fmt.Appendf(nil, "retry: %d\n\n", cfg.Retry.Milliseconds()), burst: cfg.Hub.NewBurst()}
}

// Handler returns the SSE listener's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sse", s.stream)
	mux.HandleFunc("POST /ack", s.ack)
	mux.HandleFunc("OPTIONS /sse", s.preflight)
	mux.HandleFunc("OPTIONS /ack", s.preflight)
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /rtchub.js", asset(clientJS, "text/javascript; charset=utf-8", true))
	mux.HandleFunc("GET /page.js", asset(pageJS, "text/javascript; charset=utf-8", false))
	mux.HandleFunc("GET /page.css", asset(pageCSS, "text/css; charset=utf-8", false))
	mux.Handle("GET /healthz", httpx.Health(s.cfg.Store, false))
	// CORS headers go on every answer, before the mux: a browser reads an
	// error body (the mux's own 404 and 405 included) only if they are on
	// it.
	return httpx.Recover(s.cfg.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cors(w, r)
		mux.ServeHTTP(w, r)
	}))
}
