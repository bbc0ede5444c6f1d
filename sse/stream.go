package sse

import (
	"net/http"
	"strconv"
	"strings"

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
		httpx.StreamHead(w)
		return
	}
	from := resumeFrom(r)
	var st *hub.Stream
	var rp store.Replay
	var attachErr error
	err := s.cfg.Store.Subscribe(claims.Subject, claims.Gen, from, func(p store.Replay) {
		rp = p
		st, attachErr = s.cfg.Hub.Attach(claims.Subject)
		if st != nil {
			st.EndAt(claims.ExpiresAt)
		}
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
	conn, head, err := httpx.Hijack(w, s.cfg.Now())
	if err != nil {
		st.Close()
		httpx.WriteError(w, http.StatusInternalServerError, "cannot stream on this connection")
		return
	}
	head = append(head, s.retry...)
	err = st.Start(conn, func(emit func([]byte, []hub.Mark) error) error {
		return writeReplay(head, claims.Subject, rp, emit)
	})
	if err != nil {
		s.cfg.Logger.Debug("sse: stream ended during replay", "user", claims.Subject, "err", err)
	}
}

// writeReplay emits, after head, what a stream is sent before live events:
// on a reset the reset event, every pending message and the log's seq as
// the last event id; else the pending messages and the retractions merged
// in seq order. It goes out in chunks of about httpx.ReplayChunk.
func writeReplay(head []byte, user string, rp store.Replay, emit func([]byte, []hub.Mark) error) error {
	buf, marks := head, make([]hub.Mark, 0, min(len(rp.Pending), 256))
	if rp.Reset {
		buf = append(buf, resetFrame...)
	}
	flush := func() error {
		if len(buf) < httpx.ReplayChunk {
			return nil
		}
		err := emit(buf, marks)
		buf, marks = buf[:0], marks[:0]
		return err
	}
	ret := rp.Retractions
	for _, m := range rp.Pending {
		for len(ret) > 0 && ret[0].Seq < m.Seq {
			buf = AppendRetraction(buf, ret[0])
			ret = ret[1:]
		}
		buf = AppendFrame(buf, m)
		if d := m.DeliveredFlag(user); d != nil {
			marks = append(marks, hub.Mark{Flag: d, Msg: m.ID})
		}
		if err := flush(); err != nil {
			return err
		}
	}
	for _, t := range ret {
		buf = AppendRetraction(buf, t)
		if err := flush(); err != nil {
			return err
		}
	}
	if rp.Reset {
		buf = appendLastID(buf, rp.Seq)
	}
	return emit(buf, marks)
}

// resumeFrom reads the client's Last-Event-ID (or ?last_event_id=). A
// value that is no seq (ParseUint's result for an overflow would skip
// everything) is given but not valid: the store answers it with a reset.
func resumeFrom(r *http.Request) store.Resume {
	last, given := r.Header.Get("Last-Event-ID"), true
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
		given = r.URL.Query().Has("last_event_id") || r.Header.Get("Last-Event-ID") != ""
	}
	if last == "" && !given {
		return store.Resume{}
	}
	seq, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
	return store.Resume{Last: seq, Given: true, Valid: err == nil}
}
