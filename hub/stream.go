package hub

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type item struct {
	f    *Frame
	mark *atomic.Bool // set once the frame is written; nil for others than messages
}

// A Frame is pre-encoded bytes queued on streams: shared, never changed.
type Frame struct {
	B   []byte
	Msg string // the id of the message a message frame carries, for Listener.Delivered
}

// A Mark is a replayed copy's delivered flag and its message's id.
type Mark struct {
	Flag *atomic.Bool
	Msg  string
}

// Stream is one open event stream.
type Stream struct {
	h      *Hub
	user   string // the user; for an application's stream, its client
	app    bool   // an application's stream of hub events (AttachApp)
	filter any    // what the application asked for
	// ends is when the token that opened the stream expires (unix ns on
	// the wall clock, as tokens are; 0: never): the heartbeat ends the
	// stream then, as a revocation would, and the client reconnects with
	// a new token or is refused.
	ends atomic.Int64

	mu           sync.Mutex
	conn         net.Conn
	raw          syscall.RawConn // nil: fall back to deadline writes
	q            []item
	spare        []item // an emptied queue to swap in at the next flush
	live         bool   // replay done: writers may write
	scheduled    bool   // in the work queue or being written
	closed       bool
	partial      []byte // bytes a non-blocking write left over
	partialMarks []Mark
	lastWrite    int64 // monotime of the last write, for the heartbeat and Burst
	held         bool  // scheduled, and waiting in a Burst for Flush or its window
}

// EndAt makes the heartbeat end the stream once t has passed (the expiry
// of the token that opened it); the zero t is never.
func (s *Stream) EndAt(t time.Time) {
	if !t.IsZero() {
		s.ends.Store(t.UnixNano())
	}
}

// epoch starts the monotonic clock of monotime.
var epoch = time.Now()

// monotime is nanoseconds since epoch on the monotonic clock: a step of
// the wall clock (NTP at boot, a VM resumed) must not make a stream look
// written in the future, which would hold it for the length of the step.
func monotime() int64 { return int64(time.Since(epoch)) }

// Start writes the response head and the replay with blocking writes, each
// chunk under its own WriteTimeout (a slow but steady reader gets its whole
// backlog), marks replayed copies delivered, and makes the stream live. The
// hub owns conn from here on. replay calls emit for each chunk in order.
func (s *Stream) Start(conn net.Conn, replay func(emit func(b []byte, marks []Mark) error) error) error {
	h := s.h
	emit := func(b []byte, marks []Mark) error {
		conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		if _, err := conn.Write(b); err != nil {
			return err
		}
		h.delivered(s.user, marks)
		return nil
	}
	err := replay(emit)
	conn.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conn = conn
	s.raw = rawConnOf(conn)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		// Closed during the replay (deleted, revoked, overflowed).
		closeConn(conn)
		return ErrClosed
	}
	if err != nil {
		s.Close()
		return err
	}
	s.mu.Lock()
	s.live = true
	s.lastWrite = monotime()
	if len(s.q) > 0 && !s.scheduled {
		s.scheduled = true
		h.schedule(s)
	}
	s.mu.Unlock()
	return nil
}

// enqueue queues it and hands the stream to the writers, or to b when it
// is not nil.
func (s *Stream) enqueue(it item, b *Burst) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.q) >= s.h.opts.QueueLen {
		s.mu.Unlock()
		s.h.Metrics.Cut.Add(1)
		s.h.log.Info("hub: stream cut: client too slow to read", "user", s.user)
		s.Close()
		return
	}
	s.q = append(s.q, it)
	if s.live && !s.scheduled {
		s.scheduled = true
		if b != nil {
			b.take(s)
		} else {
			s.h.schedule(s)
		}
	}
	if s.held && 2*len(s.q) >= s.h.opts.QueueLen {
		// Holding must not fill the queue of a reader that keeps up:
		// half full, the stream goes to the writers now (Hub.release
		// then passes it by).
		s.held = false
		s.h.schedule(s)
	}
	s.mu.Unlock()
}

// Close ends the stream: the connection is shut (with a FIN, so the client
// sees a clean end and reconnects) and the stream leaves the hub.
func (s *Stream) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conn := s.conn
	s.q = nil
	s.mu.Unlock()
	if conn != nil {
		closeConn(conn)
	}
	// Not inline: Close may run under the hub's read lock (Send).
	go s.h.remove(s)
}

func closeConn(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.Close()
}
