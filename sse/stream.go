package sse

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

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
		httpx.WriteError(w, http.StatusUnauthorized, "token revoked or user deleted")
		return
	}
	if attachErr != nil {
		w.Header().Set("Retry-After", "5")
		httpx.WriteError(w, http.StatusServiceUnavailable, attachErr.Error())
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		st.Close()
		httpx.WriteError(w, http.StatusInternalServerError, "cannot stream on this connection")
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
			if d := m.DeliveredFlag(claims.Subject); d != nil {
				marks = append(marks, d)
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
