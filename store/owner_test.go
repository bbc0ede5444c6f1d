//go:build unix

package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCompactKeepsOwner: a log compacted by root keeps its owner (a
// service's user), so the service can open it again.
func TestCompactKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the log away")
	}
	s, opts := newStore(t, nil)
	putUser(t, s, "ann")
	path := filepath.Join(opts.Dir, LogName)
	if err := os.Chown(path, 4242, 4243); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4243 {
		t.Fatalf("compacted log owned by %d:%d, want 4242:4243", st.Uid, st.Gid)
	}
}
