//go:build !unix

package hub

import (
	"errors"
	"net"
	"syscall"
)

// Without Unix sockets' non-blocking writes, every stream writes with
// deadlines (rawConnOf gives none), and a closed peer is noticed by the
// next write rather than by a peek.

type rawWriter struct{}

func newRawWriter() *rawWriter { return &rawWriter{} }

func (*rawWriter) writeNow(syscall.RawConn, []byte) (int, error) {
	return 0, errors.ErrUnsupported
}

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func peerClosed(syscall.RawConn) bool { return false }
