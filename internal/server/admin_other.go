//go:build !unix

package server

import (
	"errors"
	"net"
)

// listenAdmin has no socket to offer: the admin commands then need the
// hub stopped.
func listenAdmin(string) (net.Listener, error) {
	return nil, errors.New("the admin socket needs a Unix system")
}
