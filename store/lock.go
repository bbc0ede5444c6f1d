package store

import (
	"errors"
	"os"
)

// The lock file also says whether the last hub stopped cleanly, and, if
// it did not, whether it synced every batch before sending its frames.
const (
	lockRunning       = "running\n"        // with FsyncInterval or FsyncNever
	lockRunningSynced = "running synced\n" // with FsyncAlways
	lockClean         = "stopped\n"
)

// runningWord is what the lock file says while a store of mode runs.
func runningWord(mode FsyncMode) string {
	if mode == FsyncAlways {
		return lockRunningSynced
	}
	return lockRunning
}

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
