//go:build !unix || solaris || illumos

package store

import (
	"errors"
	"os"
)

// lockDir needs flock(2): without it two hubs could append to one log, so
// on a system without it the store does not open at all.
func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("store: locking a data directory needs a Unix system")
}
