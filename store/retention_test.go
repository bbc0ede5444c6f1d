package store

// How long messages and copies are kept: expiry, the pending cap and
// KeepAcked, live and across a restart.

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// TestMessageExpiry uses the fake clock: the store's timer waits in real
// time, so expiry shows in Subscribe's filter and at the next open.
func TestMessageExpiry(t *testing.T) {
	clk := newClock()
	s, opts := newStore(t, clk)
	putUser(t, s, "ann")
	short := notify(t, s, Notification{Users: []string{"ann"}, TTL: time.Hour})
	long := notify(t, s, Notification{Users: []string{"ann"}, TTL: 10 * time.Hour})
	if ids := pendingIDs(t, s, "ann"); !slices.Equal(ids, []string{short.ID, long.ID}) {
		t.Fatalf("pending %v", ids)
	}
	clk.Advance(time.Hour) // expires is exclusive: at expiry the message is gone
	if ids := pendingIDs(t, s, "ann"); !slices.Equal(ids, []string{long.ID}) {
		t.Fatalf("pending at the short ttl %v, want only the long one", ids)
	}
	s = reopen(t, s, opts)
	if _, ok := s.Message(short.ID); ok {
		t.Fatal("expired message survived a restart")
	}
	if st := s.Stats(); st.OpenMessages != 1 || st.Pending != 1 {
		t.Fatalf("after restart: %+v", st)
	}
	if err := s.Ack(bg, short.ID, "ann"); !notFound(err, "message", short.ID) {
		t.Fatalf("ack of an expired message: %v", err)
	}
	if info, _ := s.User("ann"); info.Pending != 1 {
		t.Fatalf("ann %+v", info)
	}
	// Compaction leaves expired messages out.
	clk.Advance(9 * time.Hour)
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, logPath(opts.Dir))
	if bytes.Contains(data, []byte(long.ID)) {
		t.Fatalf("compacted log holds an expired message:\n%s", data)
	}
	s = reopen(t, s, opts)
	if st := s.Stats(); st.OpenMessages != 0 || st.Pending != 0 || st.Seq != long.Seq {
		t.Fatalf("after compact and restart: %+v", st)
	}
}

func TestPendingCap(t *testing.T) {
	s, opts := newStore(t, nil, func(o *Options) { o.MaxPending = 3 })
	putUser(t, s, "ann")
	putUser(t, s, "bob")
	var ids []string
	for range 4 {
		ids = append(ids, notify(t, s, Notification{Users: []string{"ann", "bob"}}).ID)
	}
	check := func(when string) {
		t.Helper()
		for _, u := range []string{"ann", "bob"} {
			if got := pendingIDs(t, s, u); !slices.Equal(got, ids[1:]) {
				t.Fatalf("%s: %s pending %v, want the newest 3 %v", when, u, got, ids[1:])
			}
			if info, _ := s.User(u); info.Pending != 3 {
				t.Fatalf("%s: %+v", when, info)
			}
			// Every copy of it was dropped, none acknowledged: the
			// message is forgotten.
			if err := s.Ack(bg, ids[0], u); !notFound(err, "message", ids[0]) {
				t.Fatalf("%s: ack of a dropped copy: %v", when, err)
			}
		}
		if st := s.Stats(); st.Dropped != 2 || st.Pending != 6 || st.OpenMessages != 3 {
			t.Fatalf("%s: stats %+v, want 2 dropped copies, 6 pending, 3 open messages", when, st)
		}
		if m, ok := s.Message(ids[0]); ok {
			t.Fatalf("%s: a message with every copy dropped is still kept: %+v", when, m)
		}
	}
	check("live")
	s = reopen(t, s, opts)
	check("after restart")

	// Acknowledging makes room without dropping.
	ack(t, s, ids[1], "ann")
	ids5 := notify(t, s, Notification{Users: []string{"ann"}}).ID
	if got := pendingIDs(t, s, "ann"); !slices.Equal(got, []string{ids[2], ids[3], ids5}) || s.Stats().Dropped != 2 {
		t.Fatalf("ann pending %v, dropped %d", got, s.Stats().Dropped)
	}
}

// TestPendingCapReplayWithExpiredMessage: a copy that the cap dropped
// live must stay dropped after a restart, even when the message that
// pushed it out has expired by then.
func TestPendingCapReplayWithExpiredMessage(t *testing.T) {
	clk := newClock()
	s, opts := newStore(t, clk, func(o *Options) { o.MaxPending = 3 })
	putUser(t, s, "ann")
	var ids []string
	for range 3 {
		ids = append(ids, notify(t, s, Notification{Users: []string{"ann"}, TTL: 10 * time.Hour}).ID)
	}
	short := notify(t, s, Notification{Users: []string{"ann"}, TTL: time.Hour}) // drops ids[0]
	clk.Advance(2 * time.Hour)                                                  // short has expired
	live := pendingIDs(t, s, "ann")
	if !slices.Equal(live, ids[1:]) || s.Stats().Dropped != 1 {
		t.Fatalf("live: pending %v dropped %d, want %v and 1 (short %s)", live, s.Stats().Dropped, ids[1:], short.ID)
	}
	s = reopen(t, s, opts)
	if got := pendingIDs(t, s, "ann"); !slices.Equal(got, live) || s.Stats().Dropped != 1 {
		t.Fatalf("after restart ann has pending %v (dropped %d), want %v (dropped 1) as before the restart: "+
			"replay skips the expired message before the pending cap sees it (state.go:209 returns early), "+
			"so the copy it pushed out live comes back", got, s.Stats().Dropped, live)
	}
}

func TestKeepAcked(t *testing.T) {
	s, opts := newStore(t, nil, func(o *Options) { o.KeepAcked = 2 })
	putUser(t, s, "ann")
	var ids []string
	for range 3 {
		rc := notify(t, s, Notification{Users: []string{"ann"}})
		ack(t, s, rc.ID, "ann")
		ids = append(ids, rc.ID)
	}
	check := func(when string) {
		t.Helper()
		if _, ok := s.Message(ids[0]); ok {
			t.Fatalf("%s: the oldest acknowledged message is still kept with KeepAcked=2", when)
		}
		for _, id := range ids[1:] {
			if m, ok := s.Message(id); !ok || len(m.Recipients) != 1 || !m.Recipients[0].Acked {
				t.Fatalf("%s: acknowledged message %s: %+v %v", when, id, m, ok)
			}
		}
		if st := s.Stats(); st.OpenMessages != 0 {
			t.Fatalf("%s: %+v", when, st)
		}
	}
	check("live")
	s = reopen(t, s, opts)
	check("after restart")

	opts.KeepAcked = -1
	s = reopen(t, s, opts)
	for _, id := range ids {
		if _, ok := s.Message(id); ok {
			t.Fatalf("KeepAcked=-1 keeps %s", id)
		}
	}
}

// TestRecordsAfterAnExpirySweep: the live hub's timer sweeps expired
// messages between batches; replay has no timer. A deletion or an
// acknowledgement after a sweep must meet the same messages at replay as it
// did live, or the deleted user's expired copy would close as "done" (and
// stay queryable) and a late ack would land on a message that had expired.
func TestRecordsAfterAnExpirySweep(t *testing.T) {
	clk := newClock()
	s, opts := newStore(t, clk)
	putUser(t, s, "ann")
	putUser(t, s, "bob")
	gone := notify(t, s, Notification{Users: []string{"ann"}, TTL: 20 * time.Millisecond})
	late := notify(t, s, Notification{Users: []string{"bob"}, TTL: 20 * time.Millisecond})
	// The timer is armed for 20 ms of real time; when it fires it reads
	// the store's clock, which is past both expiries by then.
	clk.Advance(time.Second)
	for deadline := time.Now().Add(10 * time.Second); s.Stats().Expired < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the expiry timer did not sweep: %+v", s.Stats())
		}
	}
	if err := s.DeleteUser(bg, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(bg, late.ID, "bob"); !notFound(err, "message", late.ID) {
		t.Fatalf("ack of an expired message: %v", err)
	}
	users, ids := []string{"ann", "bob"}, []string{gone.ID, late.ID}
	want := dumpState(t, s, users, ids)
	if want.Messages[gone.ID] != nil || want.Messages[late.ID] != nil {
		t.Fatalf("expired messages still queryable live: %s", want)
	}
	s = reopen(t, s, opts)
	sameState(t, "replay", want, dumpState(t, s, users, ids))
	mustClose(t, s)
}
