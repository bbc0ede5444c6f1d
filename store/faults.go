package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LogFile is what the store needs of its log file. Options.WrapLog may wrap
// it: the seam through which tests make writes and syncs fail.
type LogFile interface {
	io.Writer
	// Datasync puts the file's data, and what is needed to read it back,
	// on the disk (fdatasync).
	Datasync() error
	Sync() error
	Truncate(size int64) error
	Close() error
}

// osLog is a LogFile on an *os.File.
type osLog struct{ *os.File }

func (f osLog) Datasync() error { return fdatasync(f.File) }

// FreeBytes is the space left for the log, or 0 when it cannot tell.
func (f osLog) FreeBytes() uint64 { return freeBytes(filepath.Dir(f.Name())) }

// spaceTeller is a LogFile that can say how much space is left (osLog
// can; a test's wrapper that makes writes fail cannot, so its disk stays
// full until a write goes through).
type spaceTeller interface{ FreeBytes() uint64 }

// logFile is f as the store writes it, wrapped if Options.WrapLog says so.
func (s *Store) logFile(f *os.File) LogFile {
	var lf LogFile = osLog{f}
	if s.opts.WrapLog != nil {
		lf = s.opts.WrapLog(lf)
	}
	return lf
}

// ErrDiskFull is the cause of a write refused because the disk (or the
// user's quota) is full: nothing of it was kept, and the store takes
// writes again by itself once there is space.
var ErrDiskFull = errors.New("disk full")

// DiskFullError is a write refused for lack of space.
type DiskFullError struct{ Err error }

func (e *DiskFullError) Error() string { return "disk full: " + e.Err.Error() }

func (e *DiskFullError) Unwrap() []error { return []error{ErrDiskFull, e.Err} }

// ErrPoisoned is the cause of every write refused after a failed sync or a
// failed write other than for space: the kernel may have dropped pages it
// had not written (a failed fsync is not retried, as PostgreSQL learnt),
// so what the log holds is known only after a restart reads it back.
// Store.Fatal is closed then.
var ErrPoisoned = errors.New("the log cannot be trusted after an I/O error; the hub must restart")

// ErrMaybeSaved marks the writes of the batch whose sync (or whose cut
// after a failed write) failed: their records may be in the log after the
// restart, unlike those of writes refused later.
var ErrMaybeSaved = errors.New("the write's records may be in the log")

// PoisonedError is a write refused after the log was poisoned.
type PoisonedError struct{ Err error }

func (e *PoisonedError) Error() string { return ErrPoisoned.Error() + ": " + e.Err.Error() }

func (e *PoisonedError) Unwrap() []error { return []error{ErrPoisoned, e.Err} }

// noSpace reports whether err is the kernel's "no space" (or quota).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// poison stops the store taking writes and tells whoever watches Fatal.
// Called on the writer goroutine.
func (s *Store) poison(what string, err error) error {
	if s.broken == nil {
		s.broken = &PoisonedError{fmt.Errorf("%s %s: %w", what, s.path, err)}
		s.log.Error("store: "+what+" failed: refusing every write; the hub must restart and replay the log", "err", err)
		close(s.fatal)
	}
	return s.broken
}

// Fatal is closed when the store has stopped taking writes for good (see
// ErrPoisoned): the process should exit so that a restart replays the log.
func (s *Store) Fatal() <-chan struct{} { return s.fatal }

// write appends buf to the log and syncs it as the mode says.
//
// A write refused for space is taken back (the file is cut to its last
// whole batch) and answered with a DiskFullError; the next batch tries
// again, so the store heals once space is freed. Any other failed write,
// and any failed sync, poisons the store.
func (s *Store) write(buf []byte) error {
	n, err := s.file.Write(buf)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		// After a compaction the file was opened as rtchub.log.compact:
		// name the log it is now.
		pe.Path = s.path
	}
	if err != nil {
		if n > 0 {
			if terr := s.file.Truncate(s.Metrics.LogBytes.Load()); terr != nil {
				// The file may end in part of a batch that was not taken:
				// only a restart can tell (and cut it).
				return fmt.Errorf("%w (%w)", s.poison("truncate after a failed write of", terr), ErrMaybeSaved)
			}
		}
		if noSpace(err) {
			s.Metrics.WritesRefused.Add(1)
			if s.full == nil {
				s.log.Warn("store: disk full: refusing writes until there is space", "file", s.path, "err", err)
			}
			s.full = &DiskFullError{err}
			return s.full
		}
		return s.poison("write", err)
	}
	if s.opts.Fsync == FsyncAlways {
		start := time.Now()
		if err := s.file.Datasync(); err != nil {
			// Written, not known to be durable: what the log holds is
			// known only once a restart reads it back.
			return fmt.Errorf("%w (%w)", s.poison("sync", err), ErrMaybeSaved)
		}
		s.Metrics.observeFsync(time.Since(start))
	} else {
		s.dirty = true
	}
	if s.full != nil {
		s.log.Info("store: disk has space again: taking writes", "file", s.path)
		s.full = nil
	}
	s.Metrics.LogBytes.Add(int64(n))
	return nil
}

func (s *Store) syncIfDirty() {
	if !s.dirty || s.broken != nil {
		return
	}
	start := time.Now()
	if err := s.file.Datasync(); err != nil {
		s.poison("sync", err)
		return
	}
	s.Metrics.observeFsync(time.Since(start))
	s.dirty = false
}

// Healthy reports why the log does not take writes now, if it does not:
// the disk is full (the last write was refused for space), or it is
// poisoned.
func (s *Store) Healthy() error {
	return s.inWriter(func() error {
		if s.broken != nil {
			return s.broken
		}
		// Only for ENOSPC: statfs knows nothing of a quota (EDQUOT).
		if st, ok := s.file.(spaceTeller); ok && errors.Is(s.full, syscall.ENOSPC) && st.FreeBytes() >= minFree {
			// Space is back: the next write will go through (and clear
			// s.full), so a health check need not wait for one.
			return nil
		}
		return s.full
	})
}

// minFree is the free space that makes a full disk healthy again to
// Healthy: room for a large batch.
const minFree = 4 << 20
