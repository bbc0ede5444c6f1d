package store

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// damageLog is a small log framed as the writer frames it: a user, three
// messages, and last a fourth whose record is over 2 MiB (records have no
// size limit: a group's members are all listed).
func damageLog(t *testing.T) (data []byte, ends []int) {
	t.Helper()
	big := `"` + strings.Repeat("x", 2<<20) + `"`
	msg := func(seq uint64, id, text string) record {
		return record{Seq: seq, Op: opMsg, ID: id, Users: []string{"ann"}, Event: "e", Message: body(text), Created: 1, Expires: 1 << 50}
	}
	data = frame(t,
		record{Seq: 1, Op: opUserPut, ID: "ann"},
		msg(2, "m2", `"two"`),
		msg(3, "m3", `"three"`),
		msg(4, "m4", `"four"`),
		msg(5, "m5", big),
	)
	return data, lineEnds(data)
}

// TestWholeLineDamage: a power cut leaves a line cut short or pages of
// zeros, not complete JSON lines that fail their checks, nor intact records
// out of place. Several of those (a file converted to CRLF, reformatted)
// were changed after they were written and may have been acknowledged:
// Open refuses, even with nothing intact after them, and leaves the file
// alone. One such line alone at the very end is cut like a torn tail (the
// hub never refuses to start over its last line) and kept aside.
func TestWholeLineDamage(t *testing.T) {
	data, ends := damageLog(t)
	last := ends[len(ends)-2] // start of the last record
	prev := ends[len(ends)-3] // and of the one before
	// reformat turns `{"seq"` into `{ "seq"` at the line starting at at.
	reformat := func(b []byte, at int) []byte {
		return append(append(bytes.Clone(b[:at]), "{ "...), b[at+1:]...)
	}
	tests := []struct {
		name    string
		damage  func([]byte) []byte
		corrupt bool
		offset  int // of the reported record, or where the log is cut
	}{
		{"CRLF line ends (a text-mode copy)", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}, true, 0},
		{"every line reformatted", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`{"seq"`), []byte(`{ "seq"`))
		}, true, 0},
		{"the last two records reformatted", func(b []byte) []byte {
			return reformat(reformat(b, last), prev)
		}, true, prev},
		{"a changed whole line, then garbage", func(b []byte) []byte {
			return append(reformat(b, last), "\x00\x00garbage"...)
		}, true, last},
		{"only the last record reformatted", func(b []byte) []byte { return reformat(b, last) }, false, last},
		{"a letter changed in the last record", func(b []byte) []byte {
			c := bytes.Clone(b)
			c[len(c)-100] = 'y' // inside the big message
			return c
		}, false, last},
		{"an intact record after a seq gap, at the end", func(b []byte) []byte {
			return append(bytes.Clone(b), frame(t, record{Seq: 9, Op: opGroupPut, ID: "g"})...)
		}, false, len(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			damaged := tt.damage(data)
			writeFile(t, logPath(dir), damaged)
			s, err := Open(testOptions(dir, nil))
			if !tt.corrupt {
				if err != nil {
					t.Fatalf("Open = %v, want the last line cut", err)
				}
				s.Close()
				if got := readFile(t, logPath(dir)); !bytes.Equal(got, damaged[:tt.offset]) {
					t.Fatalf("log is %d bytes after Open, want the %d before the last line", len(got), tt.offset)
				}
				saved, _ := filepath.Glob(logPath(dir) + ".torn-*")
				if len(saved) != 1 || !bytes.Equal(readFile(t, saved[0]), damaged[tt.offset:]) {
					t.Fatalf("the cut line was not kept aside: %v", saved)
				}
				return
			}
			if err == nil {
				st := s.Stats()
				s.Close()
				t.Fatalf("Open accepted the log (seq %d); log now %d bytes, was %d", st.Seq, fileSize(t, logPath(dir)), len(damaged))
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !ce.Whole || ce.Offset != int64(tt.offset) {
				t.Fatalf("Open = %v, want a *CorruptError (Whole) at byte %d", err, tt.offset)
			}
			if !strings.Contains(err.Error(), "rtchub verify --repair") {
				t.Errorf("error does not say how to repair: %v", err)
			}
			if got := readFile(t, logPath(dir)); !bytes.Equal(got, damaged) {
				t.Fatal("a failed Open changed the log")
			}
		})
	}
}

// TestDamageBeforeHugeRecord: damage with an intact record after it is
// corruption however long that record is (here over the 1 MiB read buffer).
func TestDamageBeforeHugeRecord(t *testing.T) {
	data, ends := damageLog(t)
	for _, rec := range []int{1, 3} { // m2 or m4: m5 (2 MiB) follows
		damaged := bytes.Clone(data)
		clear(damaged[ends[rec-1]+5 : ends[rec]-1]) // zeros, newline kept
		dir := t.TempDir()
		writeFile(t, logPath(dir), damaged)
		_, err := Open(testOptions(dir, nil))
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != int64(ends[rec-1]) {
			t.Fatalf("record %d zeroed: Open = %v, want a *CorruptError at byte %d (an intact record follows)", rec+1, err, ends[rec-1])
		}
		if got := readFile(t, logPath(dir)); !bytes.Equal(got, damaged) {
			t.Fatalf("record %d zeroed: a failed Open changed the log", rec+1)
		}
	}
}

// TestRepairMark: verify --repair ends the log with a seq mark above every
// seq that the part moved aside may have handed out: the highest intact one
// (also in a record over 64 KiB), or a wide gap when damage follows the last
// intact record there and hides how far the seqs went.
func TestRepairMark(t *testing.T) {
	data, ends := damageLog(t)
	zero := func(b []byte, rec int) { clear(b[ends[rec-1]+5 : ends[rec]-1]) }
	tests := []struct {
		name     string
		damage   func([]byte)
		wantMark uint64
	}{
		{"intact records after the damage, the last over 2 MiB", func(b []byte) { zero(b, 2) }, 5},
		{"damage after the last intact record", func(b []byte) { zero(b, 1); zero(b, 4) }, 4 + SeqGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			damaged := bytes.Clone(data)
			tt.damage(damaged)
			writeFile(t, logPath(dir), damaged)
			rep, err := Verify(dir, true)
			if err != nil || rep.Corrupt == nil || rep.MovedAside == "" {
				t.Fatalf("repair: %+v, %v", rep, err)
			}
			if got := readFile(t, rep.MovedAside); !bytes.Equal(got, damaged[rep.Good:]) {
				t.Fatal("the moved-aside file is not the rest of the log")
			}
			s := mustOpen(t, testOptions(dir, nil))
			defer s.Close()
			if got := s.Stats().Seq; got != tt.wantMark {
				t.Fatalf("seq after repair %d, want the mark %d", got, tt.wantMark)
			}
		})
	}
}

// TestTornTailSavedAside: the hub cuts a torn tail at start, but keeps its
// bytes beside the log unless they are only zeros.
func TestTornTailSavedAside(t *testing.T) {
	data, ends := damageLog(t)
	last := ends[len(ends)-2]
	for _, tt := range []struct {
		name string
		tail []byte
		save bool
	}{
		{"last record cut short", data[last : last+20], true},
		{"zeros", make([]byte, 4096), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, logPath(dir), append(bytes.Clone(data[:last]), tt.tail...))
			s := mustOpen(t, testOptions(dir, nil))
			s.Close()
			saved, _ := filepath.Glob(logPath(dir) + ".torn-*")
			if !tt.save {
				if len(saved) != 0 {
					t.Fatalf("zeros saved aside: %v", saved)
				}
				return
			}
			if len(saved) != 1 {
				t.Fatalf("torn tail saved as %v, want one file", saved)
			}
			if got := readFile(t, saved[0]); !bytes.Equal(got, tt.tail) {
				t.Fatalf("saved tail %q, want %q", got, tt.tail)
			}
			if fi, err := os.Stat(saved[0]); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("saved tail mode: %v, %v", fi.Mode(), err)
			}
		})
	}
}

// TestTornTailOnFullDisk: a full disk is a usual cause of a torn write.
// When the tail cannot be saved aside, the hub still cuts it and starts
// (nothing in it was acknowledged), and leaves no partial copy behind.
// It needs a small tmpfs, so root; elsewhere it is skipped.
func TestTornTailOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	data, ends := damageLog(t)
	torn := append(bytes.Clone(data[:ends[1]]), data[ends[1]:ends[2]-7]...) // m3 cut short
	writeFile(t, logPath(dir), torn)
	// As a crashed hub leaves it: says it was running.
	writeFile(t, filepath.Join(dir, "lock"), []byte(lockRunning))
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 512); ; {
		if _, err := filler.Write(buf); err != nil {
			break
		}
	}
	filler.Close()
	logger, logs := newTestLogger()
	opts := testOptions(dir, nil)
	opts.Logger = logger
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open with a torn tail on a full disk: %v", err)
	}
	seq := s.Stats().Seq
	s.Close()
	if seq != 2+SeqGap || !strings.Contains(logs.String(), "could not save the torn tail") {
		t.Fatalf("seq %d after Open, want 2 and the mark after an unclean stop; log:\n%s", seq, logs)
	}
	if saved, _ := filepath.Glob(logPath(dir) + ".torn-*"); len(saved) != 0 {
		t.Fatalf("a partial copy of the tail was left: %v", saved)
	}
}
