package sse

import (
	_ "embed"
	"net/http"
)

//go:embed page.html
var page []byte

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The token may be in the page's URL: never send it on as a referrer,
	// and allow the page to talk only to this hub.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.Write(page)
}

// cors sets the CORS headers of every answer of the listener, per
// --cors-origins.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return
		}
	}
	// The answer depends on the origin: caches must keep them apart.
	w.Header().Add("Vary", "Origin")
	for _, o := range s.cfg.CORSOrigins {
		if origin != "" && o == origin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			return
		}
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, Cache-Control")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
