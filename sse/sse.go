// Package sse serves the event streams browsers and devices read
// (GET /sse), their acknowledgements (POST /ack), and a small live page.
package sse

import (
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/hub"
	"rtchub/store"
)

//go:embed page.html
var page []byte

// Config holds what the SSE listener needs.
type Config struct {
	Store  *store.Store
	Hub    *hub.Hub
	Signer *auth.Signer
	Logger *slog.Logger

	Retry       time.Duration // reconnect delay sent as `retry:` [2s]
	CORSOrigins []string      // "*" or exact origins [*]
	MaxBody     int64         // /ack body limit [1 MiB]
	Now         func() time.Time
}

// Server serves the SSE listener and turns committed messages into frames.
// It is the store's observer.
type Server struct {
	cfg     Config
	retry   []byte
	targets []hub.Target // MessageCommitted's scratch list
}

// New returns a Server. Register it with Store.SetObserver.
func New(cfg Config) *Server {
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"*"}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, retry: fmt.Appendf(nil, "retry: %d\n\n", cfg.Retry.Milliseconds())}
}

// Handler returns the SSE listener's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sse", s.stream)
	mux.HandleFunc("POST /ack", s.ack)
	mux.HandleFunc("OPTIONS /sse", s.preflight)
	mux.HandleFunc("OPTIONS /ack", s.preflight)
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("GET /healthz", api.Health(s.cfg.Store))
	// CORS headers go on every answer, before the mux: a browser reads an
	// error body (the mux's own 404 and 405 included) only if they are on
	// it.
	return api.Recover(s.cfg.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cors(w, r)
		mux.ServeHTTP(w, r)
	}))
}

// MessageCommitted encodes the message's frame once and queues the same
// bytes on every open stream of every recipient.
func (s *Server) MessageCommitted(m *store.Message) {
	frame := AppendFrame(nil, m)
	// The store calls observers one at a time, so the scratch list can be
	// reused from message to message.
	s.targets = s.targets[:0]
	for i := range m.Recipients {
		rc := &m.Recipients[i]
		if rc.Open() {
			s.targets = append(s.targets, hub.Target{User: rc.User, Mark: &rc.Delivered})
		}
	}
	s.cfg.Hub.SendTo(s.targets, frame)
	clear(s.targets)
}

// UserClosed ends a deleted or revoked user's streams.
func (s *Server) UserClosed(user string) { s.cfg.Hub.CloseUser(user) }

// AppendFrame appends m as one SSE event:
//
//	id: <seq>
//	event: <event>
//	data: {"id":"<id>","seq":<seq>,"message":<json>,"created_at":"<RFC 3339>"}
//
// The body is compact JSON, so data is one line.
func AppendFrame(dst []byte, m *store.Message) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, m.Event...)
	dst = append(dst, "\ndata: {\"id\":\""...)
	dst = append(dst, m.ID...)
	dst = append(dst, "\",\"seq\":"...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, ",\"message\":"...)
	dst = append(dst, m.Body...)
	dst = append(dst, ",\"created_at\":\""...)
	dst = time.UnixMilli(m.Created).UTC().AppendFormat(dst, api.TimeFormat)
	dst = append(dst, "\"}\n\n"...)
	return dst
}

// userToken finds and checks the user token of a request. On failure it
// has answered: 400 when there is no token or it is not one, 401 when it
// is refused.
func (s *Server) userToken(w http.ResponseWriter, r *http.Request) (auth.Claims, bool) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		tok = api.BearerToken(r)
	}
	if tok == "" {
		api.WriteError(w, http.StatusBadRequest, "missing token: pass ?token=<user token> or Authorization: Bearer <user token>")
		return auth.Claims{}, false
	}
	c, err := s.cfg.Signer.Verify(tok, auth.KindUser, s.cfg.Now())
	if err != nil {
		code, msg := api.TokenError(err)
		if errors.Is(err, auth.ErrWrongKind) {
			msg += ": use a user token from GET /api/user/{id}/token"
		}
		api.WriteError(w, code, msg)
		return c, false
	}
	if gen, exists := s.cfg.Store.UserGen(c.Subject); !exists || gen != c.Gen {
		api.WriteError(w, http.StatusUnauthorized, "token revoked or user deleted")
		return c, false
	}
	return c, true
}

// cors sets the CORS headers of every answer of the listener, per
// --cors-origins.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return
		}
	}
	// The answer depends on the origin: caches must keep them apart.
	w.Header().Add("Vary", "Origin")
	for _, o := range s.cfg.CORSOrigins {
		if origin != "" && o == origin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			return
		}
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, Cache-Control")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.userToken(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodHead {
		// What a GET would answer, without opening a stream.
		for _, kv := range streamHeaders {
			w.Header().Set(kv[0], kv[1])
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	after := s.resumeAfter(last)

	var st *hub.Stream
	var pending []*store.Message
	var attachErr error
	err := s.cfg.Store.Subscribe(claims.Subject, claims.Gen, after, func(p []*store.Message) {
		pending = p
		st, attachErr = s.cfg.Hub.Attach(claims.Subject)
	})
	if err != nil {
		api.WriteError(w, http.StatusUnauthorized, "token revoked or user deleted")
		return
	}
	if attachErr != nil {
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, attachErr.Error())
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		st.Close()
		api.WriteError(w, http.StatusInternalServerError, "cannot stream on this connection")
		return
	}
	// The response is written by hand on the bare connection: the body
	// runs until the connection closes, so the hub can hold the stream
	// without a goroutine or buffers.
	pre := make([]byte, 0, 1024) // grows with the backlog, up to a chunk
	pre = append(pre, "HTTP/1.1 200 OK\r\n"...)
	for _, kv := range streamHeaders {
		pre = append(pre, kv[0]...)
		pre = append(pre, ": "...)
		pre = append(pre, kv[1]...)
		pre = append(pre, "\r\n"...)
	}
	pre = append(pre, "Connection: close\r\n"...)
	for _, k := range slices.Sorted(maps.Keys(w.Header())) {
		for _, v := range w.Header()[k] {
			pre = append(pre, k...)
			pre = append(pre, ": "...)
			pre = append(pre, v...)
			pre = append(pre, "\r\n"...)
		}
	}
	pre = append(pre, "Date: "...)
	pre = s.cfg.Now().UTC().AppendFormat(pre, http.TimeFormat)
	pre = append(pre, "\r\n\r\n"...)
	pre = append(pre, s.retry...)
	// The backlog goes out in chunks, so a long one costs neither a
	// buffer of its size nor one deadline for all of it.
	err = st.Start(conn, func(emit func([]byte, []*atomic.Bool) error) error {
		buf, marks := pre, make([]*atomic.Bool, 0, min(len(pending), 256))
		for _, m := range pending {
			buf = AppendFrame(buf, m)
			if rc := m.Recipient(claims.Subject); rc != nil {
				marks = append(marks, &rc.Delivered)
			}
			if len(buf) >= replayChunk {
				if err := emit(buf, marks); err != nil {
					return err
				}
				buf, marks = buf[:0], marks[:0]
			}
		}
		return emit(buf, marks)
	})
	if err != nil {
		s.cfg.Logger.Debug("sse: stream ended during replay", "user", claims.Subject, "err", err)
	}
}

// resumeAfter returns the seq a stream resumes after, given the client's
// Last-Event-ID. An id this hub did not send is ignored (0: replay every
// pending message), because replaying too much is safe and skipping is
// not: one that does not parse (ParseUint's error result would be
// MaxUint64 for an overflow, skipping everything), and one above the
// log's last seq, which a client can only hold from another hub's log
// (say, a tab that outlived a wiped data directory).
func (s *Server) resumeAfter(last string) uint64 {
	after, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
	if err != nil || after > s.cfg.Store.Stats().Seq {
		return 0
	}
	return after
}

// streamHeaders are the event stream's own response headers.
var streamHeaders = [...][2]string{
	{"Content-Type", "text/event-stream"},
	{"Cache-Control", "no-cache"},
	{"X-Accel-Buffering", "no"},
}

// replayChunk is how many bytes of backlog go out per write.
const replayChunk = 64 << 10

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.userToken(w, r)
	if !ok {
		return
	}
	var req struct {
		MessageID string `json:"message_id"`
	}
	if !api.DecodeJSON(w, r, s.cfg.MaxBody, &req) {
		return
	}
	if !api.CheckMessageID(w, req.MessageID) {
		return
	}
	if err := s.cfg.Store.Ack(r.Context(), req.MessageID, claims.Subject); err != nil {
		api.FailStore(w, s.cfg.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The token may be in the page's URL: never send it on as a referrer,
	// and allow the page to talk only to this hub.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.Write(page)
}
