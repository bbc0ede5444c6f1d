//go:build unix

package server

import (
	"net"
	"os"
	"syscall"
)

// listenAdmin opens the operator socket at path, readable only by the
// hub's user.
func listenAdmin(path string) (net.Listener, error) {
	os.Remove(path) // a stale socket of a hub that was killed; the dir lock says no hub runs
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	return ln, err
}
