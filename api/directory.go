package api

import (
	"context"
	"net/http"

	"rtchub/internal/httpx"
	"rtchub/store"
)

// Users and groups are served alike: a POST puts one with its members (a
// user's groups, a group's users), and the paths /api/user/{user_id} and
// /api/group/{group_id} name one to show, delete or revoke.

// putBody is the body of POST /api/user or POST /api/group.
type putBody interface {
	// parts returns the id, the name of the members' field and the
	// members.
	parts() (id, field string, members []string)
}

type userBody struct {
	ID     string   `json:"id"`
	Groups []string `json:"groups"`
}

func (b *userBody) parts() (string, string, []string) { return b.ID, "groups", b.Groups }

type groupBody struct {
	ID    string   `json:"id"`
	Users []string `json:"users"`
}

func (b *groupBody) parts() (string, string, []string) { return b.ID, "users", b.Users }

// put decodes body, checks its ids, puts it with do and answers 201 if it
// is new, else 200, with what view shows of it.
func put[T, V any](s *server, w http.ResponseWriter, r *http.Request, body putBody, do func(context.Context, string, []string) (T, bool, error), view func(T) V) {
	if !httpx.DecodeJSON(w, r, s.MaxBody, body) {
		return
	}
	id, field, members := body.parts()
	if !checkIDs(w, "id", id) || !checkIDs(w, field, members...) {
		return
	}
	v, created, err := do(r.Context(), id, members)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpx.WriteJSON(w, createdOr200(created), view(v))
}

// get answers what view shows of the kind ("user" or "group") named in
// the path, as lookup finds it, or 404.
func get[T, V any](s *server, w http.ResponseWriter, r *http.Request, kind string, lookup func(string) (T, bool), view func(T) V) {
	id, ok := pathID(w, r, kind+"_id", kind)
	if !ok {
		return
	}
	v, ok := lookup(id)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: kind, ID: id})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, view(v))
}

// noContent does do to the kind ("user" or "group") named in the path
// and answers 204.
func (s *server) noContent(w http.ResponseWriter, r *http.Request, kind string, do func(context.Context, string) error) {
	id, ok := pathID(w, r, kind+"_id", kind)
	if !ok {
		return
	}
	if err := do(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
