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
	Key     string // replaces the recipients' older copies with the same key
	Body    json.RawMessage
	Created int64 // unix milliseconds
	Expires int64 // unix milliseconds

	recipients []recipient
	open       int          // recipients whose copy is open
	heapAt     int          // index in the expiry heap; -1 when not in it
	one        [1]recipient // backs recipients for the common single recipient
}

// copyState is what became of one user's copy of a message.
type copyState uint8

const (
	copyOpen     copyState = iota // waits for an acknowledgement
	copyAcked                     // acknowledged
	copyRecalled                  // withdrawn by the application
	copyReplaced                  // withdrawn by a newer message with the same key
	copyExpired                   // its ttl ran out
	copyGone                      // the user was deleted, or the copy fell off a full queue
)

// stateNames are the copy states as the API names them; a gone copy is
// not shown.
var stateNames = [...]string{"pending", "acknowledged", "recalled", "replaced", "expired", ""}

// recipient is one user's copy of a message: 16 bytes, the most of what
// a broadcast's copy costs besides the pointer in the user's queue.
type recipient struct {
	who       *user // the user as it was: its id stays when it is deleted
	state     copyState
	Delivered atomic.Bool // written to at least one of the user's streams
}

// user is the id of the copy's user.
func (rc *recipient) user() string { return rc.who.id }

// kept reports whether the copy makes its message worth keeping once no
// copy is open: an application may ask what became of it.
func (rc *recipient) kept() bool {
	return rc.state == copyAcked || rc.state == copyRecalled || rc.state == copyReplaced
}

// Reason says why copies left their users' inboxes.
type Reason uint8

const (
	Acked    Reason = iota + 1 // acknowledged, on any device or by the application
	Recalled                   // the application recalled the message
	Replaced                   // a newer message with the same key replaced it
)

// String is the reason as the event streams name it.
func (r Reason) String() string {
	switch r {
	case Acked:
		return "acknowledged"
	case Recalled:
		return "recalled"
	case Replaced:
		return "replaced"
	}
	return "unknown"
}

var reasonState = [...]copyState{Acked: copyAcked, Recalled: copyRecalled, Replaced: copyReplaced}

// A Retraction is one record that took a message out of a user's inbox: its
// seq is the record's, MsgSeq the message's. By is the replacing message's
// id (Replaced only).
type Retraction struct {
	Seq    uint64
	MsgSeq uint64
	ID     string
	By     string
	Reason Reason
}

// A Withdrawal is a committed Retraction and the users whose copies it
// took, at the batch's time (unix ms).
type Withdrawal struct {
	Retraction
	Users []string
	At    int64
}

func (s *state) addMessage(r *record) (*Message, int) {
	// Copies that expired by the time this message was sent leave first,
	// so the pending cap below sees what the live run saw.
	s.expire(r.Created)
	m := &Message{
		heapAt:  -1,
		ID:      r.ID,
		Seq:     r.Seq,
		Event:   r.Event,
		Key:     r.Key,
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
	// Writers dedupe, but a record is outside input at replay. A user is
	// marked with a number of this call rather than put in a map: this loop
	// runs once per recipient of every notify, and a map costs two lookups
	// more.
	s.marks++
	mark := s.marks
	var gone map[string]struct{} // recipients that are no longer users
	// Only snapshots list copies that were closed when they were taken.
	closed := closedCopies(r)
	for _, uid := range r.Users {
		st := closed[uid]
		who := s.users[uid]
		switch {
		case who != nil:
			if who.mark == mark {
				continue
			}
			who.mark = mark
		case st == copyOpen:
			continue
		default:
			// A closed copy outlives its user, as it does in the live
			// state that a snapshot lists.
			if _, dup := gone[uid]; dup {
				continue
			}
			if gone == nil {
				gone = make(map[string]struct{})
			}
			gone[uid] = struct{}{}
			who = &user{id: uid}
		}
		m.recipients = append(m.recipients, recipient{who: who, state: st})
	}
	if len(m.recipients) == 0 {
		return nil, 0
	}
	s.msgs.put(m)
	for i := range m.recipients {
		rc := &m.recipients[i]
		if rc.state != copyOpen {
			continue
		}
		m.open++
		s.open++
		u := rc.who // open copies are only ever of users that exist
		if s.maxPending > 0 && len(u.pending) >= s.maxPending {
			// The oldest copy makes room: a bounded queue per user, like a
			// mailbox, so one absent user cannot grow memory without end.
			old := u.pending[0]
			if orc := old.recipient(u.id); orc != nil {
				s.closeFor(u, old, orc, copyGone)
			}
			s.dropped++
		}
		u.pending = append(u.pending, m)
		if m.Key != "" {
			if u.keys == nil {
				u.keys = make(map[string]*Message)
			}
			u.keys[m.Key] = m
		}
	}
	if m.open == 0 {
		s.complete(m)
		return m, len(m.recipients)
	}
	heap.Push(&s.expiry, m)
	s.cost += int64(m.open) + m.units()
	s.order = append(s.order, m)
	s.orderLive++
	s.keepBudget()
	return m, len(m.recipients)
}

// The hub-wide budget of pending state counts each open copy as one and
// each message with open copies as one more per payloadUnit bytes of its
// payload: a copy is the store's smallest cost, a large unicast payload
// its largest.
const payloadUnit = 256

// units is what m costs, besides its copies, while it has open ones.
func (m *Message) units() int64 { return 1 + int64(len(m.Body))/payloadUnit }

// keepBudget drops the oldest open copies, hub-wide, while the pending
// state is over the budget: as the per-user cap does for one user, so
// that a flood nobody reads cannot outgrow the box. Replay applies it at
// the same points, so it never holds more either.
func (s *state) keepBudget() {
	for s.budget > 0 && s.cost > s.budget && len(s.order) > 0 {
		m := s.order[0]
		if m.open == 0 || s.msgs.get(m.ID) != m {
			s.order[0] = nil
			s.order = s.order[1:]
			continue
		}
		for i := range m.recipients {
			rc := &m.recipients[i]
			if rc.state != copyOpen {
				continue
			}
			s.closeFor(s.users[rc.user()], m, rc, copyGone)
			s.overBudget++
			if s.cost <= s.budget || m.open == 0 {
				break
			}
		}
	}
	if len(s.order) > 2*s.orderLive+1024 {
		// Messages closed in the middle leave holes: sweep them out.
		live := s.order[:0]
		for _, m := range s.order {
			if m.open > 0 && s.msgs.get(m.ID) == m {
				live = append(live, m)
			}
		}
		clear(s.order[len(live):])
		s.order = live
	}
}

// ack marks a user's copy acknowledged; it reports whether the user had
// that copy at all (acknowledging twice is fine).
func (s *state) ack(r *record) bool {
	m := s.msgs.get(r.ID)
	if m == nil {
		return false
	}
	rc := m.recipient(r.User)
	switch {
	case rc == nil || rc.state == copyGone || rc.state == copyExpired:
		return false
	case rc.state != copyOpen:
		return true
	}
	s.retract(m, Retraction{Seq: r.Seq, MsgSeq: m.Seq, ID: m.ID, Reason: Acked}, []string{rc.user()})
	return true
}

// recall withdraws the open copies of r.ID among r.Users: recalled by the
// application, or (r.By set) replaced by the message r.By.
func (s *state) recall(r *record) {
	m := s.msgs.get(r.ID)
	if m == nil {
		return
	}
	reason := Recalled
	if r.By != "" {
		reason = Replaced
	}
	// A record is outside input at replay: a user listed twice is
	// withdrawn once (an open copy's user exists, so it can carry the mark).
	var users []string
	s.marks++
	for _, uid := range r.Users {
		if rc := m.recipient(uid); rc != nil && rc.state == copyOpen && rc.who.mark != s.marks {
			rc.who.mark = s.marks
			users = append(users, rc.user())
		}
	}
	if len(users) > 0 {
		s.retract(m, Retraction{Seq: r.Seq, MsgSeq: m.Seq, ID: m.ID, By: r.By, Reason: reason}, users)
	}
}

// retract closes the open copies of m that users hold, for reason, notes
// it in each user's history and tells the observer.
func (s *state) retract(m *Message, t Retraction, users []string) {
	st := reasonState[t.Reason]
	for _, uid := range users {
		rc := m.recipient(uid)
		if u := s.users[uid]; u != nil {
			s.closeFor(u, m, rc, st)
			u.hist.add(t, s.history)
		} else {
			rc.state = st
			s.closeCopy(m)
		}
	}
	if s.obs != nil {
		s.obs.CopiesWithdrawn(Withdrawal{Retraction: t, Users: users, At: s.at})
	}
}

// closeFor closes user u's open copy rc of m as st: it leaves u's pending
// queue and key index.
func (s *state) closeFor(u *user, m *Message, rc *recipient, st copyState) {
	rc.state = st
	u.pending = removeMsg(u.pending, m)
	if m.Key != "" && u.keys[m.Key] == m {
		delete(u.keys, m.Key)
	}
	s.closeCopy(m)
}

// closeCopy accounts for one recipient leaving the open set.
func (s *state) closeCopy(m *Message) {
	m.open--
	s.open--
	s.cost--
	if m.open == 0 {
		s.cost -= m.units()
		s.orderLive--
		if m.heapAt >= 0 {
			// Out of the heap now: a closed message must not stay
			// reachable (its copies and payload with it) until its ttl.
			heap.Remove(&s.expiry, m.heapAt)
		}
		s.complete(m)
	}
}

// complete keeps a finished message for status queries: the keepDone
// newest by seq. By seq, not by when they finished: then the set kept does
// not depend on the order of acknowledgements, and a snapshot (which lists
// messages by seq) replays to the set the live hub holds.
//
// A message none of whose copies was acknowledged, recalled or replaced
// (its users deleted, its copies dropped by the pending cap or expired) is
// not kept: there is nothing an application may still ask about.
func (s *state) complete(m *Message) {
	if s.keepDone <= 0 || !m.anyKept() {
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

// expire closes the copies of every message whose ttl ran out by now and
// returns how many messages expired.
func (s *state) expire(now int64) int {
	n := 0
	for len(s.expiry) > 0 && s.expiry[0].Expires <= now {
		m := heap.Pop(&s.expiry).(*Message)
		if m.open == 0 || s.msgs.get(m.ID) != m {
			continue
		}
		var users []string
		for i := range m.recipients {
			rc := &m.recipients[i]
			if rc.state != copyOpen {
				continue
			}
			if s.obs != nil {
				users = append(users, rc.user())
			}
			rc.state = copyExpired
			if u := s.users[rc.user()]; u != nil {
				u.pending = removeMsg(u.pending, m)
				if m.Key != "" && u.keys[m.Key] == m {
					delete(u.keys, m.Key)
				}
			}
		}
		s.open -= m.open
		s.cost -= int64(m.open) + m.units()
		s.orderLive--
		m.open = 0
		s.complete(m)
		s.expired++
		n++
		if s.obs != nil {
			s.obs.CopiesExpired(m, users, now)
		}
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

func (m *Message) anyKept() bool {
	for i := range m.recipients {
		if m.recipients[i].kept() {
			return true
		}
	}
	return false
}

func (m *Message) recipient(uid string) *recipient {
	for i := range m.recipients {
		if m.recipients[i].user() == uid {
			return &m.recipients[i]
		}
	}
	return nil
}

// removeMsg deletes m from a seq-ordered pending list.
func removeMsg(list []*Message, m *Message) []*Message {
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= m.Seq })
	if i < len(list) && list[i] == m {
		if i == 0 {
			// The oldest leaves (a full queue, the first acknowledged):
			// reslice rather than shift; append reallocates with only
			// the live copies.
			list[0] = nil
			return list[1:]
		}
		copy(list[i:], list[i+1:])
		list[len(list)-1] = nil
		return list[:len(list)-1]
	}
	return list
}

// expiryHeap orders open messages by expiry. A message that closes some
// other way leaves it at once (heap.Remove at its heapAt).
type expiryHeap []*Message

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].Expires < h[j].Expires }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapAt, h[j].heapAt = i, j
}

func (h *expiryHeap) Push(x any) {
	m := x.(*Message)
	m.heapAt = len(*h)
	*h = append(*h, m)
}

func (h *expiryHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	m.heapAt = -1
	*h = old[:len(old)-1]
	return m
}
