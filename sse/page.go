package sse

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
)

// The live page and the browser client, embedded. The page loads its
// script and styles as files, so its CSP allows no inline code.
var (
	//go:embed page.html
	pageHTML []byte
	//go:embed page.js
	pageJS []byte
	//go:embed page.css
	pageCSS []byte
	//go:embed rtchub.js
	clientJS []byte
)

// ClientJS is GET /rtchub.js, the browser client (for its tests).
func ClientJS() []byte { return clientJS }

// MaxClientJS is the size the browser client must stay within (SPEC.md:
// one readable file under 12 KB, read as the stricter 12,000 bytes).
const MaxClientJS = 12000

// pageCSP lets the page run only its own files and talk only to this hub.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The token may be in the page's URL: never send it on as a referrer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.Write(pageHTML)
}

// asset serves an embedded file with an ETag: browsers revalidate it on
// each load (no-cache) and get 304 while it is unchanged, so a new hub's
// client is picked up at once.
func asset(body []byte, ctype string, crossOrigin bool) http.HandlerFunc {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if crossOrigin {
			// Pages elsewhere import it (CORS covers the read); CORP
			// lets pages with COEP embed it too.
			h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	}
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
