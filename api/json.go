package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteJSON writes v as a JSON body with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"could not encode the response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// WriteError writes {"error": msg} with status code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

// DecodeJSON reads one JSON object of at most max bytes from the request
// into v, rejecting unknown fields and trailing data. On failure it has
// already answered (400, or 413 for an oversize body) and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	body := http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(terr, &mbe) {
				err = terr
			} else {
				err = errors.New("trailing data after the JSON object")
			}
		}
	}
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, io.EOF):
		WriteError(w, http.StatusBadRequest, "request body is empty: expected a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		WriteError(w, http.StatusBadRequest, "request body is not valid JSON")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			WriteError(w, http.StatusBadRequest, "request body must be a JSON object")
		} else {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("field %q must be %s", field, kindName(te.Type.Kind().String())))
		}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		WriteError(w, http.StatusBadRequest, "unknown field "+Clip(strings.TrimPrefix(err.Error(), "json: unknown field ")))
	default:
		WriteError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
	}
	return false
}

// maxEcho is how much of a client's input an error message repeats.
const maxEcho = 64

// Clip cuts client input that an error message repeats to its first 64
// bytes (on a character boundary) plus "…", so that a 5 KB id or path
// makes a small error body.
func Clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func kindName(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "int", "int64", "uint64":
		return "a whole number"
	case "float64":
		return "a number"
	}
	return "of another type"
}

// ValidID reports whether s is a user, group or client id: 1-128 characters
// of letters, digits, '.', '_', '-' and '@', other than "." and "..", which
// a URL path cannot carry as a segment (clients and the mux resolve them).
func ValidID(s string) bool { return validName(s, 128, "._-@") && s != "." && s != ".." }

// IDRule is how an error message states the id alphabet.
const IDRule = "use 1-128 letters, digits, '.', '_', '-', '@' (not \".\" or \"..\")"

// validName reports whether s is 1 to max letters, digits and bytes of extra.
func validName(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

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

// MethodNotAllowed answers 405 with Allow, in the words the mux's own
// wrong-method answers get.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	WriteError(w, http.StatusMethodNotAllowed, methodNotAllowedMsg(r))
}

func methodNotAllowedMsg(r *http.Request) string {
	return fmt.Sprintf("method %s is not allowed on %s", Clip(r.Method), Clip(r.URL.Path))
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
