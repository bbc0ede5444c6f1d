// Package api serves rtchub's JSON API for local applications: token
// exchange, users, groups and messages, plus health and metrics.
package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// Options are the API's limits. Zero values take those of DefaultOptions.
type Options struct {
	MaxBody         int64         // request body limit
	MaxMessage      int           // message payload limit, compact JSON
	AccessTokenTTL  time.Duration // application tokens
	UserTokenTTL    time.Duration // user tokens by default
	MaxUserTokenTTL time.Duration // longest ?ttl= for user tokens
	MessageTTL      time.Duration // message ttl by default
	MaxMessageTTL   time.Duration // longest message ttl
}

// DefaultOptions are the documented defaults.
func DefaultOptions() Options {
	return Options{
		MaxBody:         httpx.DefaultMaxBody,
		MaxMessage:      64 << 10,
		AccessTokenTTL:  time.Hour,
		UserTokenTTL:    24 * time.Hour,
		MaxUserTokenTTL: 30 * 24 * time.Hour,
		MessageTTL:      7 * 24 * time.Hour,
		MaxMessageTTL:   30 * 24 * time.Hour,
	}
}

// Config holds what the API needs.
type Config struct {
	Options
	Store   *store.Store
	Hub     *hub.Hub
	Signer  *auth.Signer
	Logger  *slog.Logger
	Metrics http.Handler // served at /metrics if set
	Events  *Events      // served at /api/events if set
	Now     func() time.Time
}

func (c *Config) defaults() {
	d := DefaultOptions()
	setIfZero(&c.MaxBody, d.MaxBody)
	setIfZero(&c.MaxMessage, d.MaxMessage)
	setIfZero(&c.AccessTokenTTL, d.AccessTokenTTL)
	setIfZero(&c.UserTokenTTL, d.UserTokenTTL)
	setIfZero(&c.MaxUserTokenTTL, d.MaxUserTokenTTL)
	setIfZero(&c.MessageTTL, d.MessageTTL)
	setIfZero(&c.MaxMessageTTL, d.MaxMessageTTL)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func setIfZero[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
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
	mux.Handle("DELETE /api/message/{message_id}", s.authed(s.recall))
	mux.Handle("GET /api/user/{user_id}/messages", s.authed(s.inbox))
	if cfg.Events != nil {
		mux.Handle("GET /api/events", s.authedOrQuery(cfg.Events.ServeHTTP))
	}
	mux.Handle("GET /healthz", httpx.Health(cfg.Store))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	return httpx.Recover(cfg.Logger, postOnly(mux, "/api/message/notify", "/api/message/acknowledge"))
}

// postOnly answers 405 (Allow: POST) for any method but POST on paths, in
// front of next. Those paths also match GET /api/message/{message_id},
// which would look them up as message ids and answer 404 "unknown
// message: notify"; no message id collides with them (the hub makes 24
// hex digits).
func postOnly(next http.Handler, paths ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && slices.Contains(paths, r.URL.Path) {
			httpx.MethodNotAllowed(w, r, http.MethodPost)
			return
		}
		next.ServeHTTP(w, r)
	})
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
		if !auth.ValidID(id) {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s %q: "+auth.IDRule, field, httpx.Clip(id)))
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
	httpx.FailStore(w, s.Logger, err)
}
