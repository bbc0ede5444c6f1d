package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

const compactSuffix = ".compact"

// Compact rewrites the log to live state now.
func (s *Store) Compact() error {
	if !s.compacting.CompareAndSwap(false, true) {
		return errors.New("store: a compaction is already running")
	}
	defer s.compacting.Store(false)
	return s.compact()
}

// compact writes a snapshot of the state as of the log's current end to a
// new file, without holding the store's lock: it replays the file's
// committed prefix into a fresh state. Then the writer pauses only to copy
// the records appended meanwhile and rename the new file into place.
func (s *Store) compact() error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	start := time.Now()
	src, end, _, at, err := s.pin()
	if err != nil {
		return err
	}
	defer src.Close()
	st := s.newState()
	n := 0
	if _, err := scanLogWith(io.NewSectionReader(src, 0, end), s.path, st.intern, func(r *record, _ int64) error {
		if n++; n%4096 == 0 {
			select {
			case <-s.quit:
				return ErrClosed
			default:
			}
		}
		st.apply(r)
		return nil
	}); err != nil {
		return fmt.Errorf("store: compact: read log: %w", err)
	}
	st.expire(at)
	tmpPath := s.path + compactSuffix
	// O_APPEND as the log opened at start has it: a write the disk cut
	// short is truncated away, and the next one must land at the new end,
	// not past a hole at the old offset.
	tmp, err := os.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpPath)
		}
	}()
	if err := sameOwner(tmp, src); err != nil {
		return fmt.Errorf("store: compact: give the new log the old one's owner: %w", err)
	}
	records, err := writeSnapshot(tmp, st, at)
	if err != nil {
		return fmt.Errorf("store: compact: write snapshot: %w", err)
	}
	// Catch up outside the writer first, so the pause below copies little.
	tail := &lineCounter{w: tmp}
	caught, err := copyRange(tail, src, end, s.Metrics.LogBytes.Load())
	if err != nil {
		return fmt.Errorf("store: compact: copy tail: %w", err)
	}
	end += caught
	var pause time.Duration
	var newRecords int
	err = s.inWriter(func() error {
		t0 := time.Now()
		defer func() { pause = time.Since(t0) }()
		if s.broken != nil {
			return s.broken
		}
		if _, err := copyRange(tail, src, end, s.Metrics.LogBytes.Load()); err != nil {
			return fmt.Errorf("store: compact: copy tail: %w", err)
		}
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("store: compact: sync: %w", err)
		}
		// Everything that can fail without harm fails before the rename.
		size, err := tmp.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("store: compact: %w", err)
		}
		if err := os.Rename(tmpPath, s.path); err != nil {
			return fmt.Errorf("store: compact: rename: %w", err)
		}
		ok = true
		// The snapshot keeps no history: what the live hub kept from
		// before it would be gone at the next start. Devices get the same
		// answer either way.
		s.mu.Lock()
		s.st.floor = max(s.st.floor, st.seq)
		s.mu.Unlock()
		old := s.file
		s.file = s.logFile(tmp)
		if err := SyncDir(s.opts.Dir); err != nil {
			// The new file is the log now, but its name may not be on
			// disk: acknowledging appends to it could lose them.
			s.poison("sync of the directory after compacting", err)
		}
		old.Close()
		s.records = records + tail.n
		newRecords = s.records
		s.Metrics.LogBytes.Store(size)
		return s.broken
	})
	if err != nil {
		return err
	}
	s.Metrics.Compactions.Add(1)
	s.log.Info("store: log compacted", "records", newRecords, "bytes", s.Metrics.LogBytes.Load(),
		"took", time.Since(start).Round(time.Millisecond).String(), "writer_paused", pause.String())
	return nil
}

// lineCounter counts the records it passes on.
type lineCounter struct {
	w io.Writer
	n int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return c.w.Write(p)
}

// writeSnapshot writes st as framed records to f and syncs it.
func writeSnapshot(f *os.File, st *state, at int64) (int, error) {
	bw := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	n := 0
	err := st.snapshot(at, func(r *record) error {
		body, err := encodeBody(r)
		if err != nil {
			return err
		}
		line = appendLine(line[:0], r.Seq, body)
		n++
		_, err = bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	return n, err
}

// pin returns a reader of the log as committed now: its own handle (the
// writer closes its file after a compaction swap), the committed length,
// synced, and the last seq in it.
//
// It also returns at, a writer's stamp taken at the pin, and sweeps the live
// state at that time as the expiry timer would: every batch after the pin
// is stamped at or after it, so a snapshot taken as of at (expired messages
// left out) replays, with those batches, to the live state.
func (s *Store) pin() (src *os.File, end int64, seq uint64, at int64, err error) {
	err = s.inWriter(func() error {
		if s.broken != nil {
			return s.broken
		}
		s.syncIfDirty()
		// A sweep, as the expiry timer's: what expires at the pin is told
		// to the observers, as it would be a moment later.
		s.sweep()
		at = s.lastStamp
		end, seq = s.Metrics.LogBytes.Load(), s.seq
		src, err = os.Open(s.path)
		return err
	})
	return src, end, seq, at, err
}
