package store

import (
	"fmt"
	"strings"
	"testing"
)

// TestBudget: over the hub-wide budget the oldest open copies go first,
// whoever holds them; a large payload counts as many copies; the state
// never exceeds the budget, live or replayed, and a replay with the same
// budget ends where the live hub did.
func TestBudget(t *testing.T) {
	s, opts := newStore(t, nil, func(o *Options) { o.MaxPendingTotal = 20 })
	var users []string
	for i := range 5 {
		u := fmt.Sprint("u", i)
		users = append(users, u)
		putUser(t, s, u)
	}
	var msgs []string
	for i := range 10 { // 10 broadcasts of 5 copies and 1 unit each
		rc := notify(t, s, Notification{Users: users})
		msgs = append(msgs, rc.ID)
		if st := s.Stats(); st.Cost > opts.MaxPendingTotal {
			t.Fatalf("after message %d the pending state costs %d, over the budget %d", i, st.Cost, opts.MaxPendingTotal)
		}
	}
	st := s.Stats()
	// 20 units hold three whole broadcasts (3 x 6) and one copy of a
	// fourth (1 + 1).
	if st.Pending != 16 || st.Cost != 20 || st.OverBudget != 34 {
		t.Errorf("stats %+v: want 16 pending copies costing 20, 34 dropped over the budget", st)
	}
	for i, id := range msgs {
		_, ok := s.Message(id)
		if want := i >= 6; ok != want {
			t.Errorf("message %d known %v, want %v (the oldest go first)", i, ok, want)
		}
	}
	// A large payload costs a copy per 256 bytes: it pushes older copies out.
	big := notify(t, s, Notification{Users: []string{"u0"}, Body: body(`"` + strings.Repeat("x", 10*payloadUnit) + `"`)})
	if st := s.Stats(); st.Cost > opts.MaxPendingTotal || st.Pending >= 16 {
		t.Errorf("after a large message: %+v", st)
	}
	want := dumpState(t, s, users, append(msgs, big.ID))
	s = reopen(t, s, opts)
	sameState(t, "replay with the same budget", want, dumpState(t, s, users, append(msgs, big.ID)))
	s = compactAndReopen(t, s, opts)
	got := dumpState(t, s, users, append(msgs, big.ID))
	got.Stats.OverBudget, want.Stats.OverBudget = 0, 0 // a counter of what this process dropped
	sameState(t, "compaction", want, got)

	// A smaller budget at the next start: replay holds no more either.
	opts.MaxPendingTotal = 8
	s = reopen(t, s, opts)
	if st := s.Stats(); st.Cost > 8 {
		t.Errorf("replayed under a budget of 8: %+v", st)
	}
}
