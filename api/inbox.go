package api

import (
	"fmt"
	"net/http"
	"strconv"

	"rtchub/internal/httpx"
	"rtchub/store"
)

// InboxJSON is one message of GET /api/user/{user_id}/messages.
type InboxJSON struct {
	messageFields
	State string `json:"state"`
}

// Inbox paging: ?limit= by default and at most.
const (
	defaultInboxLimit = 100
	maxInboxLimit     = 1000
)

// inbox lists a user's messages: the pending ones, oldest first; with
// ?state=all also those acknowledged, recalled or replaced that are still
// kept; ?after=SEQ and ?limit=N page through them.
func (s *server) inbox(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "user_id", "user")
	if !ok {
		return
	}
	q := r.URL.Query()
	all := false
	switch st := q.Get("state"); {
	case !q.Has("state"):
	case st == "all":
		all = true
	case st == "pending":
	default:
		httpx.WriteError(w, http.StatusBadRequest, `state must be "pending" or "all"`)
		return
	}
	after, limit := uint64(0), defaultInboxLimit
	if q.Has("after") {
		v, err := strconv.ParseUint(q.Get("after"), 10, 64)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "after must be a seq: a whole number from 0")
			return
		}
		after = v
	}
	if q.Has("limit") {
		v, err := strconv.Atoi(q.Get("limit"))
		if err != nil || v < 1 || v > maxInboxLimit {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", maxInboxLimit))
			return
		}
		limit = v
	}
	list, ok := s.Store.Inbox(id, all, after, limit)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: "user", ID: id})
		return
	}
	out := make([]InboxJSON, len(list))
	for i, e := range list {
		out[i] = InboxJSON{toMessageFields(e.MessageInfo), e.State}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
