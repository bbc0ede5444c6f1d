//go:build unix

package store

import (
	"os"
	"syscall"
)

// sameOwner gives f the owner of like. An offline `rtchub compact` run by
// root on a service's data directory (a systemd DynamicUser's) must not
// leave a log that the service can no longer open. Only root may give a
// file away; anyone else made f as the owner already.
func sameOwner(f, like *os.File) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := like.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
