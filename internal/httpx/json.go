package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// TimeFormat is RFC 3339 with milliseconds, as every time in the API.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

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

// DefaultMaxBody is the request body limit of both listeners by default.
const DefaultMaxBody = 1 << 20

// AppendString appends s as a JSON string. The ids and names the hub
// makes need no escaping; anything else is escaped as encoding/json does
// (without HTML escaping), so the result is always one line of valid JSON.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
