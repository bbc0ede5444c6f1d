package integration

import (
	"context"
	"net/url"
	"testing"
	"time"

	"rtchub/internal/admin"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestStreamEndsWithItsToken: a stream lives no longer than what opened
// it. It ends when its token expires (a user's /sse and an application's
// /api/events alike) and when its application client is removed, as a
// revocation ends a user's; opening it again is then a 401.
func TestStreamEndsWithItsToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir, func(c *server.Config) { c.Hub.Heartbeat = 300 * time.Millisecond })
	h.PutUser(t, "ann")

	t.Run("user token expires", func(t *testing.T) {
		t.Parallel()
		tok := h.UserToken(t, "ann", "?ttl=1")
		s := testkit.DialSSE(t, h.SSE, tok)
		s.WaitEOF(t, 10*time.Second)
		testkit.WantError(t, "/sse with the expired token", testkit.DialSSE(t, h.SSE, tok).Resp(), 401, "expired")
	})
	t.Run("access token expires", func(t *testing.T) {
		t.Parallel()
		// A hub of its own: its access tokens live 2 s.
		h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) {
			c.Hub.Heartbeat = 300 * time.Millisecond
			c.API.AccessTokenTTL = 2 * time.Second
		})
		s := testkit.Open(t, h.API+"/api/events?token="+url.QueryEscape(h.AccessToken(t)))
		if s.Status != 200 {
			t.Fatalf("GET /api/events: %v", s.Resp())
		}
		s.WaitEOF(t, 10*time.Second)
	})
	t.Run("client removed", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		c, err := admin.CreateClient(ctx, dir, "doomed")
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		h.Must(t, 200, "POST", "/api/auth/token", map[string]string{"client_id": c.ID, "client_secret": c.Secret}, &tok)
		s := testkit.Open(t, h.API+"/api/events?token="+url.QueryEscape(tok.AccessToken))
		if s.Status != 200 {
			t.Fatalf("GET /api/events: %v", s.Resp())
		}
		if err := admin.RemoveClient(ctx, dir, c.ID); err != nil {
			t.Fatal(err)
		}
		// Well before the token's own expiry (an hour).
		s.WaitEOF(t, time.Second)
		again := testkit.Open(t, h.API+"/api/events?token="+url.QueryEscape(tok.AccessToken))
		testkit.WantError(t, "/api/events of a removed client", again.Resp(), 401, "removed")
	})
}
