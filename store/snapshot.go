package store

import (
	"cmp"
	"slices"
)

// snapshot emits the live state as of time at (unix ms) as records: a
// header, then clients, revocation generations, groups, users and messages
// (by seq). Replaying them into an empty state gives back this state, less
// dead data.
func (s *state) snapshot(at int64, emit func(*record) error) error {
	if err := emit(&record{Op: opSnapshot, Upto: s.seq}); err != nil {
		return err
	}
	for _, id := range sortedKeys(s.clients) {
		c := s.clients[id]
		if err := emit(&record{Op: opClientPut, ID: c.ID, Name: c.Name, Hash: c.Hash}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(s.clientGen) {
		if err := emit(&record{Op: opGen, Kind: "client", User: id, Gen: s.clientGen[id]}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(s.userGen) {
		if err := emit(&record{Op: opGen, Kind: "user", User: id, Gen: s.userGen[id]}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(s.groups) {
		if err := emit(&record{Op: opGroupPut, ID: id}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(s.users) {
		u := s.users[id]
		if err := emit(&record{Op: opUserPut, ID: id, Groups: u.groups}); err != nil {
			return err
		}
	}
	open := make([]*Message, 0, s.msgs.len())
	s.msgs.each(func(m *Message) {
		// Open messages, and the acknowledged ones kept for status
		// queries (KeepAcked), which replay files as done again; those
		// stay past their expiry, as they do live.
		if m.open == 0 || m.Expires > at {
			open = append(open, m)
		}
	})
	slices.SortFunc(open, func(a, b *Message) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, m := range open {
		r := &record{Seq: m.Seq, Op: opMsg, ID: m.ID, Event: m.Event, Key: m.Key, Message: m.Body, Created: m.Created, Expires: m.Expires}
		for i := range m.recipients {
			rc := &m.recipients[i]
			if rc.state == copyGone {
				continue
			}
			r.Users = append(r.Users, rc.user())
			switch rc.state {
			case copyAcked:
				r.Acked = append(r.Acked, rc.user())
			case copyRecalled:
				r.Recalled = append(r.Recalled, rc.user())
			case copyReplaced:
				r.Replaced = append(r.Replaced, rc.user())
			case copyExpired:
				r.Lapsed = append(r.Lapsed, rc.user())
			}
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// closedCopies maps the users a snapshot's message record lists as
// acknowledged, recalled, replaced or expired to their copies' state.
func closedCopies(r *record) map[string]copyState {
	n := len(r.Acked) + len(r.Recalled) + len(r.Replaced) + len(r.Lapsed)
	if n == 0 {
		return nil
	}
	m := make(map[string]copyState, n)
	// In a fixed order, so a user listed twice ends the same way at every
	// replay (the last list wins).
	for _, l := range [...]struct {
		st    copyState
		users []string
	}{{copyAcked, r.Acked}, {copyRecalled, r.Recalled}, {copyReplaced, r.Replaced}, {copyExpired, r.Lapsed}} {
		for _, u := range l.users {
			m[u] = l.st
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
