package api

import (
	"net/http"
	"time"

	"rtchub/auth"
	"rtchub/internal/httpx"
)

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if id, secret, basic := r.BasicAuth(); basic && r.ContentLength <= 0 {
		// client_secret_basic (RFC 6749 2.3.1): the credentials in the
		// header and no body.
		req.ClientID, req.ClientSecret = id, secret
	} else if !httpx.DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	c, gen, ok := s.Store.Client(req.ClientID)
	// CheckSecret runs the slow hash even for an unknown id, so the answer
	// takes as long either way.
	if !auth.CheckSecret(c.Hash, req.ClientSecret) || !ok {
		httpx.WriteError(w, http.StatusBadRequest, "Invalid client credentials")
		return
	}
	now := s.Now()
	tok := s.Signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: c.ID, Gen: gen, IssuedAt: now, ExpiresAt: now.Add(s.AccessTokenTTL)})
	httpx.WriteJSON(w, http.StatusOK, AccessTokenJSON{tok, "Bearer", int64(s.AccessTokenTTL / time.Second)})
}

// AccessTokenJSON is the answer of POST /api/auth/token. A struct, not a
// map: the fields go out in SPEC.md's order.
type AccessTokenJSON struct {
	AccessToken string `json:"access_token"`
	Type        string `json:"type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// authed requires a valid application token.
func (s *server) authed(next http.HandlerFunc) http.Handler {
	return s.checkToken(next, false)
}

// authedOrQuery is authed that also takes the token as ?token=, for event
// streams, which browsers' EventSource opens without headers.
func (s *server) authedOrQuery(next http.HandlerFunc) http.Handler {
	return s.checkToken(next, true)
}

func (s *server) checkToken(next http.HandlerFunc, query bool) http.Handler {
	// The closure is copied into every route that inlines this; the work
	// is in clientAllowed, once.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.clientAllowed(w, r, query) {
			next(w, r)
		}
	})
}

// clientAllowed reports whether r carries a client's credentials that
// checkToken takes; if not, it has answered 401.
func (s *server) clientAllowed(w http.ResponseWriter, r *http.Request, query bool) bool {
	msg := ""
	if id, secret, basic := r.BasicAuth(); basic {
		if _, ok := s.basic.check(s.Store, id, secret); !ok {
			msg = "Invalid client credentials"
		}
	} else if tok := s.requestToken(r, query); tok == "" {
		msg = "missing access token: send Authorization: Bearer <access_token>, or Basic with the client's id and secret"
	} else if c, err := s.Signer.Verify(tok, auth.KindClient, s.Now()); err != nil {
		// Every refusal here is a 401: the API has no other answer for a
		// bad credential.
		_, msg = httpx.TokenError(err)
	} else if _, gen, ok := s.Store.Client(c.Subject); !ok || gen != c.Gen {
		msg = "access token revoked: its client was removed"
	}
	if msg != "" {
		unauthorized(w, msg)
		return false
	}
	return true
}

// unauthorized answers 401 with msg and the challenge every /api/ 401
// carries.
func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="rtchub", Basic realm="rtchub"`)
	httpx.WriteError(w, http.StatusUnauthorized, msg)
}

// events serves GET /api/events (clientAllowed has taken r's credentials)
// to the client they name, until its token expires.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if id, _, basic := r.BasicAuth(); basic {
		_, gen, _ := s.Store.Client(id)
		s.Events.Serve(w, r, id, gen, time.Time{})
		return
	}
	c, err := s.Signer.Verify(s.requestToken(r, true), auth.KindClient, s.Now())
	if err != nil {
		// Expired since clientAllowed, a moment ago.
		_, msg := httpx.TokenError(err)
		unauthorized(w, msg)
		return
	}
	s.Events.Serve(w, r, c.Subject, c.Gen, c.ExpiresAt)
}

// requestToken is the access token of r: from Authorization: Bearer, or
// (query) from ?token=.
func (s *server) requestToken(r *http.Request, query bool) string {
	tok := httpx.BearerToken(r)
	if tok == "" && query {
		tok = r.URL.Query().Get("token")
	}
	return tok
}
