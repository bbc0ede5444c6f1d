//go:build unix

package hub

// Non-blocking writes and peeks on the stream sockets' file descriptors,
// through syscall.RawConn: the writers never park on a slow reader.

import (
	"io"
	"net"
	"syscall"
)

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

// writeNow writes what the socket takes of b now.
func (rw *rawWriter) writeNow(raw syscall.RawConn, b []byte) (int, error) {
	rw.b, rw.n, rw.err = b, 0, nil
	err := raw.Write(rw.fn)
	if err == nil {
		err = rw.err
	}
	n := rw.n
	rw.b = nil
	return n, err
}

// rawConnOf returns conn's RawConn, or nil when it has none (the stream
// then writes with deadlines).
func rawConnOf(conn net.Conn) syscall.RawConn {
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
}

// peerClosed peeks at the socket: a readable end-of-file means the client
// closed the connection, which a write would only notice later.
func peerClosed(raw syscall.RawConn) bool {
	gone := false
	var b [1]byte
	raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil
		return true
	})
	return gone
}
