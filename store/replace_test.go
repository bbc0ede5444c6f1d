package store

import (
	"slices"
	"testing"
)

// TestReplacementIsWholeOrAbsent: the recalls of a replacement take
// effect only with the message that replaces the copies. A log that ends
// after them (a power cut that kept their pages and not the message's), or
// in which another record follows them, leaves the old copies open.
func TestReplacementIsWholeOrAbsent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after []record // what follows the recall in the log
		open  bool     // the old copy is still open
	}{
		{"the message follows", []record{{Op: opMsg, ID: "new000000000000000000000", Users: []string{"ann"}, Key: "k", Created: 1, Expires: 1 << 62}}, false},
		{"the log ends", nil, true},
		{"another record follows", []record{{Op: opUserPut, ID: "bob"}}, true},
		{"another message follows", []record{{Op: opMsg, ID: "oth000000000000000000000", Users: []string{"ann"}, Created: 1, Expires: 1 << 62}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := []record{
				{Seq: 1, Op: opUserPut, ID: "ann", N: 1},
				{Seq: 2, Op: opMsg, ID: "old000000000000000000000", Users: []string{"ann"}, Key: "k", Created: 1, Expires: 1 << 62, N: 1},
				{Seq: 3, Op: opRecall, ID: "old000000000000000000000", Users: []string{"ann"}, By: "new000000000000000000000", N: uint64(1 + len(tc.after))},
			}
			for i, r := range tc.after {
				r.Seq = uint64(4 + i)
				recs = append(recs, r)
			}
			writeFile(t, logPath(dir), frame(t, recs...))
			s := mustOpen(t, testOptions(dir, nil))
			m, _ := s.Message("old000000000000000000000")
			if open := m.Recipients[0].State == "pending"; open != tc.open {
				t.Fatalf("old copy %s, want open %v", m.Recipients[0].State, tc.open)
			}
			// Either way a user holds one open copy per key afterwards: a
			// new replacement takes whatever is open.
			rc := notify(t, s, Notification{Users: []string{"ann"}, Key: "k"})
			ids := pendingIDs(t, s, "ann")
			if !slices.Contains(ids, rc.ID) || slices.Contains(ids, "old000000000000000000000") || slices.Contains(ids, "new000000000000000000000") {
				t.Errorf("pending after a later replacement: %v", ids)
			}
		})
	}
}

// TestKeysAfterRestartAndCompaction: the key index is rebuilt by replay
// and from a snapshot, so a replacement after either finds the open copy.
func TestKeysAfterRestartAndCompaction(t *testing.T) {
	s, opts := newStore(t, nil)
	putUser(t, s, "ann")
	old := notify(t, s, Notification{Users: []string{"ann"}, Key: "k"})
	s = reopen(t, s, opts)
	mid := notify(t, s, Notification{Users: []string{"ann"}, Key: "k"})
	s = compactAndReopen(t, s, opts)
	last := notify(t, s, Notification{Users: []string{"ann"}, Key: "k"})
	if ids := pendingIDs(t, s, "ann"); !slices.Equal(ids, []string{last.ID}) {
		t.Fatalf("pending %v, want only %s", ids, last.ID)
	}
	for _, id := range []string{old.ID, mid.ID} {
		if m, ok := s.Message(id); !ok || m.Recipients[0].State != "replaced" || m.Key != "k" {
			t.Errorf("%s: %+v, want a replaced copy of key k", id, m)
		}
	}
}
