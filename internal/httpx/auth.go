package httpx

import (
	"errors"
	"net/http"
	"strings"

	"rtchub/auth"
)

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// TokenError says why a token was refused, and with which status: 400 for
// something that is not a token at all, 401 for one that is refused.
func TokenError(err error) (int, string) {
	switch {
	case errors.Is(err, auth.ErrMalformed):
		return http.StatusBadRequest, "malformed token"
	case errors.Is(err, auth.ErrExpired):
		return http.StatusUnauthorized, "token expired"
	case errors.Is(err, auth.ErrWrongKind):
		return http.StatusUnauthorized, "wrong kind of token"
	}
	return http.StatusUnauthorized, "invalid token signature"
}
