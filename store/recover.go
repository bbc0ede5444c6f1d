package store

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

// recover replays the log into memory, cutting a torn tail.
func (s *Store) recover(unsyncedStop bool) error {
	os.Remove(s.path + compactSuffix) // a compaction cut short by a crash
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("store: stat log: %w", err)
	}
	start := time.Now()
	st := s.newState()
	// Replay only grows the heap: collecting less often while it runs
	// saves a third of its time, and the old setting returns after.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// Most records of a big log are messages; sizing the index up front
	// spares rehashing it over and over.
	st.msgs = newMsgIndex(int(min(fi.Size()/256, 1<<22)))
	res, err := scanLogWith(f, s.path, st.intern, func(r *record, _ int64) error {
		st.apply(r)
		return nil
	})
	if err != nil {
		f.Close()
		return err
	}
	if res.torn != nil {
		// Only a write that never completed is cut, so nothing in the
		// tail was acknowledged; still, its bytes are kept beside the log
		// unless they are all zeros (pages the crash never filled).
		aside := ""
		if !allZero(f, res.good, fi.Size()) {
			// A full disk is a common cause of a torn write; it must
			// not keep the hub from starting, and nothing in the tail
			// was acknowledged: cut it even if it cannot be saved.
			if aside, err = saveAside(f, s.path, "torn", res.good, fi.Size()); err != nil {
				s.log.Warn("store: could not save the torn tail before cutting it", "err", err)
			}
		}
		s.log.Warn("store: cutting torn tail of the log: the last write before a crash did not complete",
			"file", s.path, "offset", res.good, "bytes", fi.Size()-res.good, "after_seq", res.tornSeq, "reason", res.torn.Error(),
			"saved_to", aside)
		if err := f.Truncate(res.good); err != nil {
			f.Close()
			return fmt.Errorf("store: truncate torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("store: sync %s: %w", s.path, err)
		}
	}
	if res.lastSeq > 0 && unsyncedStop {
		// A hub that ran without a sync per batch (--fsync=interval or
		// never) sent frames before their records were on disk, and a
		// crash of the machine can take back seqs that clients saw as
		// event ids: after such a hub stopped uncleanly, jump past them so
		// none is handed out twice. A hub that synced every batch first
		// (--fsync=always) sent only seqs that the log holds.
		n, err := appendMark(f, res.lastSeq+SeqGap)
		if err != nil {
			f.Close()
			return err
		}
		res.lastSeq, res.good, res.records = res.lastSeq+SeqGap, res.good+n, res.records+1
		st.seq = res.lastSeq
	}
	if err := SyncDir(s.opts.Dir); err != nil {
		f.Close()
		return err
	}
	st.expire(s.nowMilli())
	s.st, s.file, s.seq, s.records = st, s.logFile(f), res.lastSeq, res.records
	s.Metrics.LogBytes.Store(res.good)
	s.log.Info("store: log replayed", "file", s.path, "records", res.records, "seq", res.lastSeq,
		"bytes", res.good, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// SeqGap is how far a seq mark jumps: past anything one unsynced stretch of
// log, or the life of a hub after a backup, could have used.
const SeqGap = 1 << 24

// appendMark writes and syncs a mark record with seq at the end of f.
func appendMark(f *os.File, seq uint64) (int64, error) {
	body, err := encodeBody(&record{Op: opMark})
	if err != nil {
		return 0, err
	}
	line := appendBatchLine(nil, seq, 1, body)
	if _, err := f.Write(line); err != nil {
		return 0, fmt.Errorf("store: write seq mark: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("store: sync seq mark: %w", err)
	}
	return int64(len(line)), nil
}
