// Package api serves rtchub's JSON API for local applications: token
// exchange, users, groups and messages, plus health and metrics.
package api

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
	basic basicCache
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	cfg.defaults()
	s := &server{Config: cfg}
	mux := http.NewServeMux()
	// Each /api/ route names the query parameters it takes (a trailing *
	// makes one repeatable); any other is a 400, once the token is good.
	route := func(pattern string, h http.HandlerFunc, params ...string) {
		mux.Handle(pattern, s.authed(queryChecked(h, params)))
	}
	mux.Handle("POST /api/auth/token", queryChecked(s.token, nil))
	route("GET /api/user", s.listUsers, "group")
	route("POST /api/user", s.putUser)
	route("GET /api/user/{user_id}", s.getUser)
	route("DELETE /api/user/{user_id}", s.deleteUser)
	route("GET /api/user/{user_id}/token", s.userToken, "ttl")
	route("POST /api/user/{user_id}/revoke", s.revokeUser)
	route("GET /api/user/{user_id}/messages", s.inbox, "state", "after", "limit")
	route("GET /api/group", s.listGroups)
	route("POST /api/group", s.putGroup)
	route("GET /api/group/{group_id}", s.getGroup)
	route("DELETE /api/group/{group_id}", s.deleteGroup)
	route("POST /api/message/notify", s.notify)
	route("POST /api/message/acknowledge", s.acknowledge)
	route("GET /api/message/{message_id}", s.getMessage)
	route("DELETE /api/message/{message_id}", s.recall)
	if cfg.Events != nil {
		mux.Handle("GET /api/events", s.authedOrQuery(queryChecked(s.events, []string{"token", "events*", "user*", "last_event_id"})))
	}
	mux.Handle("GET /api/openapi.json", queryChecked(serveOpenAPI, nil))
	mux.Handle("GET /healthz", httpx.Health(cfg.Store, true))
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

// queryChecked answers 400 for a request to next whose query does not
// parse, holds a parameter not in params (a trailing * marks one that may
// repeat), repeats one that may not, or gives one an empty value: a typo
// must not silently widen what a request does (?grp=kitchen listing every
// user).
func queryChecked(next http.HandlerFunc, params []string) http.HandlerFunc {
	// The closure is copied into every route that inlines this; the work
	// is in checkQuery, once.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Most requests have no query: nothing to parse or check.
		if r.URL.RawQuery == "" || checkQuery(w, r, params) {
			next(w, r)
		}
	})
}

// checkQuery reports whether r's query passes queryChecked; if not, it has
// answered.
func checkQuery(w http.ResponseWriter, r *http.Request, params []string) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "the query string is malformed: "+httpx.Clip(err.Error()))
		return false
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		repeat := slices.Contains(params, k+"*")
		switch {
		case !repeat && !slices.Contains(params, k):
			msg := fmt.Sprintf("unknown query parameter %q", httpx.Clip(k))
			if len(params) > 0 {
				msg += "; this route takes " + strings.ReplaceAll(strings.Join(params, ", "), "*", "")
			}
			httpx.WriteError(w, http.StatusBadRequest, msg)
			return false
		case !repeat && len(q[k]) > 1:
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %q is given more than once", k))
			return false
		case slices.Contains(q[k], ""):
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %q is empty", k))
			return false
		}
	}
	return true
}
