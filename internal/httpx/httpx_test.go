package httpx_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rtchub/internal/httpx"
	"rtchub/internal/testkit"
)

func TestRecover(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("partial"))
		panic("after the header")
	})
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { httpx.WriteJSON(w, 200, map[string]int{"n": 1}) })
	srv := httptest.NewServer(httpx.Recover(slog.New(slog.DiscardHandler), mux))
	t.Cleanup(srv.Close)
	get := func(path string) (testkit.Resp, error) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			return testkit.Resp{}, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return testkit.Resp{Status: res.StatusCode, Header: res.Header, Body: b}, err
	}

	r, err := get("/boom")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 500 {
		t.Fatalf("panic: status %d, want 500; body %q", r.Status, r.Body)
	}
	if msg := testkit.WantError(t, "/boom", r, 500, ""); strings.Contains(msg, "kaboom") || strings.Contains(string(r.Body), "goroutine") {
		t.Errorf("500 body leaks the panic: %q", r.Body)
	}

	// After the header is out the status stays; the server keeps serving.
	if r, _ := get("/late"); r.Status != http.StatusTeapot {
		t.Errorf("/late: status %d", r.Status)
	}
	if _, err := get("/abort"); err == nil {
		t.Errorf("ErrAbortHandler: the response completed, want an aborted connection")
	}
	if r, err := get("/ok"); err != nil || r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"n":1}` {
		t.Errorf("/ok after panics: %v %d %q", err, r.Status, r.Body)
	}
	if r, _ := get("/missing"); r.Status != 404 || !strings.Contains(testkit.WantError(t, "/missing", r, 404, ""), "no such route") {
		t.Errorf("/missing: %d %q", r.Status, r.Body)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/ok", nil)
	if r := testkit.Do(t, req); r.Status != 405 || r.Header.Get("Allow") == "" {
		t.Errorf("POST /ok: %d Allow=%q %q", r.Status, r.Header.Get("Allow"), r.Body)
	} else {
		testkit.WantError(t, "POST /ok", r, 405, "")
	}
}

type decodeTarget struct {
	Name  string            `json:"name"`
	N     int64             `json:"n"`
	F     float64           `json:"f"`
	B     bool              `json:"b"`
	List  []string          `json:"list"`
	Map   map[string]int    `json:"map"`
	Raw   json.RawMessage   `json:"raw"`
	Ptr   *int              `json:"ptr"`
	Inner struct{ X uint8 } `json:"inner"`
}

// flatTarget holds no struct: DecodeJSON decodes it with json.Unmarshal,
// decodeTarget with a json.Decoder; both must be as strict.
type flatTarget struct {
	Name string          `json:"name"`
	N    int64           `json:"n"`
	List []string        `json:"list"`
	Map  map[string]int  `json:"map"`
	Raw  json.RawMessage `json:"raw"`
	Ptr  *int            `json:"ptr"`
}

var decodeSeeds = []string{
	`{"name":"x","n":1,"f":1.5,"b":true,"list":["a"],"map":{"k":1},"raw":{"any":[null]},"ptr":null,"inner":{"X":255}}`,
	`{"name":"x","n":1,"list":["a"],"map":{"k":1},"raw":{"any":[null]},"ptr":3}`,
	`{"inner":{"X":256}}`, `{"inner":{"Y":1}}`, `{"n":1e3}`, `{"n":"1"}`, `{}`, ` {} `, `{}{}`, `{} x`, `{"n":1}]`,
	`[]`, `null`, `"s"`, ``, ` `, `{`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"NAME":"case"}`, `{"n\u0061me":"esc"}`,
	`{"list":[1]}`, `{"map":{"k":"v"}}`, `{"name":"a","name":"b"}`, `{"raw":{"a":1,"a":2}}`, strings.Repeat(`[`, 200),
}

// FuzzDecodeJSON checks DecodeJSON against strictDecode: it accepts exactly
// the bodies a strict decoder accepts, answers 413 only past the limit and
// a JSON 400 otherwise, and never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecode[decodeTarget](t, body) })
}

// FuzzDecodeJSONFlat is FuzzDecodeJSON on the json.Unmarshal path.
func FuzzDecodeJSONFlat(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecode[flatTarget](t, body) })
}

func checkDecode[T any](t *testing.T, body []byte) {
	const max = 1024
	var got T
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	ok := httpx.DecodeJSON(rec, req, max, &got)

	var want T
	wantOK := len(body) <= max && testkit.StrictJSON(body, &want)
	if ok != wantOK {
		t.Fatalf("DecodeJSON = %v, strict decoder = %v for %q (status %d %s)", ok, wantOK, body, rec.Code, rec.Body.Bytes())
	}
	if ok {
		if rec.Code != 200 || rec.Body.Len() != 0 {
			t.Fatalf("DecodeJSON succeeded but wrote a response: %d %q", rec.Code, rec.Body.Bytes())
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("decoded %s, strict decoder %s", a, b)
		}
		return
	}
	switch rec.Code {
	case http.StatusBadRequest:
	case http.StatusRequestEntityTooLarge:
		if len(body) <= max {
			t.Fatalf("413 for %d bytes", len(body))
		}
	default:
		t.Fatalf("status %d for %q", rec.Code, body)
	}
	testkit.WantErrorRecorder(t, rec)
}

// TestDecodeJSONSameAnswers: the two decoding paths give the same status
// and error for the same body, so a field's type never changes what a
// client is told.
func TestDecodeJSONSameAnswers(t *testing.T) {
	for _, body := range append(decodeSeeds, `{"n":"x"}`, `{"list":"x"}`, `{"colour":1}`, `{"name":"a"} {"name":"b"}`, `{"name":"a",}`,
		`{"n":"x"} x`, `{"n":"x"}}`, `{"list":"x"},`, `{"n":1.5}]`, `{"n":1} x`) {
		t.Run(body, func(t *testing.T) {
			answer := func(v any) string {
				rec := httptest.NewRecorder()
				httpx.DecodeJSON(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)), 1024, v)
				return fmt.Sprintf("%d %s", rec.Code, rec.Body.Bytes())
			}
			// The fields both targets have, and nothing else in the body.
			if strings.Contains(body, "inner") || strings.Contains(body, `"f"`) || strings.Contains(body, `"b"`) {
				t.Skip("uses a field only decodeTarget has")
			}
			if a, b := answer(&decodeTarget{}), answer(&flatTarget{}); a != b {
				t.Errorf("Decoder path %s\nUnmarshal path %s", a, b)
			}
		})
	}
}
