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
	}
	// Batches: [1 2] [3 4 5], optionally [6].
	build := func(lines []line) ([][]byte, []byte) {
		var all [][]byte
		var buf []byte
		for _, l := range lines {
			body, err := encodeBody(&Record{Op: OpGroupPut, ID: "g"})
			if err != nil {
				t.Fatal(err)
			}
			b := appendBatchLine(nil, l.seq, l.n, body)
			all = append(all, b)
			buf = append(buf, b...)
		}
		return all, buf
	}
	two := []line{{1, 2}, {2, 0}, {3, 3}, {4, 0}, {5, 0}}
	three := append(append([]line(nil), two...), line{6, 1})
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
			for _, l := range lines[:tt.keep] {
				want += int64(len(l))
			}
			if fi.Size() != want {
				t.Fatalf("log is %d bytes after recovery, want %d (the records up to seq %d)", fi.Size(), want, tt.keep)
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
