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
	put(s, w, r, &groupBody{}, s.Store.PutGroup, toGroupJSON)
}

func (s *server) getGroup(w http.ResponseWriter, r *http.Request) {
	get(s, w, r, "group", s.Store.Group, toGroupJSON)
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	s.noContent(w, r, "group", s.Store.DeleteGroup)
}
