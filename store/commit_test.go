package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit has 64 goroutines append at once with FsyncAlways: all
// succeed, their seqs are unique and contiguous, and they shared writes.
func TestGroupCommit(t *testing.T) {
	const writers, each = 64, 20
	s, opts := newStore(t, nil, func(o *Options) { o.Fsync = FsyncAlways })
	for w := range writers {
		putUser(t, s, fmt.Sprint("w", w))
	}
	base := s.Stats().Seq
	appends0, batches0, fsyncs0 := s.Metrics.Appends.Load(), s.Metrics.Batches.Load(), s.Metrics.FsyncCount.Load()

	seqs := make([][]uint64, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				rc, err := s.Notify(bg, Notification{Users: []string{fmt.Sprint("w", w)}, Body: body(`{"x":1}`), TTL: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				seqs[w] = append(seqs[w], rc.Seq)
			}
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}

	var all []uint64
	for w, list := range seqs {
		if !slices.IsSorted(list) {
			t.Errorf("writer %d got seqs out of order: %v", w, list)
		}
		all = append(all, list...)
	}
	slices.Sort(all)
	for i, seq := range all {
		if seq != base+uint64(i)+1 {
			t.Fatalf("seqs are not unique and contiguous from %d: position %d has %d", base+1, i, seq)
		}
	}
	appends := s.Metrics.Appends.Load() - appends0
	batches := s.Metrics.Batches.Load() - batches0
	fsyncs := s.Metrics.FsyncCount.Load() - fsyncs0
	t.Logf("%d appends in %d batches, %d fsyncs", appends, batches, fsyncs)
	if appends != writers*each {
		t.Fatalf("Metrics.Appends grew by %d, want %d", appends, writers*each)
	}
	if batches >= appends {
		t.Fatalf("no batch was shared: %d batches for %d appends", batches, appends)
	}
	if fsyncs != batches {
		t.Fatalf("%d fsyncs for %d batches with FsyncAlways", fsyncs, batches)
	}
	if st := s.Stats(); st.Seq != base+writers*each || st.Pending != writers*each {
		t.Fatalf("stats %+v", st)
	}
	mustClose(t, s)
	data := readFile(t, logPath(opts.Dir))
	if n := checkIntact(t, data); n != writers+writers*each {
		t.Fatalf("log holds %d records, want %d", n, writers+writers*each)
	}
}
