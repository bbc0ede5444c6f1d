// Package testkit is what rtchub's tests share: a real hub started through
// internal/server on loopback ports, an HTTP client with JSON checks, a
// WHATWG-conformant event-stream parser and a small EventSource built on
// it, and polling helpers. Nothing here is part of the hub.
package testkit

import (
	"crypto/rand"
	"testing"
	"time"

	"rtchub/auth"
)

// Guard is how long any single wait of a test may take before it fails. It
// is a failure guard, not a performance assertion: bcrypt under -race on a
// shared machine is slow.
const Guard = 10 * time.Second

// Eventually polls cond until it holds, failing the test after Guard.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	EventuallyWithin(tb, Guard, what, cond)
}

// EventuallyWithin polls cond until it holds, failing the test after
// timeout: for a test that wants it sooner than Guard.
func EventuallyWithin(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not so after %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewSigner returns a token signer with a fresh random key.
func NewSigner(tb testing.TB) *auth.Signer {
	tb.Helper()
	key := make([]byte, auth.KeySize)
	rand.Read(key)
	s, err := auth.NewSigner(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// UserToken signs a user token for user at generation gen, valid for ttl.
func UserToken(s *auth.Signer, user string, gen uint64, ttl time.Duration) string {
	now := time.Now()
	return s.Sign(auth.Claims{Kind: auth.KindUser, Subject: user, Gen: gen, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(ttl)})
}

// ClientToken signs an application access token for client at gen.
func ClientToken(s *auth.Signer, client string, gen uint64, ttl time.Duration) string {
	now := time.Now()
	return s.Sign(auth.Claims{Kind: auth.KindClient, Subject: client, Gen: gen, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(ttl)})
}
