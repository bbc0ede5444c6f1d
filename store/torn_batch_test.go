package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTornBatch: with fsync=always only the last batch can be unsynced at a
// power cut, and the disk may keep any of its pages. Damage confined to the
// last batch is cut like a torn tail; damage with a later batch after it is
// corruption.
func TestTornBatch(t *testing.T) {
	type line struct {
		seq, n uint64
		snap   uint64 // a snapshot header with this upto
	}
	// Batches: [1 2] [3 4 5], optionally [6].
	build := func(lines []line) ([][]byte, []byte) {
		var all [][]byte
		var buf []byte
		for _, l := range lines {
			r := &record{Op: opGroupPut, ID: "g"}
			if l.snap > 0 {
				r = &record{Op: opSnapshot, Upto: l.snap}
			}
			body, err := encodeBody(r)
			if err != nil {
				t.Fatal(err)
			}
			b := appendBatchLine(nil, l.seq, l.n, body)
			all = append(all, b)
			buf = append(buf, b...)
		}
		return all, buf
	}
	two := []line{{1, 2, 0}, {2, 0, 0}, {3, 3, 0}, {4, 0, 0}, {5, 0, 0}}
	three := append(append([]line(nil), two...), line{6, 1, 0})
	fresh := []line{{1, 3, 0}, {2, 0, 0}, {3, 0, 0}}
	compacted := []line{{0, 0, 5}, {0, 0, 0}, {6, 2, 0}, {7, 0, 0}}
	snapOnly := []line{{0, 0, 5}, {0, 0, 0}, {0, 0, 0}}
	garble := func(b []byte) []byte { // same length, newline kept
		g := bytes.Repeat([]byte{'#'}, len(b)-1)
		return append(g, '\n')
	}
	zero := func(b []byte) []byte { return make([]byte, len(b)) } // newline lost too
	tests := []struct {
		name    string
		lines   []line
		damage  int // index of the damaged line
		how     func([]byte) []byte
		wantErr bool   // *CorruptError
		keep    uint64 // last seq kept when it opens
	}{
		{"middle of the last batch", two, 3, garble, false, 3},
		{"header of the last batch", two, 2, garble, false, 2},
		{"last batch zeroed through a newline", two, 3, zero, false, 3},
		{"inside a batch with a batch after it", two, 1, garble, true, 0},
		{"last batch but a later batch follows", three, 3, garble, true, 0},
		{"header of a batch that is not the last", three, 2, garble, true, 0},
		{"first batch of a new log", fresh, 0, garble, false, 0},
		{"first batch after a snapshot", compacted, 2, garble, false, 5},
		{"inside a snapshot, a batch after it", compacted, 1, garble, true, 0},
		{"inside a snapshot, nothing after it but snapshot records", snapOnly, 1, garble, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, _ := build(tt.lines)
			lines[tt.damage] = tt.how(lines[tt.damage])
			dir := t.TempDir()
			path := filepath.Join(dir, LogName)
			if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(Options{Dir: dir, Fsync: FsyncAlways, CompactMin: -1})
			var ce *CorruptError
			if tt.wantErr {
				if !errors.As(err, &ce) {
					t.Fatalf("Open = %v, want *CorruptError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open = %v, want the damaged batch cut", err)
			}
			defer s.Close()
			if got := s.Stats().Seq; got != tt.keep {
				t.Fatalf("seq after recovery %d, want %d", got, tt.keep)
			}
			fi, _ := os.Stat(path)
			want := int64(0)
			for i, l := range lines {
				if i >= tt.damage {
					break
				}
				want += int64(len(l))
			}
			if fi.Size() != want {
				t.Fatalf("log is %d bytes after recovery, want %d (the records before the damage)", fi.Size(), want)
			}
			if _, _, err := s.PutGroup(bg, "after", nil); err != nil {
				t.Fatal(err)
			}
			if got := s.Stats().Seq; got != tt.keep+1 {
				t.Fatalf("next seq %d, want %d", got, tt.keep+1)
			}
		})
	}
}

// TestMarkAfterUncleanStop: a hub that did not Close may have sent event
// ids it never synced; whoever opens the directory next jumps the seq past
// them, whatever its own fsync mode, and a clean stop adds nothing.
func TestMarkAfterUncleanStop(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, Fsync: mode, CompactMin: -1}
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.PutGroup(bg, "g", nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			reopen := func() uint64 {
				s, err := Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				return s.Stats().Seq
			}
			if got := reopen(); got != 1 {
				t.Fatalf("after a clean stop seq %d, want 1", got)
			}
			// What a killed hub leaves behind.
			if err := os.WriteFile(filepath.Join(dir, "lock"), []byte(lockRunning), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := reopen(); got != 1+SeqGap {
				t.Fatalf("after an unclean stop seq %d, want %d", got, 1+SeqGap)
			}
			if got := reopen(); got != 1+SeqGap {
				t.Fatalf("a clean stop after the mark moved seq to %d", got)
			}
		})
	}
}
