package hub

import (
	"time"
)

var pingFrame = &Frame{B: []byte(": ping\n\n")}

// heartbeat is the hub's one timer. Every tick it closes streams whose
// peer has gone or whose token has expired, and pings those that would
// otherwise go a whole heartbeat without a write: no stream is quiet for
// longer than --heartbeat.
func (h *Hub) heartbeat() {
	tick := min(h.opts.Heartbeat/3, 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	due := int64(h.opts.Heartbeat - tick)
	var list []*Stream
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			now, wall := monotime(), time.Now().UnixNano()
			list = h.snapshot(list[:0])
			for _, s := range list {
				if e := s.ends.Load(); e != 0 && wall >= e {
					s.Close()
					continue
				}
				if s.peerGone() {
					s.Close()
					continue
				}
				s.mu.Lock()
				quiet := s.live && now-s.lastWrite >= due
				if quiet && !s.scheduled {
					// Idle: give back the spare queue, so a quiet stream
					// holds no buffer at all.
					s.spare = nil
				}
				s.mu.Unlock()
				if quiet {
					h.Metrics.Pings.Add(1)
					s.enqueue(item{f: pingFrame}, nil)
				}
			}
			clear(list)
		}
	}
}

// peerGone reports whether a live stream's client has closed the
// connection, which a write would only notice later.
func (s *Stream) peerGone() bool {
	s.mu.Lock()
	raw, live := s.raw, s.live
	s.mu.Unlock()
	if raw == nil || !live {
		return false
	}
	return peerClosed(raw)
}
