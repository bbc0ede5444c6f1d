package hub_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rtchub/hub"
)

// ---- helpers: real loopback TCP pairs and a client-side reader ----

// pairer hands out connected loopback TCP pairs from one listener.
type pairer struct {
	ln net.Listener
}

func newPairer(tb testing.TB) *pairer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tb.Cleanup(func() { ln.Close() })
	return &pairer{ln: ln}
}

// pair dials the listener and returns the accepted (server) side and the
// dialled (client) side. smallBuffers shrinks the client's receive buffer
// (before connecting) and the server's send buffer, so that a client that
// never reads fills the path quickly.
func (p *pairer) pair(tb testing.TB, smallBuffers bool) (srv, cli *net.TCPConn) {
	tb.Helper()
	d := net.Dialer{}
	if smallBuffers {
		d.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	s, err := p.ln.Accept()
	if err != nil {
		tb.Fatalf("accept: %v", err)
	}
	srv, cli = s.(*net.TCPConn), c.(*net.TCPConn)
	if smallBuffers {
		if err := srv.SetWriteBuffer(4096); err != nil {
			tb.Fatalf("SetWriteBuffer: %v", err)
		}
	}
	tb.Cleanup(func() {
		srv.Close()
		cli.Close()
	})
	return srv, cli
}

// reader collects everything a client connection receives.
type reader struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	err     error // why reading stopped (io.EOF for a clean end)
	done    bool
	changed chan struct{}
}

func startReader(conn net.Conn) *reader {
	r := &reader{changed: make(chan struct{})}
	go func() {
		b := make([]byte, 64<<10)
		for {
			n, err := conn.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			if err != nil {
				r.err, r.done = err, true
			}
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

// wait blocks until cond holds for what has been read so far, or fails
// the test after timeout. It returns a copy of the bytes read.
func (r *reader) wait(tb testing.TB, timeout time.Duration, what string, cond func(b []byte, done bool, err error) bool) []byte {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		b := append([]byte(nil), r.buf.Bytes()...)
		done, err, ch := r.done, r.err, r.changed
		r.mu.Unlock()
		if cond(b, done, err) {
			return b
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out after %v waiting for %s; have %d bytes (done=%v err=%v): %.200q", timeout, what, len(b), done, err, b)
			return nil
		}
	}
}

// waitLen waits until at least n bytes have arrived or the stream ended,
// without copying what was read.
func (r *reader) waitLen(tb testing.TB, timeout time.Duration, what string, n int) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		have, done, ch := r.buf.Len(), r.done, r.changed
		r.mu.Unlock()
		if have >= n || done {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out after %v waiting for %s; have %d of %d bytes", timeout, what, have, n)
		}
	}
}

// waitBytes waits until exactly want has arrived (a longer stream fails).
func (r *reader) waitBytes(tb testing.TB, timeout time.Duration, want []byte) {
	tb.Helper()
	got := r.wait(tb, timeout, fmt.Sprintf("%d bytes", len(want)), func(b []byte, done bool, _ error) bool {
		return len(b) >= len(want) || done
	})
	if !bytes.Equal(got, want) {
		tb.Fatalf("client received %d bytes, want %d:\n got %.300q\nwant %.300q", len(got), len(want), got, want)
	}
}

// waitEOF waits for a clean end of stream and returns everything read.
func (r *reader) waitEOF(tb testing.TB, timeout time.Duration) []byte {
	tb.Helper()
	b := r.wait(tb, timeout, "end of stream", func(_ []byte, done bool, _ error) bool { return done })
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err != io.EOF {
		tb.Fatalf("stream ended with %v, want a clean EOF (FIN)", err)
	}
	return b
}

// quiet asserts nothing more arrives within d.
func (r *reader) quiet(tb testing.TB, d time.Duration, have int) {
	tb.Helper()
	time.Sleep(d)
	r.mu.Lock()
	n := r.buf.Len()
	r.mu.Unlock()
	if n != have {
		tb.Fatalf("client received %d bytes, want %d (nothing more)", n, have)
	}
}

func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startLive opens a stream of user whose replay is "P\n\n" and returns
// the client's reader of it.
func startLive(t *testing.T, h *hub.Hub, p *pairer, user string) *reader {
	t.Helper()
	srv, cli := p.pair(t, false)
	r := startReader(cli)
	s, err := h.Attach(user)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(srv, replayOf([]byte("P\n\n"), nil)); err != nil {
		t.Fatal(err)
	}
	return r
}

func newHub(tb testing.TB, opts hub.Options) *hub.Hub {
	tb.Helper()
	h := hub.New(opts)
	tb.Cleanup(func() { h.Close(0) })
	return h
}

func frame(i int, size int) []byte {
	head := fmt.Sprintf("id: %d\nevent: message\ndata: ", i)
	pad := size - len(head) - 2
	if pad < 1 {
		pad = 1
	}
	b := make([]byte, 0, len(head)+pad+2)
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte{byte('a' + i%26)}, pad)...)
	return append(b, "\n\n"...)
}

// ---- tests ----

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
	eventually(t, 2*time.Second, "alice's closed stream to leave the hub", func() bool { return h.Online("alice") == 1 && h.Open() == 2 })
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
	srv, cli := p.pair(t, false)
	r := startReader(cli)

	s, err := h.Attach("u")
	if err != nil {
		t.Fatal(err)
	}
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
	eventually(t, 2*time.Second, "marks of queued frames", func() bool {
		for i := range live {
			if !live[i].Load() {
				return false
			}
		}
		return true
	})
	eventually(t, 2*time.Second, "Delivered metric", func() bool { return h.Metrics.Delivered.Load() == uint64(len(replayed)+len(live)) })

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
	srv, cli := p.pair(t, false)
	r := startReader(cli)

	s, err := h.Attach("u")
	if err != nil {
		t.Fatal(err)
	}
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
	eventually(t, 2*time.Second, "cut stream to leave the hub", func() bool { return h.Online("u") == 0 })
}

func TestSendReachesEveryStreamOfUserOnly(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	var us []*reader
	for range 3 {
		r := startLive(t, h, p, "u")
		us = append(us, r)
	}
	rv := startLive(t, h, p, "v")
	if got := h.Online("u"); got != 3 {
		t.Fatalf("Online(u) = %d, want 3", got)
	}

	var mark atomic.Bool
	want := []byte("P\n\n")
	for i := range 10 {
		f := frame(i, 200)
		want = append(want, f...)
		if i == 9 {
			h.Send("u", f, &mark)
		} else {
			h.Send("u", f, nil)
		}
	}
	h.Send("nobody", frame(99, 50), nil) // no streams: a no-op
	for _, r := range us {
		r.waitBytes(t, 5*time.Second, want)
	}
	eventually(t, 2*time.Second, "mark of the last frame", mark.Load)
	rv.quiet(t, 100*time.Millisecond, len("P\n\n"))
}

func TestCloseUserEndsItsStreams(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	var rs []*reader
	for range 2 {
		r := startLive(t, h, p, "gone")
		rs = append(rs, r)
	}
	rk := startLive(t, h, p, "keep")

	h.Send("gone", frame(1, 50), nil)
	for _, r := range rs {
		r.waitBytes(t, 5*time.Second, append([]byte("P\n\n"), frame(1, 50)...))
	}
	h.CloseUser("gone")
	for _, r := range rs {
		r.waitEOF(t, 5*time.Second)
	}
	eventually(t, 2*time.Second, "Online(gone) == 0", func() bool { return h.Online("gone") == 0 })
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
	for i := range marks {
		if !marks[i].Load() {
			t.Fatalf("frame %d not marked delivered although the fast stream got it", i)
		}
	}
	eventually(t, 2*time.Second, "slow stream to leave the hub", func() bool { return h.Online("u") == 1 })

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

func TestHeartbeatPings(t *testing.T) {
	h := newHub(t, hub.Options{Heartbeat: 100 * time.Millisecond})
	p := newPairer(t)
	r := startLive(t, h, p, "u")
	got := r.wait(t, 5*time.Second, "two pings", func(b []byte, _ bool, _ error) bool {
		return bytes.Count(b, []byte(": ping\n\n")) >= 2
	})
	rest := strings.TrimPrefix(string(got), "P\n\n")
	if rest == string(got) || strings.ReplaceAll(rest, ": ping\n\n", "") != "" {
		t.Fatalf("stream is not prelude then pings: %q", got)
	}
	if n := h.Metrics.Pings.Load(); n < 2 {
		t.Errorf("Metrics.Pings = %d, want >= 2", n)
	}
	if n := h.Metrics.Delivered.Load(); n != 0 {
		t.Errorf("Metrics.Delivered = %d: pings are not message events", n)
	}
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
	eventually(t, 2*time.Second, "the closed client's stream to be dropped", func() bool { return h.Online("u") == 1 })
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
	srv2, cli2 := p.pair(t, false)
	s2, _ := h.Attach("w")
	if err := s2.Start(srv2, replayOf(prelude, nil)); err != nil {
		t.Fatal(err)
	}
	r2 := startReader(cli2)

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
		eventually(t, 2*time.Second, "all streams to leave", func() bool { return h.Open() == 0 })
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
	srv, cli := p.pair(t, false)
	r := startReader(cli)
	s, _ := h.Attach("u")
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
			srv, cli := p.pair(t, false)
			rs = append(rs, startReader(cli))
			s, err := h.Attach(fmt.Sprint("user", u))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(srv, replayOf(nil, nil)); err != nil {
				t.Fatal(err)
			}
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

// TestHeartbeatInterval: an idle stream gets a ping every Heartbeat (SPEC:
// "A comment line (: ping) is sent every 15 s (configurable)"), not every
// other one.
func TestHeartbeatInterval(t *testing.T) {
	const hb = 200 * time.Millisecond
	h := newHub(t, hub.Options{Heartbeat: hb})
	p := newPairer(t)
	srv, cli := p.pair(t, false)
	s, _ := h.Attach("u")
	if err := s.Start(srv, replayOf(nil, nil)); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	var got []byte
	b := make([]byte, 1024)
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(at) < 7 {
		n, err := cli.Read(b)
		if err != nil {
			t.Fatalf("read: %v after %d pings", err, len(at))
		}
		got = append(got, b[:n]...)
		for c := bytes.Count(got, []byte(": ping\n\n")); len(at) < c; {
			at = append(at, time.Now())
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	t.Logf("Heartbeat %v: gaps between pings %v", hb, gaps)
	if median > hb*3/2 {
		t.Errorf("idle stream pinged every %v (median), want every %v: the ping's own write marks the stream active, so the next heartbeat skips it (hub.go flush sets s.active; heartbeat treats that as traffic)", median, hb)
	}
}

// replayOf is a replay of one chunk for Stream.Start.
func replayOf(b []byte, flags []*atomic.Bool) func(func([]byte, []hub.Mark) error) error {
	var marks []hub.Mark
	for _, f := range flags {
		marks = append(marks, hub.Mark{Flag: f})
	}
	return func(emit func([]byte, []hub.Mark) error) error { return emit(b, marks) }
}

// A Burst keeps its streams from the writers until Flush, and frames that
// others send meanwhile wait with it, in order.
func TestBurstHoldsFramesUntilFlush(t *testing.T) {
	h := newHub(t, hub.Options{})
	p := newPairer(t)
	r := startLive(t, h, p, "u")
	b := h.NewBurst()
	var mark atomic.Bool
	want := []byte("P\n\n")
	for i := range 3 {
		f := frame(i, 100)
		want = append(want, f...)
		if i == 1 {
			h.SendTo([]hub.Target{{User: "u"}}, &hub.Frame{B: f})
			continue
		}
		b.SendTo([]hub.Target{{User: "u", Mark: &mark}}, &hub.Frame{B: f, Msg: fmt.Sprint("m", i)})
	}
	r.quiet(t, 100*time.Millisecond, len("P\n\n"))
	if mark.Load() {
		t.Fatal("a held frame is marked delivered")
	}
	b.Flush()
	r.waitBytes(t, 5*time.Second, want)
	eventually(t, 2*time.Second, "mark of the held frames", mark.Load)
	// The burst is empty again: a flush sends nothing twice.
	b.Flush()
	r.quiet(t, 50*time.Millisecond, len(want))
}
