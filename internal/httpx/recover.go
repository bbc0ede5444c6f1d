package httpx

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Recover turns a panic in next into a JSON 500 and logs every request at
// debug level; unknown routes and wrong methods get JSON errors too.
func Recover(log *slog.Logger, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if sw.code == 0 {
					WriteError(sw, http.StatusInternalServerError, "internal error")
				}
			}
			if log.Enabled(r.Context(), slog.LevelDebug) {
				log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "took", time.Since(start).String())
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}

// statusWriter records the status, and turns the mux's own plain-text
// errors (no route matched: 404, or 405 with Allow) into JSON ones.
type statusWriter struct {
	http.ResponseWriter
	r       *http.Request
	code    int
	discard bool // the mux's text body is being replaced
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	// The mux sets Pattern on the request when a route matches; a route
	// handler's own errors are JSON already. No handler redirects, so a
	// redirect is the mux's own, to the cleaned form of a path with "//",
	// "." or ".." segments (Pattern is set when the cleaned path matches).
	redirect := 300 <= code && code < 400 && w.ResponseWriter.Header().Get("Location") != ""
	if w.r.Pattern == "" && code >= 400 || redirect {
		w.discard = true
		msg := fmt.Sprintf("no such route: %s %s", Clip(w.r.Method), Clip(w.r.URL.Path))
		switch {
		case code == http.StatusMethodNotAllowed:
			msg = methodNotAllowedMsg(w.r)
		case redirect:
			// No route needs an unclean path, and following the redirect
			// is up to each client (curl does not, some turn a POST into a
			// GET): say what is wrong instead.
			msg = fmt.Sprintf("no such route: %s %s (paths must be clean: no empty, '.' or '..' segments)", Clip(w.r.Method), Clip(w.r.URL.Path))
			code = http.StatusNotFound
			w.code = code
			w.ResponseWriter.Header().Del("Location")
		}
		b, _ := json.Marshal(struct {
			Error string `json:"error"`
		}{msg})
		h := w.ResponseWriter.Header()
		h.Del("X-Content-Type-Options")
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", fmt.Sprint(len(b)+1))
		w.ResponseWriter.WriteHeader(code)
		w.ResponseWriter.Write(append(b, '\n'))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (hijacking for
// event streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// MethodNotAllowed answers 405 with Allow, in the words the mux's own
// wrong-method answers get.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	WriteError(w, http.StatusMethodNotAllowed, methodNotAllowedMsg(r))
}

func methodNotAllowedMsg(r *http.Request) string {
	return fmt.Sprintf("method %s is not allowed on %s", Clip(r.Method), Clip(r.URL.Path))
}
