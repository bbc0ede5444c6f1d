package store

// Compaction: the log rewritten to live state keeps what a client sees,
// whether it runs alone, under concurrent writers or on its own.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRestartAndCompact builds a state with every kind of record, many of
// them dead, and checks that restart and compaction keep it.
func TestRestartAndCompact(t *testing.T) {
	clk := newClock()
	s, opts := newStore(t, clk, func(o *Options) {
		o.KeepAcked = -1 // acknowledged messages are dead data here
	})
	if _, err := s.PutClient(bg, "app", "app", "hash"); err != nil {
		t.Fatal(err)
	}
	putGroup(t, s, "all")
	var users []string
	for i := range 8 {
		u := fmt.Sprint("u", i)
		users = append(users, u)
		putUser(t, s, u, "all")
	}
	var open []string
	for i := range 300 {
		rc := notify(t, s, Notification{Groups: []string{"all"}, Event: "tick", Body: body(fmt.Sprintf(`{"i":%d}`, i))})
		if i%50 == 0 {
			open = append(open, rc.ID) // left pending for some users
			ack(t, s, rc.ID, "u1")
			continue
		}
		for _, u := range users {
			ack(t, s, rc.ID, u)
		}
	}
	if err := s.RevokeUser(bg, "u2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(bg, "u3"); err != nil {
		t.Fatal(err)
	}
	putUser(t, s, "u3")
	users = append(users, "gone")

	want := dumpState(t, s, users, open)
	s = reopen(t, s, opts)
	sameState(t, "restart", want, dumpState(t, s, users, open))

	before := fileSize(t, logPath(opts.Dir))
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, logPath(opts.Dir))
	if after >= before/10 {
		t.Fatalf("compaction: %d -> %d bytes", before, after)
	}
	if s.Metrics.Compactions.Load() != 1 || s.Metrics.LogBytes.Load() != after {
		t.Fatalf("metrics: %d compactions, log bytes %d (file %d)", s.Metrics.Compactions.Load(), s.Metrics.LogBytes.Load(), after)
	}
	sameState(t, "compact (in memory)", want, dumpState(t, s, users, open))
	if _, err := os.Stat(logPath(opts.Dir) + compactSuffix); !os.IsNotExist(err) {
		t.Fatalf("compaction left its temporary file: %v", err)
	}

	// Appends after a compaction go to the new file.
	rc := notify(t, s, Notification{Users: []string{"u0"}})
	open = append(open, rc.ID)
	if rc.Seq != want.Stats.Seq+1 {
		t.Fatalf("seq after compaction %d, want %d", rc.Seq, want.Stats.Seq+1)
	}
	want = dumpState(t, s, users, open)
	s = reopen(t, s, opts)
	sameState(t, "compact and restart", want, dumpState(t, s, users, open))
	mustClose(t, s)
	if rep, err := Verify(opts.Dir, false); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestCompactConcurrentWrites compacts while writers append: every
// committed record must be in the new log.
func TestCompactConcurrentWrites(t *testing.T) {
	s, opts := newStore(t, nil)
	for i := range 8 {
		putUser(t, s, fmt.Sprint("w", i))
	}
	for range 200 {
		rc := notify(t, s, Notification{Users: []string{"w0"}})
		ack(t, s, rc.ID, "w0")
	}
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	stop := make(chan struct{})
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := fmt.Sprint("w", i)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				acked := n%2 == 0
				id, ok := notifyAcked(t, s, Notification{Users: []string{u}, Body: body(`{}`), TTL: time.Hour}, acked)
				if !ok {
					return
				}
				if !acked {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}
		}()
	}
	for range 3 {
		if err := s.Compact(); err != nil {
			t.Error(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	users := []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}
	want := dumpState(t, s, users, ids)
	if want.Stats.Pending != len(ids) {
		t.Fatalf("%d pending, want %d", want.Stats.Pending, len(ids))
	}
	s = reopen(t, s, opts)
	sameState(t, "restart after compactions under load", want, dumpState(t, s, users, ids))
}

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

// TestAutoCompaction lets the writer start compactions on its own.
func TestAutoCompaction(t *testing.T) {
	s, opts := newStore(t, nil, func(o *Options) {
		o.CompactMin = 50
		o.KeepAcked = -1 // acknowledged messages are dead data here
	})
	putUser(t, s, "ann")
	var open []string
	for i := range 400 {
		rc := notify(t, s, Notification{Users: []string{"ann"}})
		if i%100 == 0 {
			open = append(open, rc.ID)
		} else {
			ack(t, s, rc.ID, "ann")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Metrics.Compactions.Load() == 0 || s.compacting.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("no automatic compaction finished: %d compactions", s.Metrics.Compactions.Load())
		}
		time.Sleep(time.Millisecond)
	}
	users := []string{"ann"}
	want := dumpState(t, s, users, open)
	s = reopen(t, s, opts)
	sameState(t, "restart after automatic compaction", want, dumpState(t, s, users, open))
}

// TestKeepAckedAcrossCompaction: KeepAcked promises acknowledged messages
// stay queryable (`-keep-acked`: "kept for GET /api/message"): across a
// plain restart, and across a compaction and restart (the snapshot lists
// the kept ones with their acknowledgements).
func TestKeepAckedAcrossCompaction(t *testing.T) {
	s, opts := newStore(t, nil)
	putUser(t, s, "ann")
	rc := notify(t, s, Notification{Users: []string{"ann"}})
	ack(t, s, rc.ID, "ann")
	s = reopen(t, s, opts)
	if _, ok := s.Message(rc.ID); !ok {
		t.Fatal("acknowledged message lost by a plain restart")
	}
	s = compactAndReopen(t, s, opts)
	if _, ok := s.Message(rc.ID); !ok {
		t.Fatalf("acknowledged message %s kept before the compaction (KeepAcked default 10000) is gone after "+
			"compaction and restart", rc.ID)
	}
}

// TestCompactionKeepsWhatLiveKeeps: the messages kept for status queries
// are the same live, after a restart, and after a compaction and restart.
func TestCompactionKeepsWhatLiveKeeps(t *testing.T) {
	type step func(t *testing.T, s *Store, clk *fakeClock) []string
	tests := []struct {
		name      string
		keepAcked int
		steps     step // returns the message ids to compare
	}{
		{"an acknowledged copy of a user deleted since", 10, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			putUser(t, s, "bob")
			rc := notify(t, s, Notification{Users: []string{"ann", "bob"}})
			ack(t, s, rc.ID, "ann")
			if err := s.DeleteUser(bg, "ann"); err != nil {
				t.Fatal(err)
			}
			all := notify(t, s, Notification{Users: []string{"bob"}})
			ack(t, s, all.ID, "bob")
			return []string{rc.ID, all.ID}
		}},
		{"a message whose only recipient was deleted", 10, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			rc := notify(t, s, Notification{Users: []string{"ann"}})
			if err := s.DeleteUser(bg, "ann"); err != nil {
				t.Fatal(err)
			}
			return []string{rc.ID}
		}},
		{"closed by a deletion, then an eviction", 3, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			putUser(t, s, "bob")
			a := notify(t, s, Notification{Users: []string{"ann"}})
			ack(t, s, a.ID, "ann")
			x := notify(t, s, Notification{Users: []string{"bob"}})
			if err := s.DeleteUser(bg, "bob"); err != nil {
				t.Fatal(err)
			}
			b := notify(t, s, Notification{Users: []string{"ann"}})
			ack(t, s, b.ID, "ann")
			return []string{a.ID, x.ID, b.ID}
		}},
		{"an acknowledged message past its ttl", 10, func(t *testing.T, s *Store, clk *fakeClock) []string {
			putUser(t, s, "ann")
			rc := notify(t, s, Notification{Users: []string{"ann"}, TTL: time.Minute})
			ack(t, s, rc.ID, "ann")
			clk.Advance(time.Hour)
			return []string{rc.ID}
		}},
		{"a recalled message", 10, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			putUser(t, s, "bob")
			rc := notify(t, s, Notification{Users: []string{"ann", "bob"}})
			ack(t, s, rc.ID, "ann")
			if err := s.Recall(bg, rc.ID); err != nil {
				t.Fatal(err)
			}
			return []string{rc.ID}
		}},
		{"a copy replaced by key, the other recipient's kept", 10, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			putUser(t, s, "bob")
			old := notify(t, s, Notification{Users: []string{"ann", "bob"}, Key: "k"})
			nw := notify(t, s, Notification{Users: []string{"ann"}, Key: "k"})
			return []string{old.ID, nw.ID}
		}},
		{"an expired copy of a message kept for an acknowledged one", 10, func(t *testing.T, s *Store, clk *fakeClock) []string {
			putUser(t, s, "ann")
			putUser(t, s, "bob")
			rc := notify(t, s, Notification{Users: []string{"ann", "bob"}, TTL: time.Minute})
			ack(t, s, rc.ID, "ann")
			clk.Advance(time.Hour)
			return []string{rc.ID}
		}},
		{"acknowledged out of order, then evicted", 2, func(t *testing.T, s *Store, _ *fakeClock) []string {
			putUser(t, s, "ann")
			m1 := notify(t, s, Notification{Users: []string{"ann"}})
			m2 := notify(t, s, Notification{Users: []string{"ann"}})
			ack(t, s, m2.ID, "ann")
			ack(t, s, m1.ID, "ann")
			return []string{m1.ID, m2.ID}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The same history three times: compare live, restarted, and
			// compacted then restarted, then once more after a later
			// acknowledgement evicts the oldest kept message.
			run := func(restart, compact bool) string {
				clk := newClock()
				s, opts := newStore(t, clk, func(o *Options) { o.KeepAcked = tt.keepAcked })
				ids := tt.steps(t, s, clk)
				if compact {
					if err := s.Compact(); err != nil {
						t.Fatal(err)
					}
				}
				if restart {
					s = reopen(t, s, opts)
				}
				putUser(t, s, "zed")
				last := notify(t, s, Notification{Users: []string{"zed"}})
				ack(t, s, last.ID, "zed")
				ids = append(ids, last.ID)
				d := dumpState(t, s, nil, ids)
				// A counter of this process: a snapshot holds an expired
				// copy as closed, and replaying it expires nothing.
				d.Stats.Expired = 0
				mustClose(t, s)
				// Ids are random: name them by their place.
				named := map[string]*messageDigest{}
				for i, id := range ids {
					named[fmt.Sprintf("m%d", i)] = d.Messages[id]
				}
				d.Messages = named
				out := d.String()
				for i, id := range ids {
					out = strings.ReplaceAll(out, id, fmt.Sprintf("m%d", i))
				}
				return out
			}
			live := run(false, false)
			for _, c := range []struct {
				what             string
				restart, compact bool
			}{{"restart", true, false}, {"compaction and restart", true, true}} {
				if got := run(c.restart, c.compact); got != live {
					t.Errorf("after %s:\n%s\nlive:\n%s", c.what, got, live)
				}
			}
		})
	}
}

// expiries is an Observer that notes what it hears of expiry.
type expiries struct {
	mu  sync.Mutex
	ids []string
}

func (o *expiries) MessageCommitted(*Message)  {}
func (o *expiries) CopiesWithdrawn(Withdrawal) {}
func (o *expiries) UserClosed(string, uint64)  {}
func (o *expiries) Committed()                 {}
func (o *expiries) CopiesExpired(m *Message, _ []string, _ int64) {
	o.mu.Lock()
	o.ids = append(o.ids, m.ID)
	o.mu.Unlock()
}

// A message whose ttl runs out just when a compaction (or a backup) pins
// the log is expired by the pin's sweep: the observers hear of it as they
// would from the timer, not never.
func TestPinSweepTellsObservers(t *testing.T) {
	clk := newClock()
	s, _ := newStore(t, clk)
	defer mustClose(t, s)
	obs := &expiries{}
	s.SetObserver(obs)
	putUser(t, s, "u")
	rc := notify(t, s, Notification{Users: []string{"u"}, TTL: time.Second})
	clk.Advance(2 * time.Second) // the store's clock, not the timer's
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if st := s.Stats(); st.Expired != 1 || len(obs.ids) != 1 || obs.ids[0] != rc.ID {
		t.Fatalf("%d expired in the store, observers heard of %v; want %s", st.Expired, obs.ids, rc.ID)
	}
}
