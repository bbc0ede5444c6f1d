//go:build unix && !rtchub_nobench

package bench

import "syscall"

// raiseFileLimit lifts the soft open-file limit to the hard one: each
// stream is a socket.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
