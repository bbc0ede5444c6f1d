package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"rtchub/auth"
	"rtchub/internal/testkit"
)

// basicReq is one request with Authorization: Basic.
func basicReq(t testing.TB, method, url, id, secret string, body string) testkit.Resp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.ContentLength = 0
	}
	req.SetBasicAuth(id, secret)
	return testkit.Do(t, req)
}

// TestBasicAuth: `curl -u ID:SECRET` works on every /api/ route, as the
// client's credentials; a wrong secret, a changed secret and a removed
// client are refused; the token endpoint takes them too
// (client_secret_basic).
func TestBasicAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir)
	h.PutUser(t, "alice")
	id, secret := testkit.ClientID, testkit.ClientSecret
	for range 2 { // the second from the cache
		r := basicReq(t, "POST", h.API+"/api/message/notify", id, secret, `{"users":["alice"],"message":"hi"}`)
		if r.Status != 202 {
			t.Fatalf("notify with Basic: %v", r)
		}
	}
	if r := basicReq(t, "GET", h.API+"/api/user/alice", id, secret, ""); r.Status != 200 {
		t.Errorf("GET with Basic: %v", r)
	}
	r := basicReq(t, "GET", h.API+"/api/user", id, secret+"x", "")
	testkit.WantError(t, "a wrong secret", r, 401, "Invalid client credentials")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	testkit.WantError(t, "an unknown client", basicReq(t, "GET", h.API+"/api/user", "nobody", secret, ""), 401, "")

	// client_secret_basic at the token endpoint.
	r = basicReq(t, "POST", h.API+"/api/auth/token", id, secret, "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if testkit.MustJSON(t, r.Body, &tok); r.Status != 200 || tok.AccessToken == "" {
		t.Errorf("token with Basic: %v", r)
	}

	// A new secret for the client ends the old one at once, and removing
	// the client ends the new one: the cache outlives neither.
	hash, err := auth.HashSecret("a-new-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Server.Store().PutClient(context.Background(), id, id, hash); err != nil {
		t.Fatal(err)
	}
	testkit.WantError(t, "the old secret after a change", basicReq(t, "GET", h.API+"/api/user", id, secret, ""), 401, "")
	if r := basicReq(t, "GET", h.API+"/api/user", id, "a-new-secret-0123456789", ""); r.Status != 200 {
		t.Errorf("the new secret: %v", r)
	}
	if err := h.Server.Store().RemoveClient(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	testkit.WantError(t, "a removed client", basicReq(t, "GET", h.API+"/api/user", id, "a-new-secret-0123456789", ""), 401, "")
}
