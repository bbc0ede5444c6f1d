package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var benchBody = json.RawMessage(`{"from":"alice","text":"Your build #4711 finished: 312 tests passed","url":"https://ci.example.com/b/4711"}`)

// BenchmarkAppend measures committed notifies per second with N writers
// sharing b.N unicast notifies (one user per writer), so group commit can
// share each write and fsync between the writers queued at that moment.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncNever} {
		for _, writers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("writers=%d/fsync=%s", writers, mode), func(b *testing.B) {
				opts := Options{Dir: b.TempDir(), Fsync: mode, CompactMin: -1}
				s, err := Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				for w := range writers {
					if _, _, err := s.PutUser(bg, fmt.Sprint("user-", w), nil); err != nil {
						b.Fatal(err)
					}
				}
				appends0, batches0 := s.Metrics.Appends.Load(), s.Metrics.Batches.Load()
				var next atomic.Int64
				var failed atomic.Value
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						n := Notification{Users: []string{fmt.Sprint("user-", w)}, Event: "build", Body: benchBody, TTL: 24 * time.Hour}
						for next.Add(1) <= int64(b.N) {
							if _, err := s.Notify(bg, n); err != nil {
								failed.Store(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if err := failed.Load(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifies/s")
				if batches := s.Metrics.Batches.Load() - batches0; batches > 0 {
					b.ReportMetric(float64(s.Metrics.Appends.Load()-appends0)/float64(batches), "records/batch")
				}
			})
		}
	}
}

// replayCache holds the 1M-record log that BenchmarkReplay1M builds once
// per test binary; TestMain removes it.
var replayCache struct {
	once    sync.Once
	dir     string
	records int
	bytes   int64
	err     error
}

const (
	replayUsers = 1000
	replayMsgs  = 1_000_000
)

// buildReplayLog writes user records then 1,000,000 unicast msg records,
// framed as the writer frames them, without going through a Store.
func buildReplayLog() (string, int, int64, error) {
	dir, err := os.MkdirTemp("", "rtchub-replay-bench-")
	if err != nil {
		return "", 0, 0, err
	}
	f, err := os.Create(logPath(dir))
	if err != nil {
		return dir, 0, 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	seq := uint64(0)
	put := func(r *record) error {
		body, err := encodeBody(r)
		if err != nil {
			return err
		}
		seq++
		line = appendLine(line[:0], seq, body)
		_, err = bw.Write(line)
		return err
	}
	for u := range replayUsers {
		if err := put(&record{Op: opUserPut, ID: fmt.Sprintf("user-%04d", u)}); err != nil {
			return dir, 0, 0, err
		}
	}
	created := fakeBase.UnixMilli()
	users := make([][]string, replayUsers)
	for u := range users {
		users[u] = []string{fmt.Sprintf("user-%04d", u)}
	}
	r := record{Op: opMsg, Event: "build", Message: benchBody, Created: created, Expires: created + 7*24*3600*1000}
	for i := range replayMsgs {
		r.ID = fmt.Sprintf("%024x", uint64(i)*0x9e3779b97f4a7c15)
		r.Users = users[i%replayUsers]
		if err := put(&r); err != nil {
			return dir, 0, 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return dir, 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return dir, 0, 0, err
	}
	return dir, int(seq), fi.Size(), f.Close()
}

// BenchmarkReplay1M times Open (the replay) of a log of 1,000,000 message
// records, all still pending at open.
func BenchmarkReplay1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-record log; skipped with -short")
	}
	replayCache.once.Do(func() {
		replayCache.dir, replayCache.records, replayCache.bytes, replayCache.err = buildReplayLog()
	})
	if replayCache.err != nil {
		b.Fatal(replayCache.err)
	}
	opts := Options{Dir: replayCache.dir, Fsync: FsyncNever, CompactMin: -1, Now: newClock().Now}
	b.SetBytes(replayCache.bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st := s.Stats()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if st.Seq != uint64(replayCache.records) || st.OpenMessages != replayMsgs || st.Pending != replayMsgs {
			b.Fatalf("replayed %+v, want seq %d and %d open messages", st, replayCache.records, replayMsgs)
		}
		b.StartTimer()
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(replayCache.records)*float64(b.N)/secs, "records/s")
	b.ReportMetric(secs*1000/float64(b.N), "ms/replay")
}

// BenchmarkAddAtCap is one notify to a user whose queue is at the
// --max-pending default (10,000): the oldest copy makes room each time.
func BenchmarkAddAtCap(b *testing.B) {
	const capacity = 10000
	s := newState(capacity, 0, 0, 0)
	s.putUser("u", nil, 0)
	ids := make([]string, capacity+b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("%024x", i)
	}
	users := []string{"u"}
	for i := range capacity {
		s.addMessage(&record{Seq: uint64(i + 1), ID: ids[i], Users: users, Expires: 1 << 62})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.addMessage(&record{Seq: uint64(capacity + i + 1), ID: ids[capacity+i], Users: users, Expires: 1 << 62})
	}
	b.StopTimer()
	if n := len(s.users["u"].pending); n != capacity || s.dropped != uint64(b.N) {
		b.Fatalf("%d pending, %d dropped; want %d, %d", n, s.dropped, capacity, b.N)
	}
}
