package store

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFootprint measures the memory of a store holding 100k users and 1M
// pending messages (10 per user, 100-byte payloads), and the time to replay
// them. It writes ~300 MB and takes a minute, so it runs only when asked:
//
//	RTCHUB_FOOTPRINT=1 go test -run=TestFootprint -v ./store
func TestFootprint(t *testing.T) {
	if os.Getenv("RTCHUB_FOOTPRINT") == "" {
		t.Skip("set RTCHUB_FOOTPRINT=1 to run")
	}
	const users, perUser = 100_000, 10
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, LogName))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	seq := uint64(0)
	put := func(r *record) {
		seq++
		body, err := encodeBody(r)
		if err != nil {
			t.Fatal(err)
		}
		line = appendLine(line[:0], seq, body)
		w.Write(line)
	}
	for i := range users {
		put(&record{Op: opUserPut, ID: fmt.Sprintf("user-%06d", i)})
	}
	payload := []byte(`{"text":"` + strings.Repeat("x", 88) + `"}`)
	now := time.Now()
	for k := range perUser {
		for i := range users {
			put(&record{Op: opMsg, ID: fmt.Sprintf("%024x", k*users+i), Users: []string{fmt.Sprintf("user-%06d", i)},
				Event: "message", Message: payload, Created: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli()})
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()

	runtime.GC()
	before := rssKB(t)
	cpu0 := cpuTime()
	start := time.Now()
	s, err := Open(Options{Dir: dir, Fsync: FsyncNever, CompactMin: -1})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	defer s.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	after := rssKB(t)
	st := s.Stats()
	if st.Users != users || st.Pending != users*perUser {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("log %d MB, %d records; replay %v wall, %v CPU (%.0f records/s of wall time)", fi.Size()>>20, seq,
		took.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(seq)/took.Seconds())
	t.Logf("heap in use %d MB; process RSS grew %d MB (%d -> %d KB)", ms.HeapInuse>>20, (after-before)>>10, before, after)
}

func rssKB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

// cpuTime is the process's user+system time: steadier than wall time on a
// shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
