package store

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultyLog is a LogFile whose writes and syncs fail when told to.
type faultyLog struct {
	LogFile
	mu        sync.Mutex
	writeErr  error // the next writes fail with it (after half the bytes)
	syncErr   error // the next syncs fail with it
	syncCalls atomic.Int64
}

func (f *faultyLog) Write(b []byte) (int, error) {
	f.mu.Lock()
	err := f.writeErr
	f.mu.Unlock()
	if err != nil {
		n, _ := f.LogFile.Write(b[:len(b)/2]) // a write the disk cut short
		return n, err
	}
	return f.LogFile.Write(b)
}

func (f *faultyLog) Datasync() error {
	f.syncCalls.Add(1)
	f.mu.Lock()
	err := f.syncErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.LogFile.Datasync()
}

func (f *faultyLog) set(write, sync error) {
	f.mu.Lock()
	f.writeErr, f.syncErr = write, sync
	f.mu.Unlock()
}

func faultyOptions(dir string) (Options, *faultyLog) {
	fl := &faultyLog{}
	opts := testOptions(dir, nil)
	opts.Fsync = FsyncAlways
	opts.WrapLog = func(l LogFile) LogFile { fl.LogFile = l; return fl }
	return opts, fl
}

// TestDiskFullHeals: a write refused for space is a DiskFullError that
// changes nothing (the log still ends on a whole record), /healthz's
// Healthy says so, and the next write after space returns succeeds.
func TestDiskFullHeals(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := t.TempDir()
			opts, fl := faultyOptions(dir)
			s := mustOpen(t, opts)
			putUser(t, s, "ann")
			before := notify(t, s, Notification{Users: []string{"ann"}})
			seq := s.Stats().Seq
			fl.set(errno, nil)
			_, err := s.Notify(bg, Notification{Users: []string{"ann"}, Body: body(`1`), TTL: time.Hour})
			var dfe *DiskFullError
			if !errors.As(err, &dfe) || !errors.Is(err, ErrDiskFull) || !errors.Is(err, errno) {
				t.Fatalf("write on a full disk: %v, want a DiskFullError", err)
			}
			if err := s.Healthy(); !errors.Is(err, ErrDiskFull) {
				t.Errorf("Healthy on a full disk: %v", err)
			}
			if got := s.Stats().Seq; got != seq {
				t.Errorf("a refused write moved seq %d -> %d", seq, got)
			}
			if n := checkIntact(t, readFile(t, logPath(dir))); n != int(seq) {
				t.Errorf("log holds %d intact records after the refusal, want %d (cut back to whole records)", n, seq)
			}
			if s.Metrics.WritesRefused.Load() != 1 {
				t.Errorf("refused writes counted %d", s.Metrics.WritesRefused.Load())
			}
			select {
			case <-s.Fatal():
				t.Fatal("a full disk poisoned the store")
			default:
			}
			fl.set(nil, nil) // space is back
			after := notify(t, s, Notification{Users: []string{"ann"}})
			if err := s.Healthy(); err != nil {
				t.Errorf("Healthy once space is back: %v", err)
			}
			if ids := pendingIDs(t, s, "ann"); len(ids) != 2 || ids[0] != before.ID || ids[1] != after.ID {
				t.Errorf("pending %v, want the two accepted messages", ids)
			}
			s = reopen(t, s, opts)
			if ids := pendingIDs(t, s, "ann"); len(ids) != 2 {
				t.Errorf("after a restart: pending %v", ids)
			}
		})
	}
}

// TestFailedSyncPoisons: after a failed fsync (or a write that failed for
// any reason but space) the store takes no more writes, says why, closes
// Fatal, and a restart replays what the log holds.
func TestFailedSyncPoisons(t *testing.T) {
	for _, tc := range []struct {
		name        string
		write, sync error
		maybe       bool // the failing write's records may be in the log
	}{
		{"fsync EIO", nil, syscall.EIO, true},
		{"fsync ENOSPC", nil, syscall.ENOSPC, true},
		{"write EIO", syscall.EIO, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts, fl := faultyOptions(dir)
			s := mustOpen(t, opts)
			putUser(t, s, "ann")
			kept := notify(t, s, Notification{Users: []string{"ann"}})
			fl.set(tc.write, tc.sync)
			if _, err := s.Notify(bg, Notification{Users: []string{"ann"}, Body: body(`1`), TTL: time.Hour}); !errors.Is(err, ErrPoisoned) || errors.Is(err, ErrMaybeSaved) != tc.maybe {
				t.Fatalf("write: %v, want ErrPoisoned, and ErrMaybeSaved %v", err, tc.maybe)
			}
			select {
			case <-s.Fatal():
			case <-time.After(time.Second):
				t.Fatal("Fatal not closed")
			}
			fl.set(nil, nil) // even if the disk seems fine again: no more writes
			if _, err := s.Notify(bg, Notification{Users: []string{"ann"}, Body: body(`2`), TTL: time.Hour}); !errors.Is(err, ErrPoisoned) || errors.Is(err, ErrMaybeSaved) {
				t.Errorf("a write after the poison: %v, want ErrPoisoned, not saved", err)
			}
			if err := s.Healthy(); !errors.Is(err, ErrPoisoned) {
				t.Errorf("Healthy: %v", err)
			}
			syncs := fl.syncCalls.Load()
			s.Close()
			if fl.syncCalls.Load() != syncs {
				t.Error("Close synced a poisoned log")
			}
			if got := string(readFile(t, dir+"/lock")); got == lockClean {
				t.Error("a poisoned store left a clean lock")
			}
			s = mustOpen(t, opts)
			if ids := pendingIDs(t, s, "ann"); len(ids) < 1 || ids[0] != kept.ID {
				t.Errorf("after the restart: pending %v, want %s first", ids, kept.ID)
			}
		})
	}
}

// TestCleanStopAfterDiskFull: SIGTERM after a write was refused for space
// leaves a clean lock, and the next start jumps no seq.
func TestCleanStopAfterDiskFull(t *testing.T) {
	dir := t.TempDir()
	opts, fl := faultyOptions(dir)
	s := mustOpen(t, opts)
	putUser(t, s, "ann")
	fl.set(syscall.ENOSPC, nil)
	if _, err := s.Notify(bg, Notification{Users: []string{"ann"}, Body: body(`1`), TTL: time.Hour}); !errors.Is(err, ErrDiskFull) {
		t.Fatal(err)
	}
	fl.set(nil, nil)
	seq := s.Stats().Seq
	mustClose(t, s)
	if got := string(readFile(t, dir+"/lock")); got != lockClean {
		t.Errorf("lock after a clean stop that followed a refused write: %q", got)
	}
	s = mustOpen(t, opts)
	if got := s.Stats().Seq; got != seq {
		t.Errorf("seq %d after a clean restart, want %d", got, seq)
	}
}

// After a compaction the log is the snapshot's file: a write the disk cut
// short is truncated away, and the next batch lands right after the last
// whole one (no hole of NULs for the restart to cut, with the 202s after
// it).
func TestDiskFullAfterCompactionLeavesNoHole(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir, nil)
	opts.Fsync = FsyncAlways
	var cur atomic.Pointer[faultyLog] // the compaction wraps its new file too
	opts.WrapLog = func(l LogFile) LogFile {
		f := &faultyLog{LogFile: l}
		cur.Store(f)
		return f
	}
	s := mustOpen(t, opts)
	putUser(t, s, "u")
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	fl := cur.Load()
	fl.set(syscall.ENOSPC, nil)
	if _, err := s.Notify(bg, Notification{Users: []string{"u"}, Event: "e", Body: body(`1`), TTL: time.Hour}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("notify on a full disk: %v", err)
	}
	fl.set(nil, nil)
	rc, err := s.Notify(bg, Notification{Users: []string{"u"}, Event: "e", Body: body(`2`), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if data := readFile(t, logPath(dir)); bytes.IndexByte(data, 0) >= 0 {
		t.Fatalf("the log holds %d NUL bytes", bytes.Count(data, []byte{0}))
	}
	s2 := mustOpen(t, testOptions(dir, nil))
	defer mustClose(t, s2)
	if got := pendingIDs(t, s2, "u"); !slices.Equal(got, []string{rc.ID}) {
		t.Fatalf("after a restart u has %v pending, want the 202'd %s", got, rc.ID)
	}
}

// statfs knows nothing of quotas: a write refused for one keeps the store
// unhealthy until a write goes through.
func TestQuotaStaysUnhealthy(t *testing.T) {
	s, opts := newStore(t, nil)
	putUser(t, s, "u")
	mustClose(t, s)
	opts.WrapLog = func(f LogFile) LogFile { return quotaLog{f.(osLog)} }
	s = mustOpen(t, opts)
	defer s.Close()
	if _, err := s.Notify(bg, Notification{Users: []string{"u"}, Event: "e", Body: body(`1`), TTL: time.Hour}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("notify over the quota: %v", err)
	}
	if err := s.Healthy(); !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("Healthy over the quota: %v, want EDQUOT", err)
	}
}

// quotaLog is the real log file (it can tell free space) whose writes are
// refused for a quota.
type quotaLog struct{ osLog }

func (quotaLog) Write([]byte) (int, error) { return 0, syscall.EDQUOT }
