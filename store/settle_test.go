package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// changeLog records the durable changes an observer hears live, as an
// application's event stream tells them.
type changeLog struct {
	mu   sync.Mutex
	seen []string
}

func (c *changeLog) add(d Durable) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := slices.Clone(d.Users)
	slices.Sort(u)
	c.seen = append(c.seen, fmt.Sprintf("%d %s %v %s", d.Kind, d.ID, u, d.By))
}

func (c *changeLog) MessageCommitted(m *Message)                    { c.add(SentOf(m)) }
func (c *changeLog) CopiesWithdrawn(w Withdrawal)                   { c.add(WithdrawnOf(w)) }
func (c *changeLog) CopiesExpired(m *Message, u []string, at int64) {}
func (c *changeLog) UserClosed(user string, deleted uint64) {
	if deleted > 0 {
		c.add(Durable{Kind: UserDeleted, ID: user, Users: []string{user}})
	}
}
func (c *changeLog) Committed() {}

// readBack is what a stream resuming after seq reads back from the log.
func readBack(t *testing.T, s *Store, after uint64) []string {
	t.Helper()
	lr, err := s.SubscribeLog(func(uint64) {})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	var c changeLog
	if ok, err := lr.Durables(after, func(d Durable) bool { c.add(d); return true }); err != nil || !ok {
		t.Fatalf("Durables(%d): %v %v", after, ok, err)
	}
	return c.seen
}

// inOneBatch runs ops, each of which reads the state and appends one
// request, so that all of them have read the state before any is
// committed: the writer is held until every request is queued, in the
// order of ops, and then commits them as one batch.
func inOneBatch(t *testing.T, s *Store, ops ...func() error) []error {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	go s.inWriter(func() error { close(entered); <-release; return nil })
	<-entered
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() { errs[i] = op() })
		for deadline := time.Now().Add(10 * time.Second); len(s.reqs) < i+1; {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("op %d queued no request", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	return errs
}

// TestRacingWritesReadBackAsLive: an ack and a recall (or a replacement, an
// expiry, a user's deletion) of one copy that race each other leave in the
// log only what changed state, so a stream resuming from the log reads the
// changes a live stream saw, and no acknowledgement or recall of a copy
// already closed.
func TestRacingWritesReadBackAsLive(t *testing.T) {
	t.Parallel()
	noCopy := func(err error) bool {
		// The answer of an ack that lost its race: as if it came later.
		var nc *NoCopyError
		var nf *NotFoundError
		return err == nil || errors.As(err, &nc) || errors.As(err, &nf)
	}
	for _, tc := range []struct {
		name string
		race func(s *Store, clk *fakeClock, m string) []func() error
		want func(m, next string) []string // live and read back, after the first message
	}{
		{"ack then recall", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{func() error { return s.Ack(bg, m, "ann") }, func() error { return s.Recall(bg, m) }}
		}, func(m, _ string) []string {
			return []string{fmt.Sprintf("2 %s [ann] ", m), fmt.Sprintf("3 %s [bob] ", m)}
		}},
		{"recall then ack", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{func() error { return s.Recall(bg, m) }, func() error { return s.Ack(bg, m, "ann") }}
		}, func(m, _ string) []string {
			return []string{fmt.Sprintf("3 %s [ann bob] ", m)}
		}},
		{"delete the user, then ack", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{func() error { return s.DeleteUser(bg, "ann") }, func() error { return s.Ack(bg, m, "ann") }}
		}, func(m, _ string) []string {
			return []string{"4 ann [ann] "}
		}},
		{"ack of a copy that expires at the batch's time", func(s *Store, clk *fakeClock, m string) []func() error {
			return []func() error{func() error {
				clk.Advance(2 * time.Hour)
				return s.Ack(bg, m, "ann")
			}}
		}, func(string, string) []string { return nil }},
		{"delete a recipient, then notify", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{
				func() error { return s.DeleteUser(bg, "ann") },
				func() error {
					_, err := s.Notify(bg, Notification{Users: []string{"ann", "bob"}, Body: body(`2`), TTL: time.Hour})
					return err
				},
			}
		}, func(m, next string) []string {
			return []string{"4 ann [ann] ", fmt.Sprintf("1 %s [bob] ", next)}
		}},
		{"delete the only recipient, then notify", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{
				func() error { return s.DeleteUser(bg, "ann") },
				func() error {
					_, err := s.Notify(bg, Notification{Users: []string{"ann"}, Body: body(`2`), TTL: time.Hour})
					if !errors.As(err, new(*NotFoundError)) {
						return fmt.Errorf("notify to a user deleted meanwhile: %v, want unknown user", err)
					}
					return nil
				},
			}
		}, func(string, string) []string { return []string{"4 ann [ann] "} }},
		{"ack, then its replacement", func(s *Store, _ *fakeClock, m string) []func() error {
			return []func() error{
				func() error { return s.Ack(bg, m, "ann") },
				func() error {
					_, err := s.Notify(bg, Notification{Users: []string{"ann"}, Key: "k", Body: body(`2`), TTL: time.Hour})
					return err
				},
			}
		}, func(m, next string) []string {
			return []string{fmt.Sprintf("2 %s [ann] ", m), fmt.Sprintf("1 %s [ann] ", next)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s, opts := newStore(t, clk)
			putTeam(t, s)
			live := &changeLog{}
			s.SetObserver(live)
			rc := notify(t, s, Notification{Groups: []string{"g"}, Key: "k"})
			distinctStripes(s, [][3]string{{"a", rc.ID, "ann"}, {"m", rc.ID, ""}, {"u", "ann", ""}, {"k", "k", ""}})
			live.seen = nil
			for i, err := range inOneBatch(t, s, tc.race(s, clk, rc.ID)...) {
				if !noCopy(err) {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			var next string
			if n := len(live.seen); n > 0 {
				fmt.Sscanf(live.seen[n-1], "1 %s", &next)
			}
			want := tc.want(rc.ID, next)
			if !slices.Equal(live.seen, want) {
				t.Errorf("live:\n got %q\nwant %q", live.seen, want)
			}
			if got := readBack(t, s, rc.Seq); !slices.Equal(got, want) {
				t.Errorf("read back from the log:\n got %q\nwant %q (as live)", got, want)
			}
			// Replay ends where the live run did (once the live run has
			// swept what expired on the fake clock, as replay does).
			s.inWriter(func() error { s.sweep(); return nil })
			before := s.Stats()
			s = reopen(t, s, opts)
			if after := s.Stats(); after != before {
				t.Errorf("after replay %+v, live %+v", after, before)
			}
		})
	}
}

// distinctStripes seeds s's stripes anew until the named ones (kind, a, b)
// differ: a test's writes of different things must not wait for one
// another by sharing a stripe (1 in 256 for two names).
func distinctStripes(s *Store, names [][3]string) {
	for {
		seen := map[chan struct{}]bool{}
		for _, n := range names {
			seen[s.locks.of(n[0][0], n[1], n[2])] = true
		}
		if len(seen) == len(names) {
			return
		}
		s.locks = newStripes()
	}
}

// TestSettleKeepsRecreatedUser: a user deleted after a notify resolved its
// recipients, and created again right before the notify's message in the
// same batch, gets the message, as apply would give it.
func TestSettleKeepsRecreatedUser(t *testing.T) {
	t.Parallel()
	for _, users := range [][]string{{"ann"}, {"ann", "bob"}} {
		t.Run(fmt.Sprint(users), func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t, nil)
			putTeam(t, s)
			distinctStripes(s, [][3]string{{"u", "ann", ""}, {"k", "k", ""}})
			// The key's stripe holds the notify after it has resolved
			// its recipients (old ann) and before it appends.
			lk, err := s.locks.lock(bg, stripeKey, "k", "")
			if err != nil {
				t.Fatal(err)
			}
			type answer struct {
				rc  Receipt
				err error
			}
			done := make(chan answer, 1)
			go func() {
				rc, err := s.Notify(bg, Notification{Users: users, Key: "k", Body: body(`1`), TTL: time.Hour})
				done <- answer{rc, err}
			}()
			// Not a timing assertion: had the notify not resolved by then,
			// it would resolve new ann and pass without the race.
			time.Sleep(50 * time.Millisecond)
			if err := s.DeleteUser(bg, "ann"); err != nil {
				t.Fatal(err)
			}
			errs := inOneBatch(t, s,
				func() error { _, _, err := s.PutUser(bg, "ann", nil); return err },
				func() error { lk.Unlock(); return nil },
			)
			if errs[0] != nil {
				t.Fatal(errs[0])
			}
			a := <-done
			if a.err != nil || a.rc.Recipients != len(users) {
				t.Fatalf("notify %v: %+v %v, want all %d recipients (ann created again before the message)", users, a.rc, a.err, len(users))
			}
			if u, _ := s.User("ann"); u.Pending != 1 {
				t.Errorf("ann has %d pending, want the message", u.Pending)
			}
		})
	}
}
