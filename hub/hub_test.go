package hub_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rtchub/hub"
)

func TestAttachLimits(t *testing.T) {
	h := newHub(t, hub.Options{MaxStreams: 3, MaxPerUser: 2})

	a1, err := h.Attach("alice")
	if err != nil {
		t.Fatalf("Attach alice #1: %v", err)
	}
	if _, err := h.Attach("alice"); err != nil {
		t.Fatalf("Attach alice #2: %v", err)
	}
	if _, err := h.Attach("alice"); !errors.Is(err, hub.ErrUserStreams) {
		t.Fatalf("Attach alice #3: err = %v, want ErrUserStreams", err)
	}
	if _, err := h.Attach("bob"); err != nil {
		t.Fatalf("Attach bob: %v", err)
	}
	if _, err := h.Attach("carol"); !errors.Is(err, hub.ErrTooManyStreams) {
		t.Fatalf("Attach carol over MaxStreams: err = %v, want ErrTooManyStreams", err)
	}
	if got := h.Online("alice"); got != 2 {
		t.Errorf("Online(alice) = %d, want 2", got)
	}
	if got := h.Open(); got != 3 {
		t.Errorf("Open() = %d, want 3", got)
	}
	if got := h.UsersOnline(); got != 2 {
		t.Errorf("UsersOnline() = %d, want 2", got)
	}
	if got := h.Metrics.Opened.Load(); got != 3 {
		t.Errorf("Metrics.Opened = %d, want 3 (refused attaches do not count)", got)
	}

	// Closing a stream frees its slots, for the user and in all.
	a1.Close()
	eventually(t, "alice's closed stream to leave the hub", func() bool { return h.Online("alice") == 1 && h.Open() == 2 })
	if _, err := h.Attach("carol"); err != nil {
		t.Fatalf("Attach carol after a close: %v", err)
	}
	if _, err := h.Attach("alice"); !errors.Is(err, hub.ErrTooManyStreams) {
		t.Fatalf("Attach alice at MaxStreams: err = %v, want ErrTooManyStreams", err)
	}

	h.Close(0)
	if _, err := h.Attach("dave"); !errors.Is(err, hub.ErrClosed) {
		t.Fatalf("Attach after Close: err = %v, want ErrClosed", err)
	}
}

func TestFramesBeforeStartFollowPreludeInOrder(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	s, srv, r := attachUnstarted(t, h, p, "u")
	var live [5]atomic.Bool
	var want bytes.Buffer
	prelude := []byte("HTTP/1.1 200 OK\r\n\r\nretry: 2000\n\nid: 1\ndata: replayed\n\n")
	want.Write(prelude)
	for i := range live {
		f := frame(100+i, 64)
		want.Write(f)
		h.Send("u", f, &live[i])
	}
	// Nothing reaches the socket before Start.
	r.quiet(t, 50*time.Millisecond, 0)
	for i := range live {
		if live[i].Load() {
			t.Fatalf("frame %d marked delivered before Start", i)
		}
	}

	var replayed [2]atomic.Bool
	if err := s.Start(srv, replayOf(prelude, []*atomic.Bool{&replayed[0], &replayed[1]})); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for i := range replayed {
		if !replayed[i].Load() {
			t.Errorf("replayed mark %d not set when Start returned", i)
		}
	}
	r.waitBytes(t, 5*time.Second, want.Bytes())
	eventually(t, "marks of queued frames", func() bool {
		for i := range live {
			if !live[i].Load() {
				return false
			}
		}
		return true
	})
	eventually(t, "Delivered metric", func() bool { return h.Metrics.Delivered.Load() == uint64(len(replayed)+len(live)) })

	// Live frames after Start follow in order too.
	for i := range 20 {
		f := frame(200+i, 100)
		want.Write(f)
		h.Send("u", f, nil)
	}
	r.waitBytes(t, 5*time.Second, want.Bytes())
}

func TestQueueOverflowBeforeStartCutsStream(t *testing.T) {
	h := newHub(t, hub.Options{QueueLen: 3})
	p := newPairer(t)
	s, srv, r := attachUnstarted(t, h, p, "u")
	for i := range 4 {
		h.Send("u", frame(i, 32), nil)
	}
	if got := h.Metrics.Cut.Load(); got != 1 {
		t.Fatalf("Metrics.Cut = %d, want 1", got)
	}
	if err := s.Start(srv, replayOf([]byte("prelude\n\n"), nil)); !errors.Is(err, hub.ErrClosed) {
		t.Fatalf("Start of a cut stream: err = %v, want ErrClosed", err)
	}
	got := r.waitEOF(t, 5*time.Second)
	if bytes.Contains(got, []byte("id:")) {
		t.Errorf("a cut stream wrote queued frames: %q", got)
	}
	eventually(t, "cut stream to leave the hub", func() bool { return h.Online("u") == 0 })
}

func TestSendReachesEveryStreamOfUserOnly(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	us := startLives(t, h, p, "u", 3)
	rv := startLive(t, h, p, "v")
	if got := h.Online("u"); got != 3 {
		t.Fatalf("Online(u) = %d, want 3", got)
	}

	var mark atomic.Bool
	fs, want := liveFrames(10, 200)
	for _, f := range fs[:9] {
		h.Send("u", f, nil)
	}
	h.Send("u", fs[9], &mark)
	h.Send("nobody", frame(99, 50), nil) // no streams: a no-op
	for _, r := range us {
		r.waitBytes(t, 5*time.Second, want)
	}
	eventually(t, "mark of the last frame", mark.Load)
	rv.quiet(t, 100*time.Millisecond, len("P\n\n"))
}

func TestCloseUserEndsItsStreams(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	rs := startLives(t, h, p, "gone", 2)
	rk := startLive(t, h, p, "keep")

	h.Send("gone", frame(1, 50), nil)
	for _, r := range rs {
		r.waitBytes(t, 5*time.Second, append([]byte("P\n\n"), frame(1, 50)...))
	}
	h.CloseUser("gone")
	for _, r := range rs {
		r.waitEOF(t, 5*time.Second)
	}
	eventually(t, "Online(gone) == 0", func() bool { return h.Online("gone") == 0 })
	if got := h.Open(); got != 1 {
		t.Errorf("Open() = %d after CloseUser, want 1", got)
	}
	h.Send("gone", frame(2, 50), nil) // must not panic or reach anyone

	// The other user is untouched.
	h.Send("keep", frame(3, 50), nil)
	rk.waitBytes(t, 5*time.Second, append([]byte("P\n\n"), frame(3, 50)...))
}

// TestSlowReaderIsolation: a client that never reads is cut once its queue
// overflows, while the same user's other stream and another user's stream
// get every frame promptly, and Send never blocks.
func TestSlowReaderIsolation(t *testing.T) {
	const queueLen = 4
	h := newHub(t, hub.Options{QueueLen: queueLen, WriteTimeout: time.Minute})
	p := newPairer(t)

	slowSrv, slowCli := p.pair(t, true) // never read until the end
	fastSrv, fastCli := p.pair(t, false)
	otherSrv, otherCli := p.pair(t, false)
	fast, other := startReader(fastCli), startReader(otherCli)

	prelude := []byte("P\n\n")
	for _, c := range []struct {
		user string
		conn net.Conn
	}{{"u", slowSrv}, {"u", fastSrv}, {"v", otherSrv}} {
		s, err := h.Attach(c.user)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(c.conn, replayOf(prelude, nil)); err != nil {
			t.Fatal(err)
		}
	}

	const frames, size = 120, 64 << 10
	var marks [frames]atomic.Bool
	want := append([]byte(nil), prelude...)
	var sendTime, worst time.Duration
	cutAt := -1
	for i := range frames {
		f := frame(i, size)
		want = append(want, f...)
		t0 := time.Now()
		h.Send("u", f, &marks[i])
		h.Send("v", f, nil)
		sendTime += time.Since(t0)
		// Each frame must reach both fast readers promptly, however far
		// behind the slow one is.
		t1 := time.Now()
		n := len(want)
		for _, r := range []*reader{fast, other} {
			r.waitLen(t, 5*time.Second, fmt.Sprintf("frame %d on a fast stream", i), n)
		}
		worst = max(worst, time.Since(t1))
		if cutAt < 0 && h.Metrics.Cut.Load() > 0 {
			cutAt = i
		}
	}
	t.Logf("slow stream cut at frame %d; total Send time %v; worst fast-reader latency %v", cutAt, sendTime, worst)
	if got := h.Metrics.Cut.Load(); got != 1 {
		t.Fatalf("Metrics.Cut = %d, want 1 (only the slow stream)", got)
	}
	if sendTime > 2*time.Second {
		t.Errorf("Send took %v in all: it must not wait for slow readers", sendTime)
	}
	fast.waitBytes(t, 5*time.Second, want)
	other.waitBytes(t, 5*time.Second, want)
	// The writer sets a mark after its write returns, which can be after
	// the reader has the bytes.
	for i := range marks {
		eventually(t, fmt.Sprintf("mark of frame %d, which the fast stream got", i), marks[i].Load)
	}
	eventually(t, "slow stream to leave the hub", func() bool { return h.Online("u") == 1 })

	// The slow client, reading at last, finds a prefix of the stream and then
	// a clean end: it reconnects and the replay fills the gap.
	got := startReader(slowCli).waitEOF(t, 10*time.Second)
	if !bytes.HasPrefix(want, got) {
		t.Fatalf("slow client got %d bytes that are not a prefix of the stream", len(got))
	}
	if len(got) >= len(want) {
		t.Fatalf("slow client got the whole stream (%d bytes): it was never backed up", len(got))
	}

	// The survivor still receives live frames.
	f := frame(999, 100)
	h.Send("u", f, nil)
	fast.waitBytes(t, 5*time.Second, append(want, f...))
}

func TestClosedClientIsNoticed(t *testing.T) {
	h := newHub(t, hub.Options{Heartbeat: 100 * time.Millisecond})
	p := newPairer(t)
	srv, cli := p.pair(t, false)
	s, _ := h.Attach("u")
	if err := s.Start(srv, replayOf([]byte("P\n\n"), nil)); err != nil {
		t.Fatal(err)
	}
	r2 := startLive(t, h, p, "u")
	if h.Online("u") != 2 {
		t.Fatalf("Online = %d, want 2", h.Online("u"))
	}
	start := time.Now()
	cli.Close()
	eventually(t, "the closed client's stream to be dropped", func() bool { return h.Online("u") == 1 })
	t.Logf("closed client noticed after %v", time.Since(start))
	// The other stream is still served.
	h.Send("u", frame(1, 50), nil)
	r2.wait(t, 5*time.Second, "frame on the surviving stream", func(b []byte, _ bool, _ error) bool {
		return bytes.Contains(b, frame(1, 50))
	})
}

func TestCloseFlushesThenEnds(t *testing.T) {
	h := hub.New(hub.Options{WriteTimeout: time.Minute})
	p := newPairer(t)
	srv, cli := p.pair(t, true) // small buffers: the frames back up
	s, _ := h.Attach("u")
	prelude := []byte("P\n\n")
	if err := s.Start(srv, replayOf(prelude, nil)); err != nil {
		t.Fatal(err)
	}
	r2 := startStream(t, p, string(prelude), func() (*hub.Stream, error) { return h.Attach("w") })

	const frames = 40
	var marks [frames]atomic.Bool
	want := append([]byte(nil), prelude...)
	for i := range frames {
		f := frame(i, 32<<10)
		want = append(want, f...)
		h.Send("u", f, &marks[i])
	}
	h.Send("w", frame(7, 10), nil)

	// The client starts reading only after Close has begun.
	readerc := make(chan *reader, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		readerc <- startReader(cli)
	}()
	start := time.Now()
	h.Close(20 * time.Second)
	took := time.Since(start)
	if took > 10*time.Second {
		t.Errorf("Close took %v: it should return once the queues are written", took)
	}
	r := <-readerc
	got := r.waitEOF(t, 10*time.Second)
	if !bytes.Equal(got, want) {
		t.Fatalf("after Close the client had %d bytes, want all %d queued", len(got), len(want))
	}
	for i := range marks {
		if !marks[i].Load() {
			t.Errorf("frame %d written but not marked delivered", i)
		}
	}
	if got := r2.waitEOF(t, 5*time.Second); !bytes.Equal(got, append(append([]byte(nil), prelude...), frame(7, 10)...)) {
		t.Errorf("other stream got %q", got)
	}
	if h.Open() != 0 {
		eventually(t, "all streams to leave", func() bool { return h.Open() == 0 })
	}
	if _, err := h.Attach("x"); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Attach after Close: %v, want ErrClosed", err)
	}
	h.Close(time.Second) // twice is fine
}

func TestCloseGivesUpAfterTimeout(t *testing.T) {
	h := hub.New(hub.Options{WriteTimeout: time.Minute})
	p := newPairer(t)
	srv, cli := p.pair(t, true)
	s, _ := h.Attach("u")
	if err := s.Start(srv, replayOf(nil, nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		h.Send("u", frame(i, 64<<10), nil)
	}
	start := time.Now()
	h.Close(300 * time.Millisecond)
	took := time.Since(start)
	if took < 250*time.Millisecond || took > 5*time.Second {
		t.Errorf("Close(300ms) with a stalled reader took %v", took)
	}
	// The connection is closed: the client drains what was in flight and
	// reaches the end.
	r := startReader(cli)
	r.wait(t, 10*time.Second, "end of stream", func(_ []byte, done bool, _ error) bool { return done })
}

func TestStartAfterCloseUserDuringReplay(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	s, srv, r := attachUnstarted(t, h, p, "u")
	h.CloseUser("u") // e.g. revoked while the replay was being read
	if err := s.Start(srv, replayOf([]byte("P\n\n"), nil)); !errors.Is(err, hub.ErrClosed) {
		t.Fatalf("Start of a closed stream: %v, want ErrClosed", err)
	}
	r.waitEOF(t, 5*time.Second)
}

// TestConcurrentSendersKeepFramesWhole: many goroutines send to many users
// at once; every stream gets every frame, each one whole.
func TestConcurrentSendersKeepFramesWhole(t *testing.T) {
	const users, perUser, senders, each = 6, 2, 4, 150
	h := newHub(t, hub.Options{QueueLen: senders * each * 2})
	p := newPairer(t)
	var rs []*reader
	for u := range users {
		for range perUser {
			rs = append(rs, startStream(t, p, "", func() (*hub.Stream, error) { return h.Attach(fmt.Sprint("user", u)) }))
		}
	}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				f := []byte(fmt.Sprintf("id: %d\ndata: %s\n\n", g*each+i, strings.Repeat("x", (g*each+i)%300)))
				for u := range users {
					h.Send(fmt.Sprint("user", u), f, nil)
				}
			}
		})
	}
	wg.Wait()
	for i, r := range rs {
		got := r.wait(t, 10*time.Second, "all frames", func(b []byte, done bool, _ error) bool {
			return bytes.Count(b, []byte("\n\n")) >= senders*each || done
		})
		seen := map[string]bool{}
		for _, fr := range strings.SplitAfter(string(got), "\n\n") {
			if fr == "" {
				continue
			}
			head, _, ok := strings.Cut(strings.TrimPrefix(fr, "id: "), "\n")
			id, err := strconv.Atoi(head)
			if !ok || err != nil || !strings.HasPrefix(fr, "id: ") {
				t.Fatalf("stream %d: torn frame %q", i, fr)
			}
			if want := fmt.Sprintf("id: %d\ndata: %s\n\n", id, strings.Repeat("x", id%300)); fr != want {
				t.Fatalf("stream %d: frame %q, want %q", i, fr, want)
			}
			if seen[fr] {
				t.Fatalf("stream %d: frame %d twice", i, id)
			}
			seen[fr] = true
		}
		if len(seen) != senders*each {
			t.Fatalf("stream %d got %d frames, want %d", i, len(seen), senders*each)
		}
	}
	if c := h.Metrics.Cut.Load(); c != 0 {
		t.Errorf("Metrics.Cut = %d, want 0", c)
	}
}
