package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a tar archive holding the signing key (KeyName) and a
// consistent copy of the log: every record committed when it starts. Unpacked into an empty directory, it is a
// data directory a hub starts on.
func (s *Store) Backup(w io.Writer) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	src, end, seq, _, err := s.pin()
	if err != nil {
		return err
	}
	defer src.Close()
	return writeBackup(w, s.opts.Dir, src, end, seq)
}

// writeBackup writes the archive. The log copy ends in a seq mark: a hub
// restored from it hands out seqs above any the running hub may use after
// the backup, so clients' Last-Event-IDs never hide new messages.
func writeBackup(w io.Writer, dir string, log *os.File, end int64, seq uint64) error {
	body, err := encodeBody(&record{Op: opMark})
	if err != nil {
		return err
	}
	mark := appendBatchLine(nil, seq+SeqGap, 1, body)
	tw := &tarWriter{w: w}
	now := time.Now()
	for _, name := range []string{KeyName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("store: backup %s: %w", name, err)
		}
		if err := tw.header(name, 0o600, int64(len(b)), now); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.header(LogName, 0o600, end+int64(len(mark)), now); err != nil {
		return err
	}
	if _, err := copyRange(tw, log, 0, end); err != nil {
		return fmt.Errorf("store: backup log: %w", err)
	}
	if _, err := tw.Write(mark); err != nil {
		return err
	}
	return tw.Close()
}
