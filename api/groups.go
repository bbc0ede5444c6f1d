package api

import (
	"net/http"

	"rtchub/internal/httpx"
	"rtchub/store"
)

type groupJSON struct {
	ID    string   `json:"id"`
	Users []string `json:"users"`
}

func toGroupJSON(g store.GroupInfo) groupJSON {
	if g.Users == nil {
		g.Users = []string{}
	}
	return groupJSON{ID: g.ID, Users: g.Users}
}

func (s *server) listGroups(w http.ResponseWriter, r *http.Request) {
	type summary struct {
		ID      string `json:"id"`
		Members int    `json:"members"`
	}
	groups := s.Store.Groups()
	out := make([]summary, len(groups))
	for i, g := range groups {
		out[i] = summary{g.ID, g.Members}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) putGroup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID    string   `json:"id"`
		Users []string `json:"users"`
	}
	if !httpx.DecodeJSON(w, r, s.MaxBody, &req) || !checkIDs(w, "id", req.ID) || !checkIDs(w, "users", req.Users...) {
		return
	}
	g, created, err := s.Store.PutGroup(r.Context(), req.ID, req.Users)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpx.WriteJSON(w, createdOr200(created), toGroupJSON(g))
}

func (s *server) getGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "group_id", "group")
	if !ok {
		return
	}
	g, ok := s.Store.Group(id)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: "group", ID: id})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toGroupJSON(g))
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "group_id", "group")
	if !ok {
		return
	}
	if err := s.Store.DeleteGroup(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
