package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// buildCutLog writes a few records through a real Store and returns the
// log's bytes.
func buildCutLog(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, testOptions(dir, nil))
	if _, _, err := s.PutGroup(bg, "team", nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ann", "bob"} {
		if _, _, err := s.PutUser(bg, u, []string{"team"}); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := s.Notify(bg, Notification{Users: []string{"ann"}, Event: "chat", Body: json.RawMessage(`{"text":"hi ann"}`), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(bg, rc.ID, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Notify(bg, Notification{Groups: []string{"team"}, Event: "deploy",
		Body: json.RawMessage(`{"service":"api","version":"1.42.0","by":"ann","note":"rolling, 3 regions"}`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	return readFile(t, logPath(dir))
}

// TestCutAtEveryOffset truncates a log at every offset of its last record
// (and at sampled offsets before it): Open must keep exactly the records
// wholly before the cut, cut the rest with a warning unless the cut falls
// on a record boundary, and continue the seqs from the last kept record.
func TestCutAtEveryOffset(t *testing.T) {
	data := buildCutLog(t)
	ends := lineEnds(data)
	seqs := lineSeqs(t, data)
	if len(ends) != 6 || ends[len(ends)-1] != len(data) {
		t.Fatalf("unexpected log:\n%s", data)
	}
	lastStart := ends[len(ends)-2]

	var cuts []int
	for n := 0; n < lastStart; n += 11 {
		cuts = append(cuts, n)
	}
	for _, e := range ends[:len(ends)-1] {
		cuts = append(cuts, e-1, e, e+1)
	}
	for n := lastStart; n <= len(data); n++ {
		cuts = append(cuts, n)
	}

	clk := newClock()
	for _, n := range cuts {
		// The records wholly before the cut.
		keep, kept, lastSeq := 0, 0, uint64(0)
		for i, e := range ends {
			if e <= n {
				keep, kept, lastSeq = e, i+1, seqs[i]
			}
		}
		dir := t.TempDir()
		writeFile(t, logPath(dir), data[:n])
		logger, logs := newTestLogger()
		opts := testOptions(dir, clk)
		opts.Logger = logger
		s, err := Open(opts)
		if err != nil {
			t.Fatalf("cut at %d of %d: Open: %v", n, len(data), err)
		}
		got := readFile(t, logPath(dir))
		warned := strings.Contains(logs.String(), "torn tail")
		st := s.Stats()
		// The next append continues right after the kept records.
		_, _, perr := s.PutUser(bg, "next", nil)
		after := s.Stats().Seq
		s.Close()

		switch {
		case !bytes.Equal(got, data[:keep]):
			t.Fatalf("cut at %d: log is %d bytes after Open, want the %d bytes of the %d records before the cut",
				n, len(got), keep, kept)
		case warned != (n != keep):
			t.Fatalf("cut at %d (record boundary %d): torn-tail warning logged = %v\n%s", n, keep, warned, logs)
		case st.Seq != lastSeq:
			t.Fatalf("cut at %d: seq %d after Open, want %d", n, st.Seq, lastSeq)
		case perr != nil || after != lastSeq+1:
			t.Fatalf("cut at %d: next append got seq %d (%v), want %d", n, after, perr, lastSeq+1)
		}
		final := readFile(t, logPath(dir))
		if !bytes.HasPrefix(final, data[:keep]) || checkIntact(t, final) != kept+1 {
			t.Fatalf("cut at %d: log after the next append:\n%s", n, final)
		}
		if s := lineSeqs(t, final); s[len(s)-1] != lastSeq+1 {
			t.Fatalf("cut at %d: appended record has seq %d", n, s[len(s)-1])
		}
	}
}

// TestDamageBeforeLastRecords removes or zeroes part of an early record
// while later records stay intact. That is not a torn write: Open must
// refuse with a *CorruptError and leave the file alone, never quietly
// replay a shorter log.
func TestDamageBeforeLastRecords(t *testing.T) {
	data := buildCutLog(t)
	ends := lineEnds(data)
	starts := append([]int{0}, ends[:len(ends)-1]...)
	seqs := lineSeqs(t, data)
	// Damage in one of the last two records can look like a torn tail
	// (nothing intact follows it), so only the records before them.
	for rec := 0; rec < len(ends)-2; rec++ {
		start, end := starts[rec], ends[rec]
		for n := start; n < end; n += 3 {
			variants := map[string][]byte{
				// Bytes [n, end) read back as zeros (a lost block).
				"zeros": append(append(bytes.Clone(data[:n]), make([]byte, end-n)...), data[end:]...),
			}
			if n > start {
				// Bytes [n, end) of the record are missing. (A whole
				// record missing leaves a gap in the seqs, which the
				// scanner allows: seqs need only increase.)
				variants["hole"] = append(bytes.Clone(data[:n]), data[end:]...)
			}
			for name, damaged := range variants {
				dir := t.TempDir()
				writeFile(t, logPath(dir), damaged)
				s, err := Open(testOptions(dir, nil))
				if err == nil {
					st := s.Stats()
					s.Close()
					t.Fatalf("%s from byte %d of record %d: Open accepted the log (seq %d)", name, n, rec+1, st.Seq)
				}
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("%s from byte %d of record %d: %v, want *CorruptError", name, n, rec+1, err)
				}
				wantAfter := uint64(0)
				if rec > 0 {
					wantAfter = seqs[rec-1]
				}
				if ce.Offset != int64(start) || ce.AfterSeq != wantAfter {
					t.Fatalf("%s from byte %d of record %d: offset %d after seq %d, want %d after %d",
						name, n, rec+1, ce.Offset, ce.AfterSeq, start, wantAfter)
				}
				if got := readFile(t, logPath(dir)); !bytes.Equal(got, damaged) {
					t.Fatalf("%s from byte %d of record %d: a failed Open changed the file", name, n, rec+1)
				}
			}
		}
	}
}
