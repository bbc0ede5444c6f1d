package store

import (
	"errors"
	"os"
)

// The lock file also says whether the last hub stopped cleanly.
const (
	lockRunning = "running\n"
	lockClean   = "stopped\n"
)

// markLock records the hub's state in its lock file, durably.
func markLock(f *os.File, state string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(state), 0); err != nil {
		return err
	}
	return f.Sync()
}

// ErrLocked means another process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another rtchub process")
