package store

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"slices"
	"sort"
	"sync/atomic"
)

// Client is an application allowed to call the API.
type Client struct {
	ID   string
	Name string
	Hash string // slow hash of the secret
}

// Message is a committed notification. Its fields do not change after
// commit except the recipients' flags, which the store guards with its lock
// (Delivered is atomic so the fan-out can set it without that lock).
type Message struct {
	ID         string
	Seq        uint64
	Event      string
	Body       json.RawMessage
	Created    int64 // unix milliseconds
	Expires    int64 // unix milliseconds
	Recipients []Recipient

	open int          // recipients neither acknowledged nor gone
	one  [1]Recipient // backs Recipients for the common single recipient
}

// Recipient is one user's copy of a message.
type Recipient struct {
	User      string
	Acked     bool
	Gone      bool        // the user was deleted, or the copy fell off a full queue
	Delivered atomic.Bool // written to at least one of the user's streams
}

type user struct {
	id      string
	groups  []string   // sorted
	pending []*Message // unacknowledged copies, by seq
}

type group struct {
	id      string
	members map[string]struct{}
}

// state is the in-memory index of the log: everything replay rebuilds.
type state struct {
	seq       uint64
	clients   map[string]*Client
	clientGen map[string]uint64 // revocation generations; kept after removal
	users     map[string]*user
	userGen   map[string]uint64
	groups    map[string]*group
	msgs      msgIndex
	expiry    expiryHeap
	done      []*Message // fully acknowledged messages kept for status queries, oldest first

	maxPending int // per user; 0 means no cap
	keepDone   int

	dropped uint64 // copies dropped by the pending cap
	open    int    // open copies: the sum of every user's pending, kept so /metrics need not walk the users
	expired uint64 // messages dropped by their ttl
}

func newState(maxPending, keepDone int) *state {
	return &state{
		clients:    make(map[string]*Client),
		clientGen:  make(map[string]uint64),
		users:      make(map[string]*user),
		userGen:    make(map[string]uint64),
		groups:     make(map[string]*group),
		msgs:       newMsgIndex(0),
		maxPending: maxPending,
		keepDone:   keepDone,
	}
}

// intern returns the id string of an existing user equal to b, so a replay
// keeps one copy of each id however many records name it.
func (s *state) intern(b []byte) string {
	if u := s.users[string(b)]; u != nil {
		return u.id
	}
	return string(b)
}

// effect tells the observer what a committed record changed.
type effect struct {
	msg        *Message // a new message to fan out
	recipients int
	acked      bool   // an ack found its copy
	closeUser  string // a user whose streams must end (deleted or revoked)
}

// apply changes state by one record. It never fails: a record names only
// things that existed when it was written, and whatever has gone since is
// skipped, the same way at replay as live.
func (s *state) apply(r *Record) effect {
	if r.Seq > s.seq {
		s.seq = r.Seq
	}
	if r.Created > 0 && r.Op != OpMsg {
		// The first record of a batch carries the batch's time: the live
		// writer swept expired messages at that time before applying the
		// batch (addMessage does the same for messages), so an ack or a
		// deletion meets the same messages at replay as it did live.
		s.expire(r.Created)
	}
	var eff effect
	switch r.Op {
	case OpClientPut:
		s.clients[r.ID] = &Client{ID: r.ID, Name: r.Name, Hash: r.Hash}
	case OpClientDel:
		if _, ok := s.clients[r.ID]; ok {
			delete(s.clients, r.ID)
			s.clientGen[r.ID]++
		}
	case OpUserPut:
		s.putUser(r.ID, r.Groups)
	case OpUserDel:
		if s.deleteUser(r.ID) {
			eff.closeUser = r.ID
		}
	case OpGroupPut:
		g := s.groups[r.ID]
		if g == nil {
			g = &group{id: r.ID, members: make(map[string]struct{})}
			s.groups[r.ID] = g
		}
		for _, uid := range r.Users {
			if u := s.users[uid]; u != nil {
				if _, in := g.members[uid]; !in {
					g.members[uid] = struct{}{}
					u.groups = insertSorted(u.groups, g.id)
				}
			}
		}
	case OpGroupDel:
		if g := s.groups[r.ID]; g != nil {
			for uid := range g.members {
				if u := s.users[uid]; u != nil {
					u.groups = removeSorted(u.groups, g.id)
				}
			}
			delete(s.groups, r.ID)
		}
	case OpMsg:
		eff.msg, eff.recipients = s.addMessage(r)
	case OpAck:
		eff.acked = s.ack(r.ID, r.User)
	case OpRevoke:
		s.userGen[r.User]++
		eff.closeUser = r.User
	case OpGen:
		if r.Kind == "client" {
			s.clientGen[r.User] = r.Gen
		} else {
			s.userGen[r.User] = r.Gen
		}
	case OpSnapshot:
		if r.Upto > s.seq {
			s.seq = r.Upto
		}
	case OpMark:
		// Only moves seq on (done above).
	}
	return eff
}

func (s *state) putUser(id string, groups []string) {
	u := s.users[id]
	if u == nil {
		u = &user{id: id}
		s.users[id] = u
	}
	for _, gid := range u.groups {
		if g := s.groups[gid]; g != nil {
			delete(g.members, id)
		}
	}
	u.groups = u.groups[:0]
	for _, gid := range groups {
		if g := s.groups[gid]; g != nil {
			g.members[id] = struct{}{}
			u.groups = insertSorted(u.groups, gid)
		}
	}
}

func (s *state) deleteUser(id string) bool {
	u := s.users[id]
	if u == nil {
		return false
	}
	for _, gid := range u.groups {
		if g := s.groups[gid]; g != nil {
			delete(g.members, id)
		}
	}
	for _, m := range u.pending {
		if rc := m.recipient(id); rc != nil && !rc.Acked && !rc.Gone {
			rc.Gone = true
			s.closeCopy(m)
		}
	}
	delete(s.users, id)
	s.userGen[id]++
	return true
}

func (s *state) addMessage(r *Record) (*Message, int) {
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
		m.Recipients = m.one[:0:1]
	} else {
		m.Recipients = make([]Recipient, 0, len(r.Users))
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
		m.Recipients = append(m.Recipients, Recipient{User: id, Acked: isAcked})
	}
	if len(m.Recipients) == 0 {
		return nil, 0
	}
	s.msgs.put(m)
	for i := range m.Recipients {
		rc := &m.Recipients[i]
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
		return m, len(m.Recipients)
	}
	heap.Push(&s.expiry, m)
	return m, len(m.Recipients)
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
		for i := range m.Recipients {
			rc := &m.Recipients[i]
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

// live counts the records a snapshot of this state would hold; compaction
// compares it with the records in the log.
func (s *state) live() int {
	return len(s.clients) + len(s.users) + len(s.groups) + len(s.userGen) + len(s.clientGen) + s.msgs.len()
}

func (m *Message) anyAcked() bool {
	for i := range m.Recipients {
		if m.Recipients[i].Acked {
			return true
		}
	}
	return false
}

func (m *Message) recipient(uid string) *Recipient {
	for i := range m.Recipients {
		if m.Recipients[i].User == uid {
			return &m.Recipients[i]
		}
	}
	return nil
}

func insertSorted(list []string, v string) []string {
	i, found := slices.BinarySearch(list, v)
	if found {
		return list
	}
	return slices.Insert(list, i, v)
}

func removeSorted(list []string, v string) []string {
	if i, found := slices.BinarySearch(list, v); found {
		return slices.Delete(list, i, i+1)
	}
	return list
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

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].Expires < h[j].Expires }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(*Message)) }
func (h *expiryHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}
