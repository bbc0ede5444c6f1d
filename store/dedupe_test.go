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
