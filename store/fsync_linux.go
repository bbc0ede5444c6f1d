package store

import (
	"os"
	"syscall"
)

// fdatasync flushes file data and the metadata needed to read it back (the
// size), skipping timestamps: the cheapest call that keeps an append.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
