package store

import (
	"cmp"
	"encoding/json"
	"iter"
	"slices"
	"sync/atomic"
	"time"
)

// MessageInfo is a message with the state of each copy.
type MessageInfo struct {
	ID         string
	Seq        uint64
	Event      string
	Key        string
	Body       json.RawMessage
	Created    time.Time
	Expires    time.Time
	Recipients []RecipientInfo
}

// RecipientInfo is one user's copy of a message.
type RecipientInfo struct {
	User      string
	Delivered bool
	Acked     bool
	State     string // pending, acknowledged, recalled, replaced or expired
}

// Message returns a message and the state of its copies (a copy whose user
// was deleted, or that fell off a full queue, is not shown).
func (s *Store) Message(id string) (MessageInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.st.msgs.get(id)
	if m == nil {
		return MessageInfo{}, false
	}
	mi := messageInfo(m)
	mi.Recipients = make([]RecipientInfo, 0, len(m.recipients))
	for i := range m.recipients {
		rc := &m.recipients[i]
		if rc.state == copyGone {
			continue
		}
		// An acknowledged copy was received, whichever way it went; and
		// the Delivered flag itself is not in the log, so without this a
		// restart would show acknowledged copies as never delivered.
		acked := rc.state == copyAcked
		mi.Recipients = append(mi.Recipients, RecipientInfo{User: rc.user(), Delivered: acked || rc.Delivered.Load(), Acked: acked, State: stateNames[rc.state]})
	}
	return mi, true
}

func messageInfo(m *Message) MessageInfo {
	return MessageInfo{
		ID: m.ID, Seq: m.Seq, Event: m.Event, Key: m.Key, Body: m.Body,
		Created: time.UnixMilli(m.Created).UTC(), Expires: time.UnixMilli(m.Expires).UTC(),
	}
}

// InboxEntry is a message as one user's inbox shows it.
type InboxEntry struct {
	MessageInfo
	State string // the user's copy: pending, acknowledged, recalled or replaced
}

// Inbox lists the user's messages with seq above after, oldest first, at
// most limit of them: the pending ones, and with all also those whose copy
// was acknowledged, recalled or replaced and that are still kept. ok is
// false if the user does not exist.
func (s *Store) Inbox(userID string, all bool, after uint64, limit int) (out []InboxEntry, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[userID]
	if u == nil {
		return nil, false
	}
	var list []*Message
	for _, m := range u.pending {
		if m.Seq > after {
			list = append(list, m)
		}
	}
	if all {
		// Closed copies are not indexed by user: the kept messages are
		// few (--keep-acked bounds them), so they are searched.
		s.st.msgs.each(func(m *Message) {
			if m.Seq <= after {
				return
			}
			if rc := m.recipient(userID); rc != nil && rc.kept() {
				list = append(list, m)
			}
		})
		slices.SortFunc(list, func(a, b *Message) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	if len(list) > limit {
		list = list[:limit]
	}
	out = make([]InboxEntry, len(list))
	for i, m := range list {
		out[i] = InboxEntry{MessageInfo: messageInfo(m), State: stateNames[m.recipient(userID).state]}
	}
	return out, true
}

// Resume is what a reconnecting stream says it has seen: its last event
// id, if it sent one (Given) and it is a seq (Valid).
type Resume struct {
	Last  uint64
	Given bool
	Valid bool
}

// Replay is what a stream that opens is sent before live events.
type Replay struct {
	// Pending are the user's open copies, oldest first: those with seq
	// above the last event id, or all of them on a reset.
	Pending []*Message
	// Retractions are the acknowledgements and recalls with seq above the
	// last event id of messages at or below it, oldest first.
	Retractions []Retraction
	// Reset is set when the hub cannot tell what the device missed: its
	// last event id is older than the user's history reaches, or is no
	// seq of this log.
	Reset bool
	// Seq is the log's seq now: every later event comes live.
	Seq uint64
}

// Subscribe calls fn, under the store's read lock, with what a stream of
// the user that resumes from r is sent first. No commit happens while fn
// runs, so a stream registered inside fn sees every later event live and
// none twice. It fails with ErrGone if the user no longer exists or its
// generation moved past gen.
func (s *Store) Subscribe(userID string, gen uint64, r Resume, fn func(Replay)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[userID]
	if u == nil || s.st.userGen[userID] != gen {
		return ErrGone
	}
	rp := Replay{Seq: s.st.seq}
	after := r.Last
	if r.Given && (!r.Valid || after > rp.Seq || after < max(s.st.floor, u.hist.floor)) {
		rp.Reset, after = true, 0
	}
	now := s.nowMilli()
	for _, m := range u.pending {
		if m.Seq > after && m.Expires > now {
			rp.Pending = append(rp.Pending, m)
		}
	}
	if r.Given && !rp.Reset {
		rp.Retractions = u.hist.after(rp.Retractions, after)
	}
	fn(rp)
	return nil
}

// OpenCopies yields, for each copy of m that waits for an
// acknowledgement, its user and the flag to set once the copy is written to
// one of the user's streams. Call it only under the store's lock (from an
// Observer).
func (m *Message) OpenCopies() iter.Seq2[string, *atomic.Bool] {
	return func(yield func(string, *atomic.Bool) bool) {
		for i := range m.recipients {
			rc := &m.recipients[i]
			if rc.state == copyOpen && !yield(rc.user(), &rc.Delivered) {
				return
			}
		}
	}
}

// Recipients yields the users m was sent to (deleted ones included).
func (m *Message) Recipients() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range m.recipients {
			if !yield(m.recipients[i].user()) {
				return
			}
		}
	}
}

// DeliveredFlag returns the flag to set once user's copy of m is written to
// one of the user's streams, or nil if the user has no copy. The flag is
// the one thing about a copy that may change without the store's lock.
func (m *Message) DeliveredFlag(user string) *atomic.Bool {
	if rc := m.recipient(user); rc != nil {
		return &rc.Delivered
	}
	return nil
}
