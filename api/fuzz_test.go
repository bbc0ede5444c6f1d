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
	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

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
	`{"users":["u1"],"message":1,"key":"battery"}`,
	`{"users":["u1"],"message":1,"key":"a b"}`,
	`{"users":["u1"],"message":1,"key":""}`,
	`{"users":["u1"],"message":1,"event":"rtchub.ack"}`,
	`{"users":["u1"],"message":"` + strings.Repeat("x", 300) + `"}`,
	`[]`, ``, `{`, `null`,
}

// FuzzNotifyBody feeds arbitrary bodies to the real notify handler: it
// never answers 5xx or panics, answers 202 only for bodies that decode
// strictly and pass Validate, and answers JSON errors otherwise.
func FuzzNotifyBody(f *testing.F) {
	e := newEnv(f, func(c *server.Config) { c.MaxBody = fuzzMaxBody; c.API.MaxMessage = 256 })
	ctx := context.Background()
	for _, u := range []string{"u1", "u2", "u3"} {
		if _, _, err := e.st.PutUser(ctx, u, nil); err != nil {
			f.Fatal(err)
		}
	}
	e.st.PutGroup(ctx, "g1", []string{"u2", "u3"})
	e.st.PutGroup(ctx, "empty", nil)
	handler := e.h.Server.APIHandler()
	for _, s := range notifySeeds {
		f.Add([]byte(s))
	}
	known := map[string]bool{"u1": true, "u2": true, "u3": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "http://127.0.0.1/api/message/notify", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		var nr api.NotifyRequest
		decoded := testkit.StrictJSON(body, &nr)
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
		testkit.WantErrorRecorder(t, rec)

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
