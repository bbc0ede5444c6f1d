package sse

import (
	"errors"
	"net/http"

	"rtchub/auth"
	"rtchub/internal/httpx"
	"rtchub/store"
)

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.userToken(w, r)
	if !ok {
		return
	}
	var req struct {
		MessageID string `json:"message_id"`
	}
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBody, &req) {
		return
	}
	if !httpx.CheckMessageID(w, req.MessageID) {
		return
	}
	if err := s.cfg.Store.Ack(r.Context(), req.MessageID, claims.Subject); err != nil {
		var nf *store.NotFoundError
		var nc *store.NoCopyError
		if errors.As(err, &nf) || errors.As(err, &nc) {
			// One answer for a message the user has no copy of and one
			// that does not exist: a device learns nothing of others'.
			httpx.WriteError(w, http.StatusNotFound, "unknown message: "+httpx.Clip(req.MessageID))
			return
		}
		httpx.FailStore(w, s.cfg.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userToken finds and checks the user token of a request. On failure it
// has answered: 400 when there is no token or it is not one, 401 when it
// is refused.
//
// The SSE listener's routes take the parameters they define and pass over
// any other (a polyfill's or a cache buster's), but one of theirs given
// twice is ambiguous, so it is refused (400) here, before anything else.
func (s *Server) userToken(w http.ResponseWriter, r *http.Request) (auth.Claims, bool) {
	q := r.URL.Query()
	for _, name := range [...]string{"token", "last_event_id"} {
		if len(q[name]) > 1 {
			httpx.WriteError(w, http.StatusBadRequest, "query parameter "+name+" is given more than once")
			return auth.Claims{}, false
		}
	}
	tok := q.Get("token")
	if tok == "" {
		tok = httpx.BearerToken(r)
	}
	if tok == "" {
		httpx.WriteError(w, http.StatusBadRequest, "missing token: pass ?token=<user token> or Authorization: Bearer <user token>")
		return auth.Claims{}, false
	}
	c, err := s.cfg.Signer.Verify(tok, auth.KindUser, s.cfg.Now())
	if err != nil {
		code, msg := httpx.TokenError(err)
		if errors.Is(err, auth.ErrWrongKind) {
			msg += ": use a user token from GET /api/user/{id}/token"
		}
		httpx.WriteError(w, code, msg)
		return c, false
	}
	if gen, exists := s.cfg.Store.UserGen(c.Subject); !exists || gen != c.Gen {
		httpx.WriteError(w, http.StatusUnauthorized, "token revoked or user deleted")
		return c, false
	}
	return c, true
}
