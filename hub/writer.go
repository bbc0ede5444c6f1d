package hub

import (
	"sync/atomic"
	"time"
)

func (h *Hub) writer() {
	buf := make([]byte, 0, 32<<10)
	rw := newRawWriter()
	for {
		select {
		case s := <-h.work:
			buf = h.flush(s, buf[:0], rw)
			if cap(buf) > 1<<20 {
				buf = make([]byte, 0, 32<<10)
			}
		case <-h.stop:
			return
		}
	}
}

// flush writes everything queued on s without blocking. What the socket
// does not take goes to a goroutine of the stream's own.
func (h *Hub) flush(s *Stream, buf []byte, rw *rawWriter) []byte {
	s.mu.Lock()
	if s.closed {
		s.scheduled = false
		s.mu.Unlock()
		return buf
	}
	items := s.q
	s.q, s.spare = s.spare, nil
	s.lastWrite = monotime()
	s.mu.Unlock()

	for _, it := range items {
		buf = append(buf, it.f.B...)
	}
	n, err := s.tryWrite(buf, rw)
	if err != nil {
		s.Close()
		return buf
	}
	// Frames wholly written are delivered; the marks of the rest wait for
	// the slow path.
	var rest []Mark
	off, frames := 0, uint64(0)
	for _, it := range items {
		off += len(it.f.B)
		switch {
		case it.mark == nil:
		case off <= n:
			h.deliver(s.user, it.mark, it.f.Msg)
			frames++
		default:
			rest = append(rest, Mark{it.mark, it.f.Msg})
		}
	}
	h.Metrics.Delivered.Add(frames)
	s.mu.Lock()
	if n < len(buf) {
		// The socket is full: keep the rest, ahead of anything queued
		// meanwhile, and let a goroutine wait for the reader.
		s.partial = append([]byte(nil), buf[n:]...)
		s.partialMarks = rest
		s.mu.Unlock()
		go h.drainSlow(s)
		return buf
	}
	// Keep a small emptied queue for the next round: a busy stream then
	// swaps two slices instead of allocating one per flush.
	if cap(items) <= spareCap {
		clear(items)
		s.spare = items[:0]
	}
	if len(s.q) > 0 {
		h.schedule(s)
	} else {
		s.scheduled = false
	}
	s.mu.Unlock()
	return buf
}

// spareCap bounds the queue kept between flushes (items are 32 bytes).
const spareCap = 32

// drainSlow writes a backed-up stream with blocking writes until it has
// caught up; a reader stalled past WriteTimeout is closed.
func (h *Hub) drainSlow(s *Stream) {
	var buf []byte
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		items := s.q
		s.q = nil
		buf = append(buf[:0], s.partial...)
		marks := s.partialMarks
		s.partial, s.partialMarks = nil, nil
		if len(items) == 0 && len(buf) == 0 {
			s.scheduled = false
			s.mu.Unlock()
			return
		}
		conn := s.conn
		s.mu.Unlock()
		for _, it := range items {
			buf = append(buf, it.f.B...)
			if it.mark != nil {
				marks = append(marks, Mark{it.mark, it.f.Msg})
			}
		}
		conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		_, err := conn.Write(buf)
		if err != nil {
			s.Close()
			return
		}
		conn.SetWriteDeadline(time.Time{})
		h.delivered(s.user, marks)
	}
}

// tryWrite writes as much of b as the socket takes now.
func (s *Stream) tryWrite(b []byte, rw *rawWriter) (int, error) {
	if s.raw == nil {
		s.conn.SetWriteDeadline(time.Now().Add(s.h.opts.WriteTimeout))
		return s.conn.Write(b)
	}
	return rw.writeNow(s.raw, b)
}

// delivered sets the marks of frames written to a stream of user.
func (h *Hub) delivered(user string, marks []Mark) {
	h.Metrics.Delivered.Add(uint64(len(marks)))
	for _, m := range marks {
		h.deliver(user, m.Flag, m.Msg)
	}
}

// deliver sets one frame's mark; the first time, the listener hears of it.
func (h *Hub) deliver(user string, flag *atomic.Bool, msg string) {
	if flag.CompareAndSwap(false, true) && msg != "" {
		if l := h.listener.Load(); l != nil {
			l.Delivered(msg, user)
		}
	}
}
