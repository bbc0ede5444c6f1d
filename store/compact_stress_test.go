package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCompactUnderLoad compacts repeatedly while writers notify and
// acknowledge, then reopens the log: every message answered and not
// acknowledged must be pending, every acknowledged one gone, and nothing
// else there.
func TestCompactUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Fsync: FsyncNever, CompactMin: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const writers, perWriter = 8, 150
	for w := range writers {
		if _, _, err := s.PutUser(ctx, fmt.Sprintf("u%d", w), nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	open := map[string]string{} // message id -> user
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", w)
			for i := range perWriter {
				acked := i%3 == 0
				id, ok := notifyAcked(t, s, Notification{Users: []string{user}, Event: "message", Body: []byte(`{"i":1}`), TTL: time.Hour}, acked)
				if !ok {
					return
				}
				if !acked {
					mu.Lock()
					open[id] = user
					mu.Unlock()
				}
			}
		})
	}
	var finished atomic.Bool
	done := make(chan struct{})
	compactions := 0
	go func() {
		defer close(done)
		// At least two compactions, and keep going while writers write.
		for compactions < 2 || !finished.Load() {
			if err := s.Compact(); err != nil {
				t.Error(err)
				return
			}
			compactions++
		}
	}()
	wg.Wait()
	finished.Store(true)
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir, Fsync: FsyncNever, CompactMin: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]string{}
	for w := range writers {
		user := fmt.Sprintf("u%d", w)
		var last uint64
		if err := s.Subscribe(user, 0, Resume{}, func(rp Replay) {
			p := rp.Pending
			for _, m := range p {
				if m.Seq <= last {
					t.Errorf("%s: pending out of order: %d after %d", user, m.Seq, last)
				}
				last = m.Seq
				got[m.ID] = user
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(open) {
		t.Errorf("after %d compactions and a reopen: %d pending, want %d", compactions, len(got), len(open))
	}
	for id, u := range open {
		if got[id] != u {
			t.Errorf("message %s for %s lost", id, u)
		}
	}
}
