// Package api serves rtchub's JSON API for local applications: token
// exchange, users, groups and messages, plus health and metrics.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/store"
)

// Config holds what the API needs. Zero limits take the defaults in brackets.
type Config struct {
	Store  *store.Store
	Hub    *hub.Hub
	Signer *auth.Signer
	Logger *slog.Logger

	MaxBody         int64         // request body limit [1 MiB]
	MaxMessage      int           // message payload limit, compact JSON [64 KiB]
	AccessTokenTTL  time.Duration // application tokens [1h]
	UserTokenTTL    time.Duration // user tokens by default [24h]
	MaxUserTokenTTL time.Duration // longest ?ttl= for user tokens [30 days]
	MessageTTL      time.Duration // message ttl by default [7 days]
	MaxMessageTTL   time.Duration // longest message ttl [30 days]
	Metrics         http.Handler  // served at /metrics if set
	Now             func() time.Time
}

func (c *Config) defaults() {
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 64 << 10
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = time.Hour
	}
	if c.UserTokenTTL <= 0 {
		c.UserTokenTTL = 24 * time.Hour
	}
	if c.MaxUserTokenTTL <= 0 {
		c.MaxUserTokenTTL = 30 * 24 * time.Hour
	}
	if c.MessageTTL <= 0 {
		c.MessageTTL = 7 * 24 * time.Hour
	}
	if c.MaxMessageTTL <= 0 {
		c.MaxMessageTTL = 30 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

type server struct {
	Config
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	cfg.defaults()
	s := &server{cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/token", s.token)
	mux.Handle("GET /api/user", s.authed(s.listUsers))
	mux.Handle("POST /api/user", s.authed(s.putUser))
	mux.Handle("GET /api/user/{user_id}", s.authed(s.getUser))
	mux.Handle("DELETE /api/user/{user_id}", s.authed(s.deleteUser))
	mux.Handle("GET /api/user/{user_id}/token", s.authed(s.userToken))
	mux.Handle("POST /api/user/{user_id}/revoke", s.authed(s.revokeUser))
	mux.Handle("GET /api/group", s.authed(s.listGroups))
	mux.Handle("POST /api/group", s.authed(s.putGroup))
	mux.Handle("GET /api/group/{group_id}", s.authed(s.getGroup))
	mux.Handle("DELETE /api/group/{group_id}", s.authed(s.deleteGroup))
	mux.Handle("POST /api/message/notify", s.authed(s.notify))
	mux.Handle("POST /api/message/acknowledge", s.authed(s.acknowledge))
	mux.Handle("GET /api/message/{message_id}", s.authed(s.getMessage))
	mux.Handle("GET /healthz", Health(cfg.Store))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	return Recover(cfg.Logger, postOnly(mux, "/api/message/notify", "/api/message/acknowledge"))
}

// postOnly answers 405 (Allow: POST) for any method but POST on paths, in
// front of next. Those paths also match GET /api/message/{message_id},
// which would look them up as message ids and answer 404 "unknown
// message: notify"; no message id collides with them (the hub makes 24
// hex digits).
func postOnly(next http.Handler, paths ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && slices.Contains(paths, r.URL.Path) {
			MethodNotAllowed(w, r, http.MethodPost)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Health answers 200 {"status":"ok"} while the store takes writes.
func Health(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Healthy(); err != nil {
			WriteError(w, http.StatusServiceUnavailable, "store is not writable: "+err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// ---- auth ----

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if !DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	c, gen, ok := s.Store.Client(req.ClientID)
	// CheckSecret runs the slow hash even for an unknown id, so the answer
	// takes as long either way.
	if !auth.CheckSecret(c.Hash, req.ClientSecret) || !ok {
		WriteError(w, http.StatusBadRequest, "Invalid client credentials")
		return
	}
	now := s.Now()
	tok := s.Signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: c.ID, Gen: gen, IssuedAt: now, ExpiresAt: now.Add(s.AccessTokenTTL)})
	// A struct, not a map: the fields go out in SPEC.md's order.
	WriteJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		Type        string `json:"type"`
		ExpiresIn   int64  `json:"expires_in"`
	}{tok, "Bearer", int64(s.AccessTokenTTL / time.Second)})
}

// authed requires a valid application token.
func (s *server) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := BearerToken(r)
		msg := ""
		if tok == "" {
			msg = "missing access token: send Authorization: Bearer <access_token>"
		} else if c, err := s.Signer.Verify(tok, auth.KindClient, s.Now()); err != nil {
			// Every refusal here is a 401: the API has no other answer
			// for a bad credential.
			_, msg = TokenError(err)
		} else if _, gen, ok := s.Store.Client(c.Subject); !ok || gen != c.Gen {
			msg = "access token revoked: its client was removed"
		}
		if msg != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rtchub"`)
			WriteError(w, http.StatusUnauthorized, msg)
			return
		}
		next(w, r)
	})
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

// ---- users ----

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
	if group != "" && !ValidID(group) {
		WriteError(w, http.StatusBadRequest, "invalid group id")
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
	WriteJSON(w, http.StatusOK, out)
}

func (s *server) putUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string   `json:"id"`
		Groups []string `json:"groups"`
	}
	if !DecodeJSON(w, r, s.MaxBody, &req) || !checkIDs(w, "id", req.ID) || !checkIDs(w, "groups", req.Groups...) {
		return
	}
	u, created, err := s.Store.PutUser(r.Context(), req.ID, req.Groups)
	if err != nil {
		s.fail(w, err)
		return
	}
	WriteJSON(w, createdOr200(created), s.userJSON(u))
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "user_id", "user")
	if !ok {
		return
	}
	u, ok := s.Store.User(id)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: "user", ID: id})
		return
	}
	WriteJSON(w, http.StatusOK, s.userJSON(u))
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "user_id", "user")
	if !ok {
		return
	}
	if err := s.Store.DeleteUser(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) revokeUser(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "user_id", "user")
	if !ok {
		return
	}
	if err := s.Store.RevokeUser(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("ttl must be a whole number of seconds from 1 to %d", int64(s.MaxUserTokenTTL/time.Second)))
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
	WriteJSON(w, http.StatusOK, struct {
		Token     string `json:"token"`
		Type      string `json:"type"`
		ExpiresIn int64  `json:"expires_in"`
	}{tok, "Bearer", int64(ttl / time.Second)})
}

// ---- groups ----

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
	WriteJSON(w, http.StatusOK, out)
}

func (s *server) putGroup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID    string   `json:"id"`
		Users []string `json:"users"`
	}
	if !DecodeJSON(w, r, s.MaxBody, &req) || !checkIDs(w, "id", req.ID) || !checkIDs(w, "users", req.Users...) {
		return
	}
	g, created, err := s.Store.PutGroup(r.Context(), req.ID, req.Users)
	if err != nil {
		s.fail(w, err)
		return
	}
	WriteJSON(w, createdOr200(created), toGroupJSON(g))
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
	WriteJSON(w, http.StatusOK, toGroupJSON(g))
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

// ---- messages ----

// NotifyRequest is the body of POST /api/message/notify. Ids and Payload are
// the spellings of earlier hubs for Users and Message.
type NotifyRequest struct {
	Users   []string        `json:"users"`
	Ids     []string        `json:"ids"`
	Groups  []string        `json:"groups"`
	Message json.RawMessage `json:"message"`
	Payload json.RawMessage `json:"payload"`
	Event   string          `json:"event"`
	TTL     *int64          `json:"ttl"`
}

// Validate checks a notify body against the limits and returns the
// notification to send, or a message for a 400.
func (req *NotifyRequest) Validate(maxMessage int, defTTL, maxTTL time.Duration) (store.Notification, string) {
	n := store.Notification{Users: append(req.Users, req.Ids...), Groups: req.Groups, Event: req.Event, TTL: defTTL}
	if len(n.Users) == 0 && len(n.Groups) == 0 {
		return n, "no recipients: give users or groups"
	}
	for _, id := range n.Users {
		if !ValidID(id) {
			return n, fmt.Sprintf("invalid user id %q: "+IDRule, Clip(id))
		}
	}
	for _, id := range n.Groups {
		if !ValidID(id) {
			return n, fmt.Sprintf("invalid group id %q: "+IDRule, Clip(id))
		}
	}
	body := req.Message
	switch {
	case body != nil && req.Payload != nil:
		return n, `give "message" or "payload", not both`
	case body == nil:
		body = req.Payload
	}
	if body == nil {
		return n, `"message" is required`
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return n, "message is not valid JSON"
	}
	if buf.Len() > maxMessage {
		return n, fmt.Sprintf("message is larger than %d bytes", maxMessage)
	}
	n.Body = buf.Bytes()
	if n.Event == "" {
		n.Event = "message"
	} else if !ValidEvent(n.Event) {
		return n, "invalid event name: use 1-64 letters, digits, '.', '_', '-', ':'"
	}
	if req.TTL != nil {
		if *req.TTL < 1 || *req.TTL > int64(maxTTL/time.Second) {
			return n, fmt.Sprintf("ttl must be from 1 to %d seconds", int64(maxTTL/time.Second))
		}
		n.TTL = time.Duration(*req.TTL) * time.Second
	}
	return n, ""
}

// ValidEvent reports whether s may be an SSE event name: it goes on an
// `event:` line, so no line breaks, and nothing a client would trip on.
func ValidEvent(s string) bool { return validName(s, 64, "._-:") }

func (s *server) notify(w http.ResponseWriter, r *http.Request) {
	var req NotifyRequest
	if !DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	n, msg := req.Validate(s.MaxMessage, s.MessageTTL, s.MaxMessageTTL)
	if msg != "" {
		WriteError(w, http.StatusBadRequest, msg)
		return
	}
	rc, err := s.Store.Notify(r.Context(), n)
	if err != nil {
		s.fail(w, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, struct {
		ID         string `json:"id"`
		Seq        uint64 `json:"seq"`
		Recipients int    `json:"recipients"`
	}{rc.ID, rc.Seq, rc.Recipients})
}

func (s *server) acknowledge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MessageID string `json:"message_id"`
		UserID    string `json:"user_id"`
	}
	if !DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	if !CheckMessageID(w, req.MessageID) {
		return
	}
	if !checkIDs(w, "user_id", req.UserID) {
		return
	}
	if err := s.Store.Ack(r.Context(), req.MessageID, req.UserID); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// MessageJSON is a message as GET /api/message/{id} shows it.
type MessageJSON struct {
	ID         string          `json:"id"`
	Seq        uint64          `json:"seq"`
	Event      string          `json:"event"`
	Message    json.RawMessage `json:"message"`
	CreatedAt  string          `json:"created_at"`
	ExpiresAt  string          `json:"expires_at"`
	Recipients []RecipientJSON `json:"recipients"`
}

// RecipientJSON is one user's copy.
type RecipientJSON struct {
	UserID       string `json:"user_id"`
	Delivered    bool   `json:"delivered"`
	Acknowledged bool   `json:"acknowledged"`
}

// TimeFormat is RFC 3339 with milliseconds, as every time in the API.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func (s *server) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("message_id")
	if !CheckMessageID(w, id) {
		return
	}
	m, ok := s.Store.Message(id)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: "message", ID: id})
		return
	}
	out := MessageJSON{
		ID: m.ID, Seq: m.Seq, Event: m.Event, Message: m.Body,
		CreatedAt: m.Created.Format(TimeFormat), ExpiresAt: m.Expires.Format(TimeFormat),
		Recipients: make([]RecipientJSON, len(m.Recipients)),
	}
	for i, rc := range m.Recipients {
		out.Recipients[i] = RecipientJSON{rc.User, rc.Delivered, rc.Acked}
	}
	WriteJSON(w, http.StatusOK, out)
}

// ---- helpers ----

// CheckMessageID answers 400 unless id may be a message id: 1 to 128
// bytes. The hub makes 24 hex digits, but a hand-written log may hold
// others, so nothing more is asked.
func CheckMessageID(w http.ResponseWriter, id string) bool {
	switch {
	case id == "":
		WriteError(w, http.StatusBadRequest, `"message_id" is required`)
		return false
	case len(id) > 128:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid message_id %q: use 1-128 characters", Clip(id)))
		return false
	}
	return true
}

// pathID returns the id in the path wildcard name, or answers 400 in the
// words of the body's checks (kind is "user" or "group") if it breaks the
// id rule: such an id names nothing, and a 404 would echo all of it.
func pathID(w http.ResponseWriter, r *http.Request, name, kind string) (string, bool) {
	id := r.PathValue(name)
	return id, checkIDs(w, kind+" id", id)
}

// checkIDs answers 400 if any id is malformed.
func checkIDs(w http.ResponseWriter, field string, ids ...string) bool {
	for _, id := range ids {
		if !ValidID(id) {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s %q: "+IDRule, field, Clip(id)))
			return false
		}
	}
	return true
}

func createdOr200(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// fail maps a store error to a response.
func (s *server) fail(w http.ResponseWriter, err error) {
	FailStore(w, s.Logger, err)
}

// FailStore answers for an error from the store: 404 for unknown names,
// 400 for an empty recipient set, 503 while shutting down, else 500.
func FailStore(w http.ResponseWriter, log *slog.Logger, err error) {
	var nf *store.NotFoundError
	var nc *store.NoCopyError
	switch {
	case errors.As(err, &nf):
		// NotFoundError's own text, with the id clipped.
		WriteError(w, http.StatusNotFound, "unknown "+nf.Kind+": "+Clip(nf.ID))
	case errors.As(err, &nc):
		WriteError(w, http.StatusNotFound, fmt.Sprintf("user %s has no copy of message %s", Clip(nc.User), Clip(nc.Message)))
	case errors.Is(err, store.ErrNoRecipients):
		WriteError(w, http.StatusBadRequest, "no recipients: the groups named have no members")
	case errors.Is(err, store.ErrClosed):
		WriteError(w, http.StatusServiceUnavailable, "the hub is shutting down")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		WriteError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		log.Error("store write failed", "err", err)
		WriteError(w, http.StatusInternalServerError, "could not write to the log; the change may not have been saved")
	}
}
