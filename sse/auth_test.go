package sse_test

// Who may open a stream or ack: refused tokens, and open streams ended by
// a revoke or a delete.

import (
	"context"
	"strconv"
	"testing"
	"time"

	"rtchub/auth"
	"rtchub/internal/testkit"
)

func TestTokenErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("gone")
	e.user("revoked")
	now := time.Now()
	gen, _ := e.st.UserGen("u1")
	oldRevoked := e.token("revoked")
	oldGone := e.token("gone")
	if err := e.st.RevokeUser(context.Background(), "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	e.user("gone") // created again: old tokens stay dead
	clientTok := e.signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: "u1", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	expired := e.signer.Sign(auth.Claims{Kind: auth.KindUser, Subject: "u1", Gen: gen, IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Second)})
	otherKey := testkit.NewSigner(t).Sign(auth.Claims{Kind: auth.KindUser, Subject: "u1", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	tests := []struct {
		name  string
		token string
		code  int
	}{
		{"missing", "", 400},
		{"malformed", "not-a-token", 400},
		{"malformed prefix", "rt1.abc", 400},
		{"wrong kind", clientTok, 401},
		{"expired", expired, 401},
		{"other key", otherKey, 401},
		{"revoked", oldRevoked, 401},
		{"deleted and re-created", oldGone, 401},
	}
	for _, tc := range tests {
		for _, via := range []string{"query", "header"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				path, hdr := "/sse", []string(nil)
				ackPath := "/ack"
				if tc.token != "" {
					if via == "query" {
						path += "?token=" + tc.token
						ackPath += "?token=" + tc.token
					} else {
						hdr = []string{"Authorization", "Bearer " + tc.token}
					}
				}
				r := e.do("GET", path, "", hdr...)
				if r.Status != tc.code {
					t.Fatalf("GET /sse: %d, want %d; %q", r.Status, tc.code, r.Body)
				}
				errorMsg(t, r)
				r = e.do("POST", ackPath, `{"message_id":"x"}`, hdr...)
				if r.Status != tc.code {
					t.Fatalf("POST /ack: %d, want %d; %q", r.Status, tc.code, r.Body)
				}
				errorMsg(t, r)
			})
		}
	}
	if e.hub.Open() != 0 {
		t.Errorf("refused requests left %d streams open", e.hub.Open())
	}
	// A fresh token of the revoked or re-created user works.
	for _, u := range []string{"revoked", "gone"} {
		s := e.open("/sse?token=" + e.token(u))
		if s.Status != 200 {
			t.Errorf("new token of %s: %d", u, s.Status)
		}
	}
}

func TestRevokeAndDeleteEndStreams(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("u2")
	e.user("u3")
	s1 := e.open("/sse?token=" + e.token("u1"))
	s1b := e.open("/sse?token=" + e.token("u1"))
	s2 := e.open("/sse?token=" + e.token("u2"))
	s3 := e.open("/sse?token=" + e.token("u3"))
	testkit.Eventually(t, "streams", func() bool { return e.hub.Open() == 4 })
	old := e.token("u1")
	if err := e.st.RevokeUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	s1.WaitEnd(t)
	s1b.WaitEnd(t)
	if r := e.do("GET", "/sse?token="+old, ""); r.Status != 401 {
		t.Errorf("reconnect with a revoked token: %d", r.Status)
	}
	if err := e.st.DeleteUser(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	s2.WaitEnd(t)
	// u3 is untouched and still live.
	rc := e.notify("message", `"still here"`, "u3")
	if evs := s3.WaitEvents(t, 1); evs[0].ID != strconv.FormatUint(rc.Seq, 10) {
		t.Errorf("u3 event %+v", evs)
	}
}
