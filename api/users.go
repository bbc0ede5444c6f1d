package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"rtchub/auth"
	"rtchub/internal/httpx"
	"rtchub/store"
)

type userJSON struct {
	ID      string   `json:"id"`
	Groups  []string `json:"groups"`
	Online  int      `json:"online"`
	Pending int      `json:"pending"`
}

func (s *server) userJSON(u store.UserInfo) userJSON {
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return userJSON{ID: u.ID, Groups: u.Groups, Online: s.Hub.Online(u.ID), Pending: u.Pending}
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	group := r.URL.Query().Get("group")
	if group != "" && !auth.ValidID(group) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid group id")
		return
	}
	users, err := s.Store.Users(group)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = s.userJSON(u)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) putUser(w http.ResponseWriter, r *http.Request) {
	put(s, w, r, &userBody{}, s.Store.PutUser, s.userJSON)
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	get(s, w, r, "user", s.Store.User, s.userJSON)
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) {
	s.noContent(w, r, "user", s.Store.DeleteUser)
}

func (s *server) revokeUser(w http.ResponseWriter, r *http.Request) {
	s.noContent(w, r, "user", s.Store.RevokeUser)
}

func (s *server) userToken(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "user_id", "user")
	if !ok {
		return
	}
	ttl := s.UserTokenTTL
	if v := r.URL.Query().Get("ttl"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 1 || sec > int64(s.MaxUserTokenTTL/time.Second) {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("ttl must be a whole number of seconds from 1 to %d", int64(s.MaxUserTokenTTL/time.Second)))
			return
		}
		ttl = time.Duration(sec) * time.Second
	}
	gen, exists := s.Store.UserGen(id)
	if !exists {
		s.fail(w, &store.NotFoundError{Kind: "user", ID: id})
		return
	}
	now := s.Now()
	tok := s.Signer.Sign(auth.Claims{Kind: auth.KindUser, Subject: id, Gen: gen, IssuedAt: now, ExpiresAt: now.Add(ttl)})
	httpx.WriteJSON(w, http.StatusOK, UserTokenJSON{tok, "Bearer", int64(ttl / time.Second)})
}

// UserTokenJSON is the answer of GET /api/user/{user_id}/token.
type UserTokenJSON struct {
	Token     string `json:"token"`
	Type      string `json:"type"`
	ExpiresIn int64  `json:"expires_in"`
}
