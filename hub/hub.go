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
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Hub. Zero values take those of DefaultOptions.
type Options struct {
	QueueLen     int           // frames queued per stream before it is cut
	MaxStreams   int           // open streams in all
	MaxPerUser   int           // open streams per user
	Heartbeat    time.Duration // no stream goes longer without a write
	Writers      int           // writer goroutines
	WriteTimeout time.Duration // how long a blocked write may take
	// FlushWindow is how long a stream just written waits for more
	// commits before its next write (see Burst); negative: no wait.
	FlushWindow time.Duration
	Logger      *slog.Logger
}

// DefaultOptions are the documented defaults. Writers is GOMAXPROCS.
func DefaultOptions() Options {
	return Options{
		QueueLen:     256,
		MaxStreams:   20000,
		MaxPerUser:   32,
		Heartbeat:    15 * time.Second,
		Writers:      runtime.GOMAXPROCS(0),
		WriteTimeout: 10 * time.Second,
		FlushWindow:  2 * time.Millisecond,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	orDefault(&o.QueueLen, d.QueueLen)
	orDefault(&o.MaxStreams, d.MaxStreams)
	orDefault(&o.MaxPerUser, d.MaxPerUser)
	orDefault(&o.Heartbeat, d.Heartbeat)
	orDefault(&o.Writers, d.Writers)
	orDefault(&o.WriteTimeout, d.WriteTimeout)
	if o.FlushWindow == 0 {
		o.FlushWindow = d.FlushWindow
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Errors from Attach.
var (
	ErrTooManyStreams = errors.New("too many open streams")
	ErrUserStreams    = errors.New("too many open streams for this user")
	ErrAppStreams     = errors.New("too many open application event streams")
	ErrClosed         = errors.New("hub is shutting down")
)

// Metrics are the hub's counters.
type Metrics struct {
	Opened    atomic.Uint64 // streams accepted
	Cut       atomic.Uint64 // streams closed because their queue overflowed
	Delivered atomic.Uint64 // message frames written to sockets
	Pings     atomic.Uint64
}

// A Listener hears what the hub sees of its streams. Its methods run on
// the hub's goroutines and must not block.
type Listener interface {
	// Delivered is called when user's copy of message msg is first written
	// to one of the user's streams.
	Delivered(msg, user string)
	// Presence is called when a user's first stream opens (streams 1) and
	// when its last one closes (streams 0).
	Presence(user string, streams int)
}

// Hub holds the open streams.
type Hub struct {
	opts     Options
	log      *slog.Logger
	listener atomic.Pointer[listenerBox]

	mu     sync.RWMutex
	users  map[string][]*Stream
	apps   []*Stream // applications' streams of hub events
	total  int
	closed bool
	nApps  atomic.Int32

	work chan *Stream // never blocks: holds each stream at most once
	stop chan struct{}
	wg   sync.WaitGroup

	Metrics Metrics
}

// New starts a hub's writers and heartbeat.
func New(opts Options) *Hub {
	opts = opts.withDefaults()
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

type listenerBox struct{ Listener }

// SetListener sets who hears of deliveries and presence.
func (h *Hub) SetListener(l Listener) { h.listener.Store(&listenerBox{l}) }

func (h *Hub) presence(user string, streams int) {
	if b := h.listener.Load(); b != nil {
		b.Presence(user, streams)
	}
}

// Attach registers a stream for user before its connection is ready:
// frames sent from now on queue up until Start. Call it where no message
// can be committed concurrently (store.Subscribe), so the replay and the
// live frames neither overlap nor leave a gap.
func (h *Hub) Attach(user string) (*Stream, error) {
	s, first, err := h.attach(&Stream{user: user})
	if first {
		h.presence(user, 1)
	}
	return s, err
}

// AttachApp registers the stream of hub events of an application (its
// client id), as Attach does; filter is what SendApps's keep is asked
// about.
func (h *Hub) AttachApp(client string, filter any) (*Stream, error) {
	s, _, err := h.attach(&Stream{user: client, app: true, filter: filter})
	return s, err
}

func (h *Hub) attach(s *Stream) (_ *Stream, first bool, _ error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	if h.total >= h.opts.MaxStreams {
		return nil, false, ErrTooManyStreams
	}
	s.h = h
	if s.app {
		if len(h.apps) >= h.opts.MaxPerUser {
			// The applications share the per-user limit, as one more user.
			return nil, false, ErrAppStreams
		}
		h.apps = append(h.apps, s)
		h.nApps.Add(1)
	} else {
		list := h.users[s.user]
		if len(list) >= h.opts.MaxPerUser {
			return nil, false, ErrUserStreams
		}
		h.users[s.user] = append(list, s)
		first = len(list) == 0
	}
	h.total++
	h.Metrics.Opened.Add(1)
	return s, first, nil
}

// release hands s to the writers if a Burst still holds it: enqueue may
// have sent it already, when its queue grew half full.
func (h *Hub) release(s *Stream) {
	s.mu.Lock()
	if s.held {
		s.held = false
		h.schedule(s)
	}
	s.mu.Unlock()
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

// Target is one recipient of a frame: a user, and the flag to set once the
// frame reaches one of the user's sockets (nil for none).
type Target struct {
	User string
	Mark *atomic.Bool
}

// SendTo queues one shared frame on every stream of every target, under a
// single read lock: a broadcast to a thousand users takes it once.
func (h *Hub) SendTo(targets []Target, f *Frame) { h.sendTo(targets, f, nil) }

func (h *Hub) sendTo(targets []Target, f *Frame, b *Burst) {
	h.mu.RLock()
	for _, t := range targets {
		for _, s := range h.users[t.User] {
			s.enqueue(item{f, t.Mark}, b)
		}
	}
	h.mu.RUnlock()
}

// Apps reports whether any application stream is open: events for them
// need not be encoded otherwise.
func (h *Hub) Apps() bool { return h.nApps.Load() > 0 }

// SendApps queues f on every application stream whose filter keep accepts.
func (h *Hub) SendApps(f *Frame, keep func(filter any) bool) {
	h.mu.RLock()
	for _, s := range h.apps {
		if keep(s.filter) {
			s.enqueue(item{f: f}, nil)
		}
	}
	h.mu.RUnlock()
}

// Online reports how many streams user has open. A stream whose client
// has closed the connection is closed now, not at the next heartbeat.
func (h *Hub) Online(user string) int {
	h.mu.RLock()
	list := h.users[user]
	n := len(list)
	for _, s := range list {
		if s.peerGone() {
			// Close removes it on a goroutine of its own: not counted.
			s.Close()
			n--
		}
	}
	h.mu.RUnlock()
	return n
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

// CloseApp ends every stream of events of the application client
// (removed: its tokens no longer open one).
func (h *Hub) CloseApp(client string) {
	h.mu.RLock()
	var list []*Stream
	for _, s := range h.apps {
		if s.user == client {
			list = append(list, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range list {
		s.Close()
	}
}

func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	var list []*Stream
	if s.app {
		list = h.apps
	} else {
		list = h.users[s.user]
	}
	for i, x := range list {
		if x == s {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			list = list[:last]
			h.total--
			if s.app {
				h.nApps.Add(-1)
			}
			break
		}
	}
	gone := false
	switch {
	case s.app:
		h.apps = list
	case len(list) == 0:
		_, gone = h.users[s.user]
		delete(h.users, s.user)
	default:
		h.users[s.user] = list
	}
	h.mu.Unlock()
	if gone {
		h.presence(s.user, 0)
	}
}

func (h *Hub) snapshot(list []*Stream) []*Stream {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, streams := range h.users {
		list = append(list, streams...)
	}
	return append(list, h.apps...)
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
