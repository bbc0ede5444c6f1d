//go:build unix

package server

import (
	"net"
	"os"
	"path/filepath"
)

// listenAdmin opens the operator socket at path, readable only by the
// hub's user. The socket is made in a private directory and moved into
// place once its mode is 0600, so there is no moment at which another user
// could connect; changing the process's umask instead would race with
// every file other goroutines (or child processes) create meanwhile.
func listenAdmin(path string) (net.Listener, error) {
	os.Remove(path) // a stale socket of a hub that was killed; the dir lock says no hub runs
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".admin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ln, err := net.Listen("unix", filepath.Join(tmp, filepath.Base(path)))
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // Run removes path
	if err := os.Chmod(filepath.Join(tmp, filepath.Base(path)), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, filepath.Base(path)), path); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
