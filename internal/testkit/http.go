package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// HTTPClient is the tests' client: no redirects followed (a redirect is
// something to see, not to follow), and a timeout as a failure guard.
var HTTPClient = &http.Client{
	Timeout:       4 * Guard,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Resp is a finished HTTP exchange.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Resp) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// Request does one HTTP request. body is nil, a string or []byte (sent as
// is), or anything else (sent as JSON); a header value "" deletes that
// header.
func Request(tb testing.TB, method, url string, body any, hdr map[string]string) Resp {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("marshal request body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return Do(tb, req)
}

// Do sends req with HTTPClient and reads the whole answer.
func Do(tb testing.TB, req *http.Request) Resp {
	tb.Helper()
	res, err := HTTPClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return Resp{res.StatusCode, res.Header, b}
}

// Bearer is an Authorization header with tok.
func Bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// MustJSON decodes b into out or fails the test.
func MustJSON(tb testing.TB, b []byte, out any) {
	tb.Helper()
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("response is not the JSON expected: %v\nbody: %s", err, b)
	}
}

// JSONEq reports whether two JSON texts are the same value.
func JSONEq(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// WantJSON fails unless r has status and a JSON body equal to want (a JSON
// text).
func WantJSON(tb testing.TB, what string, r Resp, status int, want string) {
	tb.Helper()
	if r.Status != status || !JSONEq(r.Body, []byte(want)) {
		tb.Errorf("%s: got %v\nwant %d %s", what, r, status, want)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// WantError fails unless r is status with a JSON body {"error": "<non-empty
// string>"} and nothing else; if contains is not empty, the message must
// contain it. It returns the message.
func WantError(tb testing.TB, what string, r Resp, status int, contains string) string {
	tb.Helper()
	if r.Status != status {
		tb.Errorf("%s: got %v, want status %d", what, r, status)
		return ""
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s: Content-Type %q, want application/json (body %s)", what, ct, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Errorf("%s: error body is not JSON: %s", what, r.Body)
		return ""
	}
	msg, ok := m["error"].(string)
	if len(m) != 1 || !ok || msg == "" {
		tb.Errorf(`%s: error body %s, want exactly {"error": "<message>"}`, what, r.Body)
		return ""
	}
	if contains != "" && !strings.Contains(msg, contains) {
		tb.Errorf("%s: error %q does not mention %q", what, msg, contains)
	}
	return msg
}

// StrictJSON is the reference for a strict body decoder, built another way
// than the hub's: valid UTF-8, one JSON object and then only white space,
// each top-level key spelled exactly as a json tag of v's struct and given
// once; each value is decoded into its field by itself (nested unknown
// fields refused). v is filled as the hub's decoder should fill it.
func StrictJSON(b []byte, v any) bool {
	if !utf8.Valid(b) {
		return false
	}
	var obj []struct {
		key string
		val json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		obj = append(obj, struct {
			key string
			val json.RawMessage
		}{t.(string), raw})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return false
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) != 0 {
		return false
	}
	rv := reflect.ValueOf(v).Elem()
	seen := map[string]bool{}
	for _, kv := range obj {
		if seen[kv.key] {
			return false
		}
		seen[kv.key] = true
		f, ok := fieldByTag(rv, kv.key)
		if !ok {
			return false
		}
		fd := json.NewDecoder(bytes.NewReader(kv.val))
		fd.DisallowUnknownFields()
		if fd.Decode(f.Addr().Interface()) != nil {
			return false
		}
	}
	return true
}

// fieldByTag is the field of struct rv whose json name is exactly name.
func fieldByTag(rv reflect.Value, name string) (reflect.Value, bool) {
	for i := range rv.NumField() {
		tag, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
		if tag == name {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// WantErrorRecorder fails unless rec holds a JSON error body.
func WantErrorRecorder(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	WantError(tb, "recorded answer", Resp{rec.Code, rec.Header(), rec.Body.Bytes()}, rec.Code, "")
}
