package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// WriteJSON writes v as a JSON body with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"could not encode the response"}`)
	}
	WriteBody(w, code, append(b, '\n'))
}

// WriteBody writes b, JSON ending in a newline, with status code.
func WriteBody(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	if len(b) > smallBody {
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
	}
	w.WriteHeader(code)
	w.Write(b)
}

// smallBody is what net/http buffers before it must choose between a
// Content-Length and chunking; a body that fits and ends the handler gets
// its Content-Length from net/http, without the two allocations here.
const smallBody = 2048

// jsonType is shared by every answer: net/http only reads header values.
var jsonType = []string{"application/json"}

// WriteError writes {"error": msg} with status code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

// DecodeJSON reads one JSON object of at most max bytes from the request
// into v, a pointer to a struct. It refuses what a careful reader of the
// contract would: a Content-Encoding it does not decode (415), a body over
// max (413, at once when Content-Length says so), invalid UTF-8, keys not
// spelled exactly as v's json tags (encoding/json alone matches them in any
// case), a key given twice, unknown fields, wrong types and trailing data
// (400). On failure it has already answered and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	if ce := encoded(r.Header); ce != "" {
		WriteError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported: send the body as is", Clip(ce)))
		return false
	}
	if r.ContentLength > max {
		// Said up front: answer now, not after reading (or waiting for)
		// a body that will be refused anyway.
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", max))
		return false
	}
	bp := bodyPool.Get().(*[]byte)
	defer putBody(bp)
	body, err := readAll(http.MaxBytesReader(w, r.Body, max), (*bp)[:0])
	*bp = body
	if err != nil {
		readFailed(w, err)
		return false
	}
	switch {
	case !utf8.Valid(body):
		WriteError(w, http.StatusBadRequest, "request body is not valid UTF-8")
		return false
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		msg := "request body is not valid JSON"
		if json.Valid(t) {
			msg = "request body must be a JSON object"
		}
		WriteError(w, http.StatusBadRequest, msg)
		return false
	}
	if fd, ok := v.(FastDecoder); ok && fd.DecodeFast(body) {
		return true
	}
	fields := fieldsOf(reflect.TypeOf(v))
	if msg := checkKeys(body, fields.names); msg != "" {
		WriteError(w, http.StatusBadRequest, msg)
		return false
	}
	if err = decode(body, v, fields.flat); err == nil {
		return true
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		WriteError(w, http.StatusBadRequest, "request body is empty: expected a JSON object")
	case errors.As(err, &se) && strings.HasSuffix(se.Error(), "exceeded max depth"):
		WriteError(w, http.StatusBadRequest, "request body nests arrays and objects too many levels deep (encoding/json stops at 10,000)")
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

// encoded returns the first coding other than identity that the
// Content-Encoding lines of h name, in any of the lines and in any place
// of a list ("identity, gzip"), or "".
func encoded(h http.Header) string {
	for _, line := range h["Content-Encoding"] {
		for c := range strings.SplitSeq(line, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return c
			}
		}
	}
	return ""
}

// readFailed answers a body that could not be read. (Apart, as the
// target of errors.As escapes: the path of a body read whole stays free
// of it.)
func readFailed(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		return
	}
	WriteError(w, http.StatusBadRequest, "could not read the request body")
}

// A FastDecoder decodes by hand the bodies of a hot route that it knows
// how to: DecodeFast reports whether it did, and when it did not, it has
// left the value as it was, for DecodeJSON to decode strictly. What it
// accepts must decode to the same value with json.Unmarshal.
type FastDecoder interface {
	DecodeFast(body []byte) bool
}

// checkKeys returns why the top-level keys of body, if it is an object,
// are not the known json names: a key not spelled exactly as a json tag,
// or one given twice. Anything else wrong with body is left to the decoder.
func checkKeys(body []byte, known map[string]bool) string {
	var arr [16][]byte
	keys, ok := topKeys(arr[:0], body, known)
	if !ok {
		// An escaped key, or not well-formed: the decoder's way.
		return checkKeysSlow(body, known)
	}
	for i, key := range keys {
		switch {
		case !known[string(key)]:
			return fmt.Sprintf("unknown field %q", Clip(string(key)))
		case slices.ContainsFunc(keys[:i], func(k []byte) bool { return bytes.Equal(k, key) }):
			return fmt.Sprintf("field %q is given twice", Clip(string(key)))
		}
	}
	return ""
}

// topKeys lists the keys of the object body, skipping values by their
// brackets and strings: one pass, no decoding. It gives up (false) on a
// key with an escape or on anything not well-formed. A request has a
// handful of keys; more than known holds is given up on too.
func topKeys(keys [][]byte, body []byte, known map[string]bool) ([][]byte, bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return nil, true
	}
	for {
		if i >= len(body) || body[i] != '"' || len(keys) > len(known) {
			return nil, false
		}
		end := i + 1
		for end < len(body) && body[end] != '"' && body[end] != '\\' {
			end++
		}
		if end >= len(body) || body[end] != '"' {
			return nil, false
		}
		keys = append(keys, body[i+1:end])
		i = skipSpace(body, end+1)
		if i >= len(body) || body[i] != ':' {
			return nil, false
		}
		i = SkipValue(body, skipSpace(body, i+1))
		if i < 0 {
			return nil, false
		}
		i = skipSpace(body, i)
		switch {
		case i < len(body) && body[i] == ',':
			i = skipSpace(body, i+1)
		case i < len(body) && body[i] == '}':
			return keys, true
		default:
			return nil, false
		}
	}
}

// SkipValue returns the index after the value at i (past a string, an
// object or an array; at the ',', '}' or ']' after anything else, white
// space included), or -1: brackets are counted and strings stepped over;
// the decoder checks the rest.
func SkipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
		if depth == 0 && (b[i] == '"' || b[i] == '}' || b[i] == ']') {
			return i + 1
		}
	}
	if depth == 0 {
		return i
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// checkKeysSlow is checkKeys by json.Decoder's tokens.
func checkKeysSlow(body []byte, known map[string]bool) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := make(map[string]bool, len(known))
	var skip json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		switch {
		case !known[key]:
			return fmt.Sprintf("unknown field %q", Clip(key))
		case seen[key]:
			return fmt.Sprintf("field %q is given twice", Clip(key))
		}
		seen[key] = true
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

var fieldCache sync.Map // reflect.Type -> fields

// fields describes the struct a DecodeJSON target points to.
type fields struct {
	names map[string]bool // json names of its fields
	// flat: no field holds a struct, so the exact top-level keys
	// checkKeys allows are all the fields there are, and json.Unmarshal
	// (which cannot refuse unknown fields) decodes it as strictly as a
	// json.Decoder with DisallowUnknownFields, without the Decoder's
	// buffers.
	flat bool
}

func fieldsOf(t reflect.Type) fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(fields)
	}
	f := fields{names: map[string]bool{}}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		f.flat = true
		for sf := range t.Elem().Fields() {
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" || !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f.names[name] = true
			f.flat = f.flat && !holdsStruct(sf.Type)
		}
	}
	fieldCache.Store(t, f)
	return f
}

// holdsStruct reports whether a value of t can hold a struct's fields.
func holdsStruct(t reflect.Type) bool {
	for {
		switch t.Kind() {
		case reflect.Struct, reflect.Interface:
			return true
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return false
		}
	}
}

// decode decodes body, one JSON object whose top-level keys checkKeys has
// allowed, into v, refusing unknown fields and trailing data.
func decode(body []byte, v any, flat bool) error {
	if flat {
		if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
			return io.EOF // as the Decoder says it
		}
		err := json.Unmarshal(body, v)
		if err == nil || !trailing(err, body) {
			return err
		}
		// Unmarshal checks the whole body before it decodes; the
		// Decoder path below decodes the first value first, and a wrong
		// type in it is the more useful answer.
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	return err
}

var errTrailing = errors.New("trailing data after the JSON object")

// trailing reports whether err, from json.Unmarshal, is a syntax error
// after a whole first value: trailing data, as the Decoder path calls it.
func trailing(err error, body []byte) bool {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return false
	}
	var skip json.RawMessage
	return json.NewDecoder(bytes.NewReader(body)).Decode(&skip) == nil
}

// bodyPool holds request body buffers: a body is read whole, decoded and
// dropped (the decoder copies what it keeps), so one buffer serves every
// request that fits.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func putBody(bp *[]byte) {
	// A rare large body is left to the collector, not kept alive.
	if cap(*bp) <= 64<<10 {
		bodyPool.Put(bp)
	}
}

// readAll is io.ReadAll into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 512)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
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
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			return append(dst, bytes.TrimSuffix(b.Bytes(), []byte{'\n'})...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
