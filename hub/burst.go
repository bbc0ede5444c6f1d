package hub

import (
	"sync"
	"time"
)

// A Burst holds back the writers for the frames sent through it until
// Flush, so a group commit of several messages reaches each stream in one
// write rather than one write a message. It belongs to one goroutine.
//
// A write costs a stream more than the frame it carries, so a stream that
// was written less than Options.FlushWindow ago is held further: the
// commits that reach it within the window go out in one write at its end.
// A stream that was quiet goes out at Flush, so a lone message is never
// delayed; a frame is held at most one window past its Flush. A stream
// whose queue is half full goes out at once, held or not yet flushed
// (Stream.enqueue): Stream.held says whether a Burst still has it to hand
// over, so it is handed over once.
type Burst struct {
	h       *Hub
	window  int64     // nanos; 0: hold nothing
	now     int64     // monotime when this round's first stream came
	streams []*Stream // quiet ones: to the writers at Flush
	hot     []*Stream // written within the window: held
	oldest  int64     // the earliest last write among hot

	mu    sync.Mutex // guards held and armed, shared with the timer
	held  []*Stream
	armed bool
	timer *time.Timer
}

// NewBurst returns an empty Burst of h.
func (h *Hub) NewBurst() *Burst {
	b := &Burst{h: h, window: max(int64(h.opts.FlushWindow), 0)}
	b.timer = time.AfterFunc(time.Hour, b.release)
	b.timer.Stop()
	return b
}

// SendTo is Hub.SendTo, with the writing left to Flush.
func (b *Burst) SendTo(targets []Target, f *Frame) { b.h.sendTo(targets, f, b) }

// take is enqueue's hand-off of s, which it has marked scheduled; s.mu is
// held, so s.lastWrite can be read.
func (b *Burst) take(s *Stream) {
	s.held = true
	if b.window == 0 {
		b.streams = append(b.streams, s)
		return
	}
	if b.now == 0 {
		b.now = monotime()
	}
	if since := b.now - s.lastWrite; since >= b.window {
		b.streams = append(b.streams, s)
		return
	}
	if len(b.hot) == 0 || s.lastWrite < b.oldest {
		b.oldest = s.lastWrite
	}
	b.hot = append(b.hot, s)
}

// Flush hands the quiet streams sent to since the last Flush to the
// writers, and holds the others till their window ends.
func (b *Burst) Flush() {
	for _, s := range b.streams {
		b.h.release(s)
	}
	clear(b.streams)
	b.streams = b.streams[:0]
	if len(b.hot) > 0 {
		b.mu.Lock()
		b.held = append(b.held, b.hot...)
		if !b.armed {
			b.armed = true
			// The first stream's window ends first; the streams held with
			// it were written later. Measured from now, not from the
			// round's start, and never longer than a window: a long round
			// or a stream written during it must not stretch the hold.
			wait := min(max(b.oldest+b.window-monotime(), 0), b.window)
			b.timer.Reset(time.Duration(wait))
		}
		b.mu.Unlock()
		clear(b.hot)
		b.hot = b.hot[:0]
	}
	b.now = 0
}

// release hands the held streams to the writers (the timer's goroutine).
// Hub.release does not block, so it runs under b.mu and held keeps its
// array.
func (b *Burst) release() {
	b.mu.Lock()
	for _, s := range b.held {
		b.h.release(s)
	}
	clear(b.held)
	b.held = b.held[:0]
	b.armed = false
	b.mu.Unlock()
}
