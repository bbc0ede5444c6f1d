package hub_test

// The hub's tests run real loopback TCP pairs: the hub writes to the
// server side, and a reader on the client side sees what a client would.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rtchub/hub"
	"rtchub/internal/testkit"
)

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

// eventually waits for what the hub does in the background (a stream
// leaving, a mark set) and fails the test if cond does not hold within 2 s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testkit.EventuallyWithin(tb, 2*time.Second, what, cond)
}

// startLive opens a stream of user whose replay is "P\n\n" and returns
// the client's reader of it.
func startLive(t *testing.T, h *hub.Hub, p *pairer, user string) *reader {
	t.Helper()
	return startStream(t, p, "P\n\n", func() (*hub.Stream, error) { return h.Attach(user) })
}

// startLives starts n streams of user as startLive does.
func startLives(t *testing.T, h *hub.Hub, p *pairer, user string, n int) []*reader {
	t.Helper()
	rs := make([]*reader, n)
	for i := range rs {
		rs[i] = startLive(t, h, p, user)
	}
	return rs
}

// startStream starts the stream that attach opens on a new loopback pair,
// with prelude as its replay, and returns the client's reader of it.
func startStream(t *testing.T, p *pairer, prelude string, attach func() (*hub.Stream, error)) *reader {
	t.Helper()
	srv, cli := p.pair(t, false)
	r := startReader(cli)
	s, err := attach()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(srv, replayOf([]byte(prelude), nil)); err != nil {
		t.Fatal(err)
	}
	return r
}

// attachUnstarted attaches a stream of user on a new loopback pair but
// does not start it: it returns the stream, the server side to start it
// on and the client's reader.
func attachUnstarted(t *testing.T, h *hub.Hub, p *pairer, user string) (*hub.Stream, *net.TCPConn, *reader) {
	t.Helper()
	srv, cli := p.pair(t, false)
	r := startReader(cli)
	s, err := h.Attach(user)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv, r
}

func newHub(tb testing.TB, opts hub.Options) *hub.Hub {
	tb.Helper()
	h := hub.New(opts)
	tb.Cleanup(func() { h.Close(0) })
	return h
}

// liveFrames returns frames 0 to n-1 of size, and all that a stream started
// by startLive shows once they are sent: its replay, then each of them.
func liveFrames(n, size int) ([][]byte, []byte) {
	fs := make([][]byte, n)
	want := []byte("P\n\n")
	for i := range fs {
		fs[i] = frame(i, size)
		want = append(want, fs[i]...)
	}
	return fs, want
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

// replayOf is a replay of one chunk for Stream.Start.
func replayOf(b []byte, flags []*atomic.Bool) func(func([]byte, []hub.Mark) error) error {
	var marks []hub.Mark
	for _, f := range flags {
		marks = append(marks, hub.Mark{Flag: f})
	}
	return func(emit func([]byte, []hub.Mark) error) error { return emit(b, marks) }
}
