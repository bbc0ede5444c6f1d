package store

import "syscall"

// freeBytes is the space an unprivileged writer has left on dir's file
// system, or 0 when it cannot tell. (Frsize is the unit of the counts;
// Bsize, the preferred I/O size, differs from it on some file systems.)
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return uint64(st.Bavail) * unit
}
