//go:build unix

package store

import "syscall"

// freeBytes is the space an unprivileged writer has left on dir's file
// system, or 0 when it cannot tell.
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return uint64(st.Bavail) * uint64(st.Bsize)
}
