package store

import (
	"slices"
	"testing"
)

// TestReplayDedupesRecipients: the writer lists each recipient once, but at
// replay a record is outside input. A user listed twice gets one copy; so
// does a user that no longer exists and whose copy was closed (a snapshot
// keeps those), while one listed again in the next record still gets that.
func TestReplayDedupesRecipients(t *testing.T) {
	dir := t.TempDir()
	msg := func(seq uint64, id string, users ...string) record {
		return record{Seq: seq, Op: opMsg, ID: id, Users: users, Event: "e", Message: body(`"x"`),
			Created: fakeBase.UnixMilli(), Expires: fakeBase.UnixMilli() + 3600_000}
	}
	m1 := msg(3, "m1", "ann", "bob", "ann", "gone", "gone", "bob")
	m1.Acked = []string{"gone"}
	writeFile(t, logPath(dir), frame(t,
		record{Seq: 1, Op: opUserPut, ID: "ann"},
		record{Seq: 2, Op: opUserPut, ID: "bob"},
		m1,
		msg(4, "m2", "ann", "ann"),
	))
	s := mustOpen(t, testOptions(dir, newClock()))
	defer mustClose(t, s)

	info, ok := s.Message("m1")
	if !ok {
		t.Fatal("m1 not kept")
	}
	var got []string
	for _, r := range info.Recipients {
		got = append(got, r.User)
	}
	if want := []string{"ann", "bob", "gone"}; !slices.Equal(got, want) {
		t.Errorf("m1 recipients = %v, want %v", got, want)
	}
	for user, want := range map[string][]string{"ann": {"m1", "m2"}, "bob": {"m1"}} {
		if got := pendingIDs(t, s, user); !slices.Equal(got, want) {
			t.Errorf("%s pending = %v, want %v", user, got, want)
		}
	}
	if st := s.Stats(); st.Pending != 3 {
		t.Errorf("pending copies = %d, want 3", st.Pending)
	}
}

// TestReplayRecallListingAUserTwice: a replayed recall that lists a user
// twice withdraws that user's copy once, and leaves the other recipient's
// copy open and counted.
func TestReplayRecallListingAUserTwice(t *testing.T) {
	dir := t.TempDir()
	m1 := record{Seq: 3, Op: opMsg, ID: "m1", Users: []string{"ann", "bob"}, Event: "e", Message: body(`"x"`),
		Created: fakeBase.UnixMilli(), Expires: fakeBase.UnixMilli() + 3600_000}
	writeFile(t, logPath(dir), frame(t,
		record{Seq: 1, Op: opUserPut, ID: "ann"},
		record{Seq: 2, Op: opUserPut, ID: "bob"},
		m1,
		record{Seq: 4, Op: opRecall, ID: "m1", Users: []string{"ann", "ann"}},
	))
	s := mustOpen(t, testOptions(dir, newClock()))
	defer mustClose(t, s)

	if got := pendingIDs(t, s, "bob"); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("bob pending = %v, want [m1]", got)
	}
	if got := pendingIDs(t, s, "ann"); len(got) != 0 {
		t.Errorf("ann pending = %v, want none", got)
	}
	if st := s.Stats(); st.Pending != 1 || st.OpenMessages != 1 {
		t.Errorf("stats: %d pending, %d open messages; want 1 and 1", st.Pending, st.OpenMessages)
	}
	// Ann's history holds the recall once: a device of hers that saw m1
	// resumes with one rtchub.recall.
	gen, _ := s.UserGen("ann")
	var got []Retraction
	if err := s.Subscribe("ann", gen, Resume{Given: true, Valid: true, Last: 3}, func(rp Replay) { got = rp.Retractions }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "m1" || got[0].Reason != Recalled {
		t.Errorf("ann's retractions after seq 3 = %+v, want the one recall of m1", got)
	}
}

// TestClosedCopiesFixedOrder: a user a snapshot lists in two closed states
// ends in the same one every time (the last list: acknowledged, recalled,
// replaced, expired), not by map order.
func TestClosedCopiesFixedOrder(t *testing.T) {
	r := &record{Acked: []string{"ann", "bob"}, Recalled: []string{"ann"}, Lapsed: []string{"bob"}}
	for range 50 {
		m := closedCopies(r)
		if m["ann"] != copyRecalled || m["bob"] != copyExpired {
			t.Fatalf("closedCopies = %v, want ann recalled and bob expired", m)
		}
	}
}
