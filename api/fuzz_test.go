package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rtchub/api"
)

// strictDecode is the reference for DecodeJSON: exactly one JSON value that
// fills v without unknown fields, then only JSON whitespace.
func strictDecode(b []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	rest := b[dec.InputOffset():]
	return len(bytes.TrimLeft(rest, " \t\r\n")) == 0
}

func checkErrorBody(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
	}
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"] == "" || len(m) != 1 {
		t.Fatalf("status %d with body %q: not {\"error\":...}", rec.Code, rec.Body.Bytes())
	}
}

const fuzzMaxBody = 2048

var notifySeeds = []string{
	`{"users":["u1"],"message":{"text":"hi"}}`,
	`{"users":["u1","u2"],"groups":["g1"],"message":[1,2,3],"event":"chat.new","ttl":60}`,
	`{"ids":["u1"],"payload":"legacy"}`,
	`{"groups":["g1"],"message":null}`,
	`{"groups":["empty"],"message":1}`,
	`{"users":["ghost"],"message":1}`,
	`{"users":["u1"],"message":1,"payload":2}`,
	`{"users":["u1"],"message":1,"ttl":0}`,
	`{"users":["u1"],"message":1,"ttl":1.5}`,
	`{"users":["u1"],"message":1,"event":"a\nb"}`,
	`{"users":["u1"],"message":"\u2028\n\r\"","extra":true}`,
	`{"users":["u1"],"message":1} trailing`,
	`{"USERS":["u1"],"Message":1}`,
	`{"users":["u1"],"message":"` + strings.Repeat("x", 300) + `"}`,
	`[]`, ``, `{`, `null`,
}

// FuzzNotifyBody feeds arbitrary bodies to the real notify handler: it
// never answers 5xx or panics, answers 202 only for bodies that decode
// strictly and pass Validate, and answers JSON errors otherwise.
func FuzzNotifyBody(f *testing.F) {
	e := newEnv(f, func(c *api.Config) { c.MaxBody = fuzzMaxBody; c.MaxMessage = 256 })
	ctx := context.Background()
	for _, u := range []string{"u1", "u2", "u3"} {
		if _, _, err := e.st.PutUser(ctx, u, nil); err != nil {
			f.Fatal(err)
		}
	}
	e.st.PutGroup(ctx, "g1", []string{"u2", "u3"})
	e.st.PutGroup(ctx, "empty", nil)
	handler := api.New(e.cfg)
	for _, s := range notifySeeds {
		f.Add([]byte(s))
	}
	known := map[string]bool{"u1": true, "u2": true, "u3": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/message/notify", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		var nr api.NotifyRequest
		decoded := strictDecode(body, &nr)
		var n struct{ Users, Groups []string }
		var verr string = "not decoded"
		if decoded {
			nn, msg := nr.Validate(256, 7*24*time.Hour, 30*24*time.Hour)
			n.Users, n.Groups, verr = nn.Users, nn.Groups, msg
		}
		switch rec.Code {
		case http.StatusAccepted:
			if len(body) > fuzzMaxBody || !decoded || verr != "" {
				t.Fatalf("202 for a body the rules refuse (decoded=%v, Validate=%q): %q", decoded, verr, body)
			}
			var rc struct {
				ID         string `json:"id"`
				Seq        uint64 `json:"seq"`
				Recipients int    `json:"recipients"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &rc); err != nil || rc.ID == "" || rc.Seq == 0 || rc.Recipients < 1 || rc.Recipients > 3 {
				t.Fatalf("202 body %q", rec.Body.Bytes())
			}
			return
		case http.StatusRequestEntityTooLarge:
			if len(body) <= fuzzMaxBody {
				t.Fatalf("413 for a %d-byte body (limit %d)", len(body), fuzzMaxBody)
			}
		case http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("unexpected status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		checkErrorBody(t, rec)

		// The converse: a small body that decodes, validates and names only
		// known users, with at least one of them, must be accepted.
		if len(body) <= fuzzMaxBody && decoded && verr == "" {
			ok, someone := true, false
			for _, u := range n.Users {
				ok = ok && known[u]
				someone = true
			}
			for _, g := range n.Groups {
				ok = ok && (g == "g1" || g == "empty")
				someone = someone || g == "g1"
			}
			if ok && someone {
				t.Fatalf("status %d for a valid notify %q: %s", rec.Code, body, rec.Body.Bytes())
			}
		}
	})
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

// FuzzDecodeJSON checks DecodeJSON against strictDecode: it accepts exactly
// the bodies a strict decoder accepts, answers 413 only past the limit and
// a JSON 400 otherwise, and never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","n":1,"f":1.5,"b":true,"list":["a"],"map":{"k":1},"raw":{"any":[null]},"ptr":null,"inner":{"X":255}}`,
		`{"inner":{"X":256}}`, `{"inner":{"Y":1}}`, `{"n":1e3}`, `{"n":"1"}`, `{}`, ` {} `, `{}{}`, `{} x`,
		`[]`, `null`, `"s"`, ``, `{`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"NAME":"case"}`,
		`{"list":[1]}`, `{"map":{"k":"v"}}`, strings.Repeat(`[`, 200),
	} {
		f.Add([]byte(s))
	}
	const max = 1024
	f.Fuzz(func(t *testing.T, body []byte) {
		var got decodeTarget
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		ok := api.DecodeJSON(rec, req, max, &got)

		var want decodeTarget
		wantOK := len(body) <= max && strictDecode(body, &want)
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
		checkErrorBody(t, rec)
	})
}
