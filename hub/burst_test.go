package hub_test

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"rtchub/hub"
)

// burstToOne is a hub with opts, a live stream of user "u" read by r, and
// a burst.
func burstToOne(t *testing.T, opts hub.Options) (*hub.Hub, *reader, *hub.Burst) {
	t.Helper()
	h := newHub(t, opts)
	return h, startLive(t, h, newPairer(t), "u"), h.NewBurst()
}

// A Burst keeps its streams from the writers until Flush, and frames that
// others send meanwhile wait with it, in order.
func TestBurstHoldsFramesUntilFlush(t *testing.T) {
	h, r, b := burstToOne(t, hub.Options{FlushWindow: -1})
	var mark atomic.Bool
	fs, want := liveFrames(3, 100)
	b.SendTo([]hub.Target{{User: "u", Mark: &mark}}, &hub.Frame{B: fs[0], Msg: "m0"})
	h.SendTo([]hub.Target{{User: "u"}}, &hub.Frame{B: fs[1]})
	b.SendTo([]hub.Target{{User: "u", Mark: &mark}}, &hub.Frame{B: fs[2], Msg: "m2"})
	r.quiet(t, 100*time.Millisecond, len("P\n\n"))
	if mark.Load() {
		t.Fatal("a held frame is marked delivered")
	}
	b.Flush()
	r.waitBytes(t, 5*time.Second, want)
	eventually(t, "mark of the held frames", mark.Load)
	// The burst is empty again: a flush sends nothing twice.
	b.Flush()
	r.quiet(t, 50*time.Millisecond, len(want))
}

// With a flush window, a stream written moments ago (here by its replay)
// keeps what bursts send it until the window since that write ends, then
// takes it all in order, with a frame sent outside the bursts meanwhile.
// Closing the hub writes what is held before the streams end.
func TestBurstWindowHoldsABusyStream(t *testing.T) {
	const window = time.Second
	for _, closeHub := range []bool{false, true} {
		t.Run(fmt.Sprintf("close=%v", closeHub), func(t *testing.T) {
			t.Parallel()
			h, r, b := burstToOne(t, hub.Options{FlushWindow: window})
			var mark atomic.Bool
			fs, want := liveFrames(3, 100)
			b.SendTo([]hub.Target{{User: "u", Mark: &mark}}, &hub.Frame{B: fs[0], Msg: "m0"})
			b.Flush()
			h.SendTo([]hub.Target{{User: "u"}}, &hub.Frame{B: fs[1]})
			b.SendTo([]hub.Target{{User: "u", Mark: &mark}}, &hub.Frame{B: fs[2], Msg: "m2"})
			b.Flush()
			r.quiet(t, window/4, len("P\n\n"))
			if mark.Load() {
				t.Fatal("a held frame is marked delivered")
			}
			if closeHub {
				h.Close(5 * time.Second)
				if got := r.waitEOF(t, 5*time.Second); !bytes.Equal(got, want) {
					t.Fatalf("before EOF the client read %q, want %q", got, want)
				}
				return
			}
			r.waitBytes(t, 3*window, want)
			eventually(t, "mark of the held frames", mark.Load)
		})
	}
}

// Holding a stream does not fill the queue of a reader that keeps up:
// one held by a window across commits, or one held until Flush by a
// commit of many messages, goes to the writers once its queue is half
// full, and nothing is cut. (Each case sends 3 queues' worth 1 ms apart:
// held to the end, the stream would be cut at the queue's length.)
func TestBurstReleasesAFillingQueue(t *testing.T) {
	const queueLen = 64
	for _, tc := range []struct {
		name   string
		window time.Duration
		flush  bool // Flush after each frame (a commit each), else once at the end
	}{
		{"window, a commit a frame", 2 * time.Second, true},
		{"no window, one commit", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, r, b := burstToOne(t, hub.Options{FlushWindow: tc.window, QueueLen: queueLen})
			fs, want := liveFrames(3*queueLen, 100)
			for _, f := range fs {
				b.SendTo([]hub.Target{{User: "u"}}, &hub.Frame{B: f})
				if tc.flush {
					b.Flush()
				}
				time.Sleep(time.Millisecond)
			}
			b.Flush()
			r.waitBytes(t, 3*tc.window+5*time.Second, want)
			if c := h.Metrics.Cut.Load(); c != 0 {
				t.Errorf("Metrics.Cut = %d, want 0", c)
			}
		})
	}
}
