package integration

// A hub started with a list of --cors-origins and a short
// --access-token-ttl.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestCORSListAndTokenTTL checks --cors-origins with a list of origins and
// --access-token-ttl.
func TestCORSListAndTokenTTL(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) {
		c.SSE.CORSOrigins, c.API.AccessTokenTTL = []string{"https://a.example", "https://b.example"}, time.Second
	})

	t.Run("cors-origins", func(t *testing.T) {
		for _, tc := range []struct{ origin, want string }{
			{"https://a.example", "https://a.example"},
			{"https://b.example", "https://b.example"},
			{"https://evil.example", ""},
			{"", ""},
		} {
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			// No token needed: the headers are on every answer of the SSE
			// listener, the router's own 404s and 405s included, so a
			// page can read every error body.
			for _, c := range []struct {
				method, path string
				body         any
				status       int
			}{
				{"OPTIONS", "/sse", nil, 204},
				{"GET", "/sse", nil, 400},
				{"POST", "/ack", `{"message_id":"x"}`, 400},
				{"POST", "/sse", nil, 405},
				{"GET", "/ack", nil, 405},
				{"GET", "/sse/", nil, 404},
				{"GET", "/nope", nil, 404},
				{"GET", "/healthz", nil, 200},
			} {
				r := testkit.Request(t, c.method, h.SSE+c.path, c.body, hdr)
				what := fmt.Sprintf("Origin %q: %s %s", tc.origin, c.method, c.path)
				if r.Status != c.status {
					t.Errorf("%s: %v, want status %d", what, r, c.status)
				}
				if got := r.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, tc.want)
				}
				// The answer depends on the origin, whatever it was.
				if v := r.Header.Values("Vary"); len(v) != 1 || v[0] != "Origin" {
					t.Errorf("%s: Vary %q, want one Origin", what, v)
				}
			}
		}
	})

	t.Run("access-token-ttl", func(t *testing.T) {
		r := testkit.Request(t, "POST", h.API+"/api/auth/token", map[string]string{"client_id": testkit.ClientID, "client_secret": testkit.ClientSecret}, nil)
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		testkit.MustJSON(t, r.Body, &out)
		if r.Status != 200 || out.ExpiresIn != 1 {
			t.Fatalf("token exchange with --access-token-ttl 1s: %v, want expires_in 1", r)
		}
		time.Sleep(2100 * time.Millisecond) // expiry is rounded up to a whole second
		r = testkit.Request(t, "GET", h.API+"/api/user", nil, testkit.Bearer(out.AccessToken))
		testkit.WantError(t, "expired access token", r, 401, "")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("expired access token: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
	})
}

// checkSSEPreflight: the SSE routes answer a browser's CORS preflight for
// a stream with a token and Last-Event-ID, and for an ack.
func checkSSEPreflight(t *testing.T, h *testkit.Hub) {
	for _, path := range []string{"/sse", "/ack"} {
		r := testkit.Request(t, "OPTIONS", h.SSE+path, nil, map[string]string{
			"Origin":                         "https://app.example",
			"Access-Control-Request-Method":  "GET",
			"Access-Control-Request-Headers": "authorization, last-event-id",
		})
		if r.Status != 204 && r.Status != 200 {
			t.Errorf("OPTIONS %s: %v, want 204 or 200", path, r)
		}
		if v := r.Header.Get("Access-Control-Allow-Origin"); v != "*" {
			t.Errorf("OPTIONS %s: Access-Control-Allow-Origin %q, want *", path, v)
		}
		if v := strings.ToLower(r.Header.Get("Access-Control-Allow-Methods")); !strings.Contains(v, "get") || !strings.Contains(v, "post") {
			t.Errorf("OPTIONS %s: Access-Control-Allow-Methods %q", path, v)
		}
		ah := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"authorization", "last-event-id"} {
			if !strings.Contains(ah, want) {
				t.Errorf("OPTIONS %s: Access-Control-Allow-Headers %q lacks %s", path, ah, want)
			}
		}
	}
}
