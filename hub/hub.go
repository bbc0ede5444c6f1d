// Package hub fans committed messages out to open event streams.
//
// A stream, once its response headers and replay are out, is held as a bare
// connection: no goroutine and no buffers of its own while idle. Senders
// append shared, pre-encoded frames to the stream's bounded queue and hand
// the stream to a small pool of writers, which write everything queued in
// one non-blocking write. A stream whose socket is full gets a goroutine of
// its own until it catches up; one whose queue overflows is closed, and the
// client's reconnect plus the replay of pending messages heals the gap. No
// lock is held while writing to a socket, so a slow reader delays no one.
package hub

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a Hub. Zero values take the defaults in brackets.
type Options struct {
	QueueLen     int           // frames queued per stream before it is cut [256]
	MaxStreams   int           // open streams in all [20000]
	MaxPerUser   int           // open streams per user [32]
	Heartbeat    time.Duration // ": ping" interval [15s]
	Writers      int           // writer goroutines [GOMAXPROCS]
	WriteTimeout time.Duration // how long a blocked write may take [10s]
	Logger       *slog.Logger
}

// Errors from Attach.
var (
	ErrTooManyStreams = errors.New("too many open streams")
	ErrUserStreams    = errors.New("too many open streams for this user")
	ErrClosed         = errors.New("hub is shutting down")
)

// Metrics are the hub's counters.
type Metrics struct {
	Opened    atomic.Uint64 // streams accepted
	Cut       atomic.Uint64 // streams closed because their queue overflowed
	Delivered atomic.Uint64 // message frames written to sockets
	Pings     atomic.Uint64
}

// Hub holds the open streams.
type Hub struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	users  map[string][]*Stream
	total  int
	closed bool

	work chan *Stream // never blocks: holds each stream at most once
	stop chan struct{}
	wg   sync.WaitGroup

	Metrics Metrics
}

// New starts a hub's writers and heartbeat.
func New(opts Options) *Hub {
	if opts.QueueLen <= 0 {
		opts.QueueLen = 256
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 20000
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = 32
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Writers <= 0 {
		opts.Writers = runtime.GOMAXPROCS(0)
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts:  opts,
		log:   opts.Logger,
		users: make(map[string][]*Stream),
		work:  make(chan *Stream, opts.MaxStreams),
		stop:  make(chan struct{}),
	}
	for range opts.Writers {
		h.wg.Go(h.writer)
	}
	h.wg.Go(h.heartbeat)
	return h
}

type item struct {
	b    []byte
	mark *atomic.Bool // set once the frame is written; nil for pings
}

// Stream is one open event stream.
type Stream struct {
	h    *Hub
	user string

	mu           sync.Mutex
	conn         net.Conn
	raw          syscall.RawConn // nil: fall back to deadline writes
	q            []item
	spare        []item // an emptied queue to swap in at the next flush
	live         bool   // replay done: writers may write
	scheduled    bool   // in the work queue or being written
	closed       bool
	partial      []byte // bytes a non-blocking write left over
	partialMarks []*atomic.Bool
	lastWrite    int64 // unix nanos of the last write, for the heartbeat
}

// Attach registers a stream for user before its connection is ready:
// frames sent from now on queue up until Start. Call it where no message
// can be committed concurrently (store.Subscribe), so the replay and the
// live frames neither overlap nor leave a gap.
func (h *Hub) Attach(user string) (*Stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.total >= h.opts.MaxStreams {
		return nil, ErrTooManyStreams
	}
	list := h.users[user]
	if len(list) >= h.opts.MaxPerUser {
		return nil, ErrUserStreams
	}
	s := &Stream{h: h, user: user}
	h.users[user] = append(list, s)
	h.total++
	h.Metrics.Opened.Add(1)
	return s, nil
}

// Start writes the response head and the replay with blocking writes, each
// chunk under its own WriteTimeout (a slow but steady reader gets its whole
// backlog), marks replayed copies delivered, and makes the stream live. The
// hub owns conn from here on. replay calls emit for each chunk in order.
func (s *Stream) Start(conn net.Conn, replay func(emit func(b []byte, marks []*atomic.Bool) error) error) error {
	h := s.h
	emit := func(b []byte, marks []*atomic.Bool) error {
		conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		if _, err := conn.Write(b); err != nil {
			return err
		}
		for _, m := range marks {
			m.Store(true)
		}
		h.Metrics.Delivered.Add(uint64(len(marks)))
		return nil
	}
	err := replay(emit)
	conn.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conn = conn
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, rerr := sc.SyscallConn(); rerr == nil {
			s.raw = raw
		}
	}
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
	s.lastWrite = time.Now().UnixNano()
	if len(s.q) > 0 && !s.scheduled {
		s.scheduled = true
		h.schedule(s)
	}
	s.mu.Unlock()
	return nil
}

// schedule hands s to the writers. The queue holds every open stream at
// once, so it does not fill; should closed streams still queued crowd it
// while new ones open, the hand-off waits on a goroutine, never here.
func (h *Hub) schedule(s *Stream) {
	select {
	case h.work <- s:
	default:
		go func() {
			select {
			case h.work <- s:
			case <-h.stop:
			}
		}()
	}
}

// Send queues a pre-encoded frame on every stream of user. b is shared and
// must not change; mark, if not nil, is set when the frame reaches a socket.
func (h *Hub) Send(user string, b []byte, mark *atomic.Bool) {
	h.SendTo([]Target{{User: user, Mark: mark}}, b)
}

// Target is one recipient of a frame: a user, and the flag to set once the
// frame reaches one of the user's sockets (nil for none).
type Target struct {
	User string
	Mark *atomic.Bool
}

// SendTo queues one shared frame on every stream of every target, under a
// single read lock: a broadcast to a thousand users takes it once.
func (h *Hub) SendTo(targets []Target, b []byte) {
	h.mu.RLock()
	for _, t := range targets {
		for _, s := range h.users[t.User] {
			s.enqueue(item{b, t.Mark})
		}
	}
	h.mu.RUnlock()
}

// Online reports how many streams user has open.
func (h *Hub) Online(user string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[user])
}

// Open reports how many streams are open in all.
func (h *Hub) Open() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.total
}

// UsersOnline reports how many users have at least one stream.
func (h *Hub) UsersOnline() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users)
}

// CloseUser ends every stream of user (deleted, or its tokens revoked).
func (h *Hub) CloseUser(user string) {
	h.mu.RLock()
	list := append([]*Stream(nil), h.users[user]...)
	h.mu.RUnlock()
	for _, s := range list {
		s.Close()
	}
}

func (s *Stream) enqueue(it item) {
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

func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.users[s.user]
	for i, x := range list {
		if x == s {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			list = list[:last]
			h.total--
			break
		}
	}
	if len(list) == 0 {
		delete(h.users, s.user)
	} else {
		h.users[s.user] = list
	}
}

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
	s.lastWrite = time.Now().UnixNano()
	s.mu.Unlock()

	for _, it := range items {
		buf = append(buf, it.b...)
	}
	n, err := s.tryWrite(buf, rw)
	if err != nil {
		s.Close()
		return buf
	}
	// Frames wholly written are delivered; the marks of the rest wait for
	// the slow path.
	var rest []*atomic.Bool
	off, frames := 0, uint64(0)
	for _, it := range items {
		off += len(it.b)
		switch {
		case it.mark == nil:
		case off <= n:
			it.mark.Store(true)
			frames++
		default:
			rest = append(rest, it.mark)
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
			buf = append(buf, it.b...)
			if it.mark != nil {
				marks = append(marks, it.mark)
			}
		}
		conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		_, err := conn.Write(buf)
		if err != nil {
			s.Close()
			return
		}
		conn.SetWriteDeadline(time.Time{})
		for _, m := range marks {
			m.Store(true)
		}
		h.Metrics.Delivered.Add(uint64(len(marks)))
	}
}

// tryWrite writes as much of b as the socket takes now.
func (s *Stream) tryWrite(b []byte, rw *rawWriter) (int, error) {
	if s.raw == nil {
		s.conn.SetWriteDeadline(time.Now().Add(s.h.opts.WriteTimeout))
		return s.conn.Write(b)
	}
	rw.b, rw.n, rw.err = b, 0, nil
	err := s.raw.Write(rw.fn)
	if err == nil {
		err = rw.err
	}
	n := rw.n
	rw.b = nil
	return n, err
}

// rawWriter is one writer goroutine's state for non-blocking writes; its
// callback is made once, so a write allocates nothing.
type rawWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func newRawWriter() *rawWriter {
	rw := &rawWriter{}
	rw.fn = rw.write
	return rw
}

// write is the RawConn callback: it writes what the socket takes now and
// always reports done, so the poller never waits on a slow reader.
func (rw *rawWriter) write(fd uintptr) bool {
	for rw.n < len(rw.b) {
		n, e := syscall.Write(int(fd), rw.b[rw.n:])
		if n > 0 {
			rw.n += n
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true
		case e != nil:
			rw.err = e
			return true
		case n == 0:
			rw.err = io.ErrShortWrite
			return true
		}
	}
	return true
}

var pingFrame = []byte(": ping\n\n")

// heartbeat is the hub's one timer. Every tick it closes streams whose
// peer has gone, and pings those that would otherwise go a whole heartbeat
// without a write: no stream is quiet for longer than --heartbeat.
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
		case now := <-t.C:
			list = h.snapshot(list[:0])
			for _, s := range list {
				if s.peerGone() {
					s.Close()
					continue
				}
				s.mu.Lock()
				quiet := s.live && now.UnixNano()-s.lastWrite >= due
				if quiet && !s.scheduled {
					// Idle: give back the spare queue, so a quiet stream
					// holds no buffer at all.
					s.spare = nil
				}
				s.mu.Unlock()
				if quiet {
					h.Metrics.Pings.Add(1)
					s.enqueue(item{b: pingFrame})
				}
			}
			clear(list)
		}
	}
}

func (h *Hub) snapshot(list []*Stream) []*Stream {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, streams := range h.users {
		list = append(list, streams...)
	}
	return list
}

// peerGone peeks at the socket: a readable end-of-file means the client
// closed the connection, which a write would only notice later.
func (s *Stream) peerGone() bool {
	s.mu.Lock()
	raw, live := s.raw, s.live
	s.mu.Unlock()
	if raw == nil || !live {
		return false
	}
	gone := false
	var b [1]byte
	raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil
		return true
	})
	return gone
}

// Close ends every stream after giving queued frames up to timeout to be
// written, and stops the writers.
func (h *Hub) Close(timeout time.Duration) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && h.busy() {
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range h.snapshot(nil) {
		s.Close()
	}
	close(h.stop)
	h.wg.Wait()
}

func (h *Hub) busy() bool {
	for _, s := range h.snapshot(nil) {
		s.mu.Lock()
		// A stream still replaying counts too: its queued frames go out
		// once the replay is written.
		b := !s.closed && (s.scheduled || len(s.q) > 0)
		s.mu.Unlock()
		if b {
			return true
		}
	}
	return false
}
