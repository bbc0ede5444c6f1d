package store

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"slices"
	"sort"
	"sync/atomic"
)

// Message is a committed notification. Its exported fields never change
// after commit; the state of its copies is the store's, behind its lock
// (but for each copy's delivered flag: see DeliveredFlag).
type Message struct {
	ID      string
	Seq     uint64
	Event   string
	Body    json.RawMessage
	Created int64 // unix milliseconds
	Expires int64 // unix milliseconds

	recipients []recipient
	open       int          // recipients neither acknowledged nor gone
	one        [1]recipient // backs recipients for the common single recipient
}

// recipient is one user's copy of a message.
type recipient struct {
	User      string
	Acked     bool
	Gone      bool        // the user was deleted, or the copy fell off a full queue
	Delivered atomic.Bool // written to at least one of the user's streams
}

func (s *state) addMessage(r *record) (*Message, int) {
	// Copies that expired by the time this message was sent leave first,
	// so the pending cap below sees what the live run saw.
	s.expire(r.Created)
	m := &Message{
		ID:      r.ID,
		Seq:     r.Seq,
		Event:   r.Event,
		Body:    r.Message,
		Created: r.Created,
		Expires: r.Expires,
	}
	if s.msgs.get(r.ID) != nil {
		// Ids are random: a duplicate cannot come from this hub.
		return nil, 0
	}
	// A message that has expired by replay time is still added here and
	// swept by expire: its arrival may have pushed an older copy out of a
	// full queue, and replay must end where the live run did.
	if len(r.Users) == 1 {
		m.recipients = m.one[:0:1]
	} else {
		m.recipients = make([]recipient, 0, len(r.Users))
	}
	var seen map[string]struct{}
	if len(r.Users) > 1 {
		// Writers dedupe, but a record is outside input at replay.
		seen = make(map[string]struct{}, len(r.Users))
	}
	var acked map[string]struct{} // only snapshots list acknowledged copies
	if len(r.Acked) > 0 {
		acked = make(map[string]struct{}, len(r.Acked))
		for _, a := range r.Acked {
			acked[a] = struct{}{}
		}
	}
	for _, uid := range r.Users {
		_, isAcked := acked[uid]
		id := uid
		if u := s.users[uid]; u != nil {
			// The user's own id string: the record's copy can be collected.
			id = u.id
		} else if !isAcked {
			continue
		}
		// (An acknowledged copy outlives its user, as it does in the
		// live state that a snapshot lists.)
		if seen != nil {
			if _, dup := seen[uid]; dup {
				continue
			}
			seen[uid] = struct{}{}
		}
		m.recipients = append(m.recipients, recipient{User: id, Acked: isAcked})
	}
	if len(m.recipients) == 0 {
		return nil, 0
	}
	s.msgs.put(m)
	for i := range m.recipients {
		rc := &m.recipients[i]
		if rc.Acked {
			continue
		}
		m.open++
		s.open++
		u := s.users[rc.User]
		if s.maxPending > 0 && len(u.pending) >= s.maxPending {
			// The oldest copy makes room: a bounded queue per user, like a
			// mailbox, so one absent user cannot grow memory without end.
			old := u.pending[0]
			// Reslice rather than shift: a full queue drops one per
			// message, and append reallocates with only the live copies.
			u.pending[0] = nil
			u.pending = u.pending[1:]
			if orc := old.recipient(u.id); orc != nil {
				orc.Gone = true
			}
			s.dropped++
			s.closeCopy(old)
		}
		u.pending = append(u.pending, m)
	}
	if m.open == 0 {
		s.complete(m)
		return m, len(m.recipients)
	}
	heap.Push(&s.expiry, m)
	return m, len(m.recipients)
}

// ack marks a user's copy acknowledged; it reports whether the user had
// that copy at all (acknowledging twice is fine).
func (s *state) ack(msgID, uid string) bool {
	m := s.msgs.get(msgID)
	if m == nil {
		return false
	}
	rc := m.recipient(uid)
	if rc == nil || rc.Gone {
		return false
	}
	if rc.Acked {
		return true
	}
	rc.Acked = true
	if u := s.users[uid]; u != nil {
		u.pending = removeMsg(u.pending, m)
	}
	s.closeCopy(m)
	return true
}

// closeCopy accounts for one recipient leaving the open set.
func (s *state) closeCopy(m *Message) {
	m.open--
	s.open--
	if m.open == 0 {
		s.complete(m)
	}
}

// complete keeps a finished message for status queries: the keepDone
// newest by seq. By seq, not by when they finished: then the set kept does
// not depend on the order of acknowledgements, and a snapshot (which lists
// messages by seq) replays to the set the live hub holds.
//
// A message none of whose copies was acknowledged (its users deleted, or
// its copies dropped by the pending cap) is not kept: a snapshot lists
// only copies that still exist, so it could not bring it back.
func (s *state) complete(m *Message) {
	if s.keepDone <= 0 || !m.anyAcked() {
		s.msgs.del(m.ID)
		return
	}
	if n := len(s.done); n == 0 || s.done[n-1].Seq < m.Seq {
		s.done = append(s.done, m)
	} else {
		i, _ := slices.BinarySearchFunc(s.done, m.Seq, func(d *Message, seq uint64) int { return cmp.Compare(d.Seq, seq) })
		s.done = slices.Insert(s.done, i, m)
	}
	if len(s.done) > s.keepDone {
		old := s.done[0]
		s.done[0] = nil
		s.done = s.done[1:]
		if s.msgs.get(old.ID) == old && old.open == 0 {
			s.msgs.del(old.ID)
		}
	}
}

// expire drops every message whose ttl ran out by now and returns how many.
func (s *state) expire(now int64) int {
	n := 0
	for len(s.expiry) > 0 && s.expiry[0].Expires <= now {
		m := heap.Pop(&s.expiry).(*Message)
		if m.open == 0 || s.msgs.get(m.ID) != m {
			continue
		}
		for i := range m.recipients {
			rc := &m.recipients[i]
			if rc.Acked || rc.Gone {
				continue
			}
			if u := s.users[rc.User]; u != nil {
				u.pending = removeMsg(u.pending, m)
			}
		}
		s.open -= m.open
		m.open = 0
		s.msgs.del(m.ID)
		s.expired++
		n++
	}
	return n
}

// nextExpiry is the earliest expiry still due, or 0.
func (s *state) nextExpiry() int64 {
	for len(s.expiry) > 0 {
		m := s.expiry[0]
		if m.open > 0 && s.msgs.get(m.ID) == m {
			return m.Expires
		}
		heap.Pop(&s.expiry)
	}
	return 0
}

func (m *Message) anyAcked() bool {
	for i := range m.recipients {
		if m.recipients[i].Acked {
			return true
		}
	}
	return false
}

func (m *Message) recipient(uid string) *recipient {
	for i := range m.recipients {
		if m.recipients[i].User == uid {
			return &m.recipients[i]
		}
	}
	return nil
}

// removeMsg deletes m from a seq-ordered pending list.
func removeMsg(list []*Message, m *Message) []*Message {
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= m.Seq })
	if i < len(list) && list[i] == m {
		copy(list[i:], list[i+1:])
		list[len(list)-1] = nil
		return list[:len(list)-1]
	}
	return list
}

// expiryHeap orders open messages by expiry; entries of messages that
// finished some other way are skipped when they surface.
type expiryHeap []*Message

func (h expiryHeap) Len() int { return len(h) }

func (h expiryHeap) Less(i, j int) bool { return h[i].Expires < h[j].Expires }

func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *expiryHeap) Push(x any) { *h = append(*h, x.(*Message)) }

func (h *expiryHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}
