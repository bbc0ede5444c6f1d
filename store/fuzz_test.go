package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReplay opens arbitrary bytes as a log. Open must never panic or
// hang; when it succeeds the file has been cut to intact records only (and
// only cut), so a second Open sees the same state and Verify is happy;
// when it fails, it is a *CorruptError that leaves the file alone and that
// Verify's repair then fixes.
func FuzzReplay(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "*.log"))
	for _, name := range golden {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	base := goldenBaseRecords()
	f.Add([]byte{})
	f.Add([]byte("\n"))
	f.Add(frame(f, base...))
	f.Add(frame(f, base[:3]...))
	f.Add(goldenSnapshotLog(f))
	f.Add(frame(f, sampleRecords()[:10]...))
	f.Add(append(frame(f, base[:2]...), frame(f, base[1:]...)...)) // a repeated seq
	f.Add([]byte(`{"seq":1,"op":"user.put","id":"u","crc":"00000000"}` + "\n"))
	f.Add(bytes.ReplaceAll(frame(f, base[:3]...), []byte("\n"), []byte("\r\n")))
	f.Add(append(frame(f, base[:2]...), frame(f, record{Seq: 9, Op: opGroupPut, ID: "g"})...)) // a seq gap at the end
	f.Add(frame(f, record{Op: opSnapshot, Upto: 5}, record{Op: opUserPut, ID: "u"},
		goldenMsg(3, "m", "u"), record{Seq: 6, Op: opAck, ID: "m", User: "u"}))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := fastTempDir(t)
		path := logPath(dir)
		writeFile(t, path, data)
		logger, logs := newTestLogger()
		opts := testOptions(dir, nil)
		opts.Logger = logger

		s, err := Open(opts)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %v (%T), want *CorruptError", err, err)
			}
			if ce.Offset < 0 || ce.Offset >= int64(len(data)) || !strings.Contains(err.Error(), "rtchub verify --repair") {
				t.Fatalf("Open: %v", err)
			}
			if got := readFile(t, path); !bytes.Equal(got, data) {
				t.Fatal("a failed Open changed the log")
			}
			rep, err := Verify(dir, true)
			if err != nil || rep.Corrupt == nil || rep.Good != ce.Offset || rep.MovedAside == "" {
				t.Fatalf("repair: %+v, %v (open said %v)", rep, err, ce)
			}
			if got := readFile(t, rep.MovedAside); !bytes.Equal(got, data[ce.Offset:]) {
				t.Fatal("repair did not move the damaged part aside byte for byte")
			}
			if got := readFile(t, path); !bytes.HasPrefix(got, data[:ce.Offset]) {
				t.Fatal("repair did not keep the part before the damage")
			} else if rest := got[ce.Offset:]; len(rest) > 0 {
				var mark record
				if err := decodeLine(rest, &mark); err != nil || mark.Op != opMark {
					t.Fatalf("repair added %q after the intact part; want nothing or one seq mark", rest)
				}
			}
			s, err := Open(opts)
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("Open after repair found a torn tail:\n%s", logs)
			}
			s.Close()
			return
		}
		st := s.Stats()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got := readFile(t, path)
		if !bytes.HasPrefix(data, got) {
			t.Fatal("Open rewrote the log instead of only cutting its tail")
		}
		if len(got) < len(data) && !strings.Contains(logs.String(), "torn tail") {
			t.Fatalf("Open cut %d bytes without a warning", len(data)-len(got))
		}
		checkIntact(t, got)

		s, err = Open(opts)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		st2 := s.Stats()
		s.Close()
		if st2 != st {
			t.Fatalf("second Open: stats %+v, first %+v", st2, st)
		}
		if after := readFile(t, path); !bytes.Equal(after, got) {
			t.Fatal("second Open changed the log")
		}
		rep, err := Verify(dir, false)
		if err != nil || !rep.OK() || rep.Good != int64(len(got)) || rep.LastSeq != st.Seq {
			t.Fatalf("verify after Open: %+v, %v (stats %+v)", rep, err, st)
		}
	})
}

// fastTempDir is a temporary directory on tmpfs where there is one: Open
// syncs the directory and Close the log, which on a disk costs
// milliseconds per fuzz iteration.
func fastTempDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "rtchub-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
