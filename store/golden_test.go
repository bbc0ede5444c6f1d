package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden logs are built from fixed records so they regenerate byte for
// byte; TestGoldenFiles fails when they drift from what the code writes.
const (
	goldenCreated = int64(3786912000000)            // 2090-01-01
	goldenExpires = goldenCreated + 30*24*3600*1000 // 30 days later
)

func goldenMsg(seq uint64, id string, users ...string) record {
	return record{Seq: seq, Op: opMsg, ID: id, Users: users, Event: "chat",
		Message: json.RawMessage(fmt.Sprintf(`{"text":"message %s","n":%d}`, id, seq)),
		Created: goldenCreated, Expires: goldenExpires}
}

// goldenBaseRecords are the six intact records of the torn and corrupt
// logs. Their state: users u1 and u2 in group g1; u1 acknowledged m1; u2
// has m1 and m2 pending.
func goldenBaseRecords() []record {
	return []record{
		{Seq: 1, Op: opGroupPut, ID: "g1"},
		{Seq: 2, Op: opUserPut, ID: "u1", Groups: []string{"g1"}},
		{Seq: 3, Op: opUserPut, ID: "u2", Groups: []string{"g1"}},
		goldenMsg(4, "m1", "u1", "u2"),
		{Seq: 5, Op: opAck, ID: "m1", User: "u1"},
		goldenMsg(6, "m2", "u2"),
	}
}

// goldenCorruptPos is the byte of record 3 (`"id":"u2"`) that
// mid-corrupt.log flips: u -> t, still valid JSON, caught by the crc.
func goldenCorruptPos(base []byte) int {
	ends := lineEnds(base)
	return ends[1] + bytes.Index(base[ends[1]:], []byte(`"u2"`)) + 1
}

// goldenSnapshotLog is a compacted log: a snapshot of the state after 12
// records, then three records appended after the compaction.
func goldenSnapshotLog(tb testing.TB) []byte {
	tb.Helper()
	st := newState(10000, 10000, 256, 0)
	for _, r := range []record{
		{Seq: 1, Op: opClientPut, ID: "c1", Name: "backend", Hash: "hash-of-secret"},
		{Seq: 2, Op: opGroupPut, ID: "g1"},
		{Seq: 3, Op: opUserPut, ID: "u1", Groups: []string{"g1"}},
		{Seq: 4, Op: opUserPut, ID: "u2", Groups: []string{"g1"}},
		{Seq: 5, Op: opUserPut, ID: "u3"},
		goldenMsg(6, "m1", "u1", "u2"),
		{Seq: 7, Op: opAck, ID: "m1", User: "u1"},
		goldenMsg(8, "m2", "u3"),
		{Seq: 9, Op: opAck, ID: "m2", User: "u3"},
		{Seq: 10, Op: opRevoke, User: "u2"},
		{Seq: 11, Op: opUserDel, ID: "u3"},
		goldenMsg(12, "m3", "u1", "u2"),
	} {
		st.apply(&r)
	}
	var out []byte
	if err := st.snapshot(goldenCreated+3600*1000, func(r *record) error {
		body, err := encodeBody(r)
		out = appendLine(out, r.Seq, body)
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	return append(out, frame(tb,
		record{Seq: 13, Op: opAck, ID: "m3", User: "u2"},
		goldenMsg(14, "m4", "u2"),
		record{Seq: 15, Op: opGroupPut, ID: "g2", Users: []string{"u1"}},
	)...)
}

func goldenFiles(tb testing.TB) map[string][]byte {
	base := frame(tb, goldenBaseRecords()...)
	next := frame(tb, goldenMsg(7, "m3", "u1", "u2"))

	torn := append(bytes.Clone(base), next[:len(next)/2]...)

	// What a crash can leave when the size reached the disk before the
	// data: zeros, or stale blocks (here with a newline in them).
	garbage := append(bytes.Clone(base), make([]byte, 300)...)
	garbage = append(garbage, "\xde\xad\xbe\xef stale block\n{\"seq\":7,\"op\":\"ms\x00\x00\x00"...)

	mid := bytes.Clone(base)
	mid[goldenCorruptPos(base)] ^= 0x01

	return map[string][]byte{
		"torn-tail.log":         torn,
		"torn-tail-garbage.log": garbage,
		"mid-corrupt.log":       mid,
		"snapshot.log":          goldenSnapshotLog(tb),
	}
}

// TestGoldenFiles regenerates testdata/*.log with -update and otherwise
// checks that they match what the current code writes.
func TestGoldenFiles(t *testing.T) {
	files := goldenFiles(t)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("%v (run `go test ./store -run TestGoldenFiles -update`)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from what the code writes now; if the format changed on purpose, "+
				"check that old logs still open, then run `go test ./store -run TestGoldenFiles -update`", name)
		}
	}
}

// openGolden copies testdata/name into a new data dir and returns the dir
// and the original bytes.
func openGolden(t *testing.T, name string) (string, []byte) {
	t.Helper()
	data := readFile(t, filepath.Join("testdata", name))
	dir := t.TempDir()
	writeFile(t, logPath(dir), data)
	return dir, data
}

func TestGoldenTornTail(t *testing.T) {
	base := frame(t, goldenBaseRecords()...)
	for _, name := range []string{"torn-tail.log", "torn-tail-garbage.log"} {
		t.Run(name, func(t *testing.T) {
			dir, data := openGolden(t, name)
			logger, logs := newTestLogger()
			opts := testOptions(dir, nil)
			opts.Logger = logger
			s := mustOpen(t, opts)

			got := readFile(t, logPath(dir))
			if !bytes.Equal(got, base) {
				t.Fatalf("log is %d bytes after open, want the %d bytes of the 6 intact records", len(got), len(base))
			}
			if len(got) >= len(data) {
				t.Fatalf("file did not shrink: %d -> %d bytes", len(data), len(got))
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "torn tail") ||
				!strings.Contains(out, fmt.Sprintf("offset=%d", len(base))) ||
				!strings.Contains(out, fmt.Sprintf("bytes=%d", len(data)-len(base))) ||
				!strings.Contains(out, "after_seq=6") {
				t.Fatalf("missing or incomplete torn-tail warning in log output:\n%s", out)
			}
			if st := s.Stats(); st.Seq != 6 || st.Users != 2 || st.Groups != 1 || st.Pending != 2 || st.OpenMessages != 2 {
				t.Fatalf("stats %+v, want seq 6, 2 users, 1 group, 2 pending, 2 open messages", st)
			}
			if ids := pendingIDs(t, s, "u2"); !slices.Equal(ids, []string{"m1", "m2"}) {
				t.Fatalf("u2 pending %v, want [m1 m2]", ids)
			}
			rc, err := s.Notify(bg, Notification{Users: []string{"u1"}, Event: "e", Body: json.RawMessage(`{}`), TTL: time.Hour})
			if err != nil || rc.Seq != 7 {
				t.Fatalf("next notify: seq %d, %v; want seq 7", rc.Seq, err)
			}

			// A second open finds nothing to cut.
			logger2, logs2 := newTestLogger()
			opts.Logger = logger2
			s = reopen(t, s, opts)
			if strings.Contains(logs2.String(), "level=WARN") {
				t.Fatalf("warning on a clean log:\n%s", logs2.String())
			}
			if st := s.Stats(); st.Seq != 7 {
				t.Fatalf("seq %d after reopen, want 7", st.Seq)
			}
			mustClose(t, s)
			if rep, err := Verify(dir, false); err != nil || !rep.OK() || rep.Records != 7 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
		})
	}
}

func TestGoldenMidCorrupt(t *testing.T) {
	dir, data := openGolden(t, "mid-corrupt.log")
	base := frame(t, goldenBaseRecords()...)
	off := lineEnds(base)[1] // record 3 starts here
	path := logPath(dir)

	_, err := Open(testOptions(dir, nil))
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open: %v, want *CorruptError", err)
	}
	if ce.Path != path || ce.Offset != int64(off) || ce.AfterSeq != 2 || !errors.Is(err, errChecksum) {
		t.Fatalf("CorruptError{Path: %q, Offset: %d, AfterSeq: %d, Reason: %v}, want %q, %d, 2, checksum mismatch",
			ce.Path, ce.Offset, ce.AfterSeq, ce.Reason, path, off)
	}
	msg := err.Error()
	for _, want := range []string{path, fmt.Sprintf("byte %d", off), "seq 2", "rtchub verify --repair"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if got := readFile(t, path); !bytes.Equal(got, data) {
		t.Fatal("a failed Open changed the log")
	}

	// Verify without repair reports and changes nothing. It also shows the
	// failed Open let go of the directory lock.
	rep, err := Verify(dir, false)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.OK() || rep.Corrupt == nil || rep.Corrupt.Offset != int64(off) || rep.Good != int64(off) ||
		rep.Records != 2 || rep.LastSeq != 2 || rep.Bytes != int64(len(data)) || rep.MovedAside != "" {
		t.Fatalf("verify report %+v", rep)
	}
	if got := readFile(t, path); !bytes.Equal(got, data) {
		t.Fatal("Verify without repair changed the log")
	}
	if m, _ := filepath.Glob(path + ".damaged-*"); len(m) != 0 {
		t.Fatalf("Verify without repair wrote %v", m)
	}

	rep, err = Verify(dir, true)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 || rep.MovedAside != aside[0] {
		t.Fatalf("repair moved aside to %q; files %v", rep.MovedAside, aside)
	}
	if got := readFile(t, aside[0]); !bytes.Equal(got, data[off:]) {
		t.Fatalf("moved-aside file is not bytes [%d:] of the log:\n%q", off, got)
	}
	// The intact part, then a mark carrying the highest seq moved aside
	// (6), so no seq a client may have seen is handed out again.
	got := readFile(t, path)
	if !bytes.HasPrefix(got, data[:off]) {
		t.Fatalf("repaired log does not start with the first %d bytes: %q", off, got)
	}
	var mark record
	if err := decodeLine(got[off:], &mark); err != nil || mark.Op != opMark || mark.Seq != 6 {
		t.Fatalf("after the intact part: %q (%v), want a mark with seq 6", got[off:], err)
	}

	s := mustOpen(t, testOptions(dir, nil))
	if st := s.Stats(); st.Seq != 6 || st.Users != 1 || st.Groups != 1 {
		t.Fatalf("after repair: %+v, want seq 6, user u1, group g1", st)
	}
	if _, ok := s.User("u1"); !ok {
		t.Fatal("u1 lost by the repair")
	}
	mustClose(t, s)
	if rep, err := Verify(dir, false); err != nil || !rep.OK() {
		t.Fatalf("verify after repair: %+v, %v", rep, err)
	}
}

func TestGoldenSnapshot(t *testing.T) {
	dir, data := openGolden(t, "snapshot.log")
	if rep, err := Verify(dir, false); err != nil || !rep.OK() || rep.LastSeq != 15 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	if !bytes.HasPrefix(data, []byte(`{"op":"snapshot","upto":12,`)) {
		t.Fatalf("golden does not start with a snapshot header: %.60q", data)
	}
	clk := newClock()
	opts := testOptions(dir, clk)
	s := mustOpen(t, opts)

	if st := s.Stats(); st != (Stats{Users: 2, Groups: 2, Clients: 1, OpenMessages: 3, Pending: 3, Cost: 6, Seq: 15}) {
		t.Fatalf("stats %+v", st)
	}
	if c, gen, ok := s.Client("c1"); !ok || c.Name != "backend" || c.Hash != "hash-of-secret" || gen != 0 {
		t.Fatalf("client c1: %+v gen %d ok %v", c, gen, ok)
	}
	for id, want := range map[string][2]any{"u1": {uint64(0), true}, "u2": {uint64(1), true}, "u3": {uint64(1), false}} {
		if gen, ok := s.UserGen(id); gen != want[0] || ok != want[1] {
			t.Errorf("UserGen(%s) = %d, %v; want %v", id, gen, ok, want)
		}
	}
	if u, _ := s.User("u1"); !slices.Equal(u.Groups, []string{"g1", "g2"}) {
		t.Errorf("u1 groups %v", u.Groups)
	}
	if ids := pendingIDs(t, s, "u1"); !slices.Equal(ids, []string{"m3"}) {
		t.Errorf("u1 pending %v, want [m3]", ids)
	}
	if ids := pendingIDs(t, s, "u2"); !slices.Equal(ids, []string{"m1", "m4"}) {
		t.Errorf("u2 pending %v, want [m1 m4]", ids)
	}
	if m, ok := s.Message("m1"); !ok || m.Seq != 6 || len(m.Recipients) != 2 || !m.Recipients[0].Acked || m.Recipients[1].Acked {
		t.Errorf("m1: %+v", m)
	}
	// m2 was acknowledged by u3, who was deleted after: the live hub kept
	// it for status queries with that acknowledged copy, and so does replay.
	if m, ok := s.Message("m2"); !ok || len(m.Recipients) != 1 || m.Recipients[0].User != "u3" || !m.Recipients[0].Acked {
		t.Errorf("m2 (acknowledged by a user deleted since): %+v, %v", m, ok)
	}
	rc, err := s.Notify(bg, Notification{Users: []string{"u1"}, Event: "e", Body: json.RawMessage(`{}`), TTL: time.Hour})
	if err != nil || rc.Seq != 16 {
		t.Fatalf("next notify: seq %d, %v", rc.Seq, err)
	}

	users := []string{"u1", "u2", "u3"}
	msgs := []string{"m1", "m2", "m3", "m4", rc.ID}
	want := dumpState(t, s, users, msgs)
	s = reopen(t, s, opts)
	sameState(t, "reopen", want, dumpState(t, s, users, msgs))
	s = compactAndReopen(t, s, opts)
	sameState(t, "compact and reopen", want, dumpState(t, s, users, msgs))
}
