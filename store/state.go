package store

import "slices"

// Client is an application allowed to call the API.
type Client struct {
	ID   string
	Name string
	Hash string // slow hash of the secret
}

type user struct {
	id      string
	groups  []string            // sorted
	pending []*Message          // open copies, by seq
	keys    map[string]*Message // the open copy of each key, for replacement
	hist    history             // the newest retractions of this user's copies
	mark    uint64              // state.marks when a record last listed this user, to dedupe its users
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
	history    int   // retractions kept per user
	budget     int64 // pending state hub-wide, in copies (see keepBudget); 0 means none

	cost      int64      // pending state now, in the budget's units
	order     []*Message // messages with open copies, by seq (and some closed since)
	orderLive int        // messages in order with open copies

	// floor is the seq below which no user's history reaches: the upto of
	// the snapshot this state was replayed from.
	floor uint64
	// deferred holds the recall records of a replacement until the message
	// that replaces them is applied: the group takes effect whole or not
	// at all (a log cut after them by a crash drops them).
	deferred []record
	// at is the time of the batch being applied (unix ms).
	at int64
	// deletions counts the users deleted since start: a writer that
	// resolved recipients at one count knows none left since (settle.go).
	deletions uint64
	// obs hears about changes as they are applied live; nil at replay.
	obs Observer
	// marks counts dedupe passes over a record's users; see user.mark.
	marks uint64

	dropped    uint64 // copies dropped by the pending cap
	overBudget uint64 // copies dropped by the hub-wide budget
	open       int    // open copies: the sum of every user's pending, kept so /metrics need not walk the users
	expired    uint64 // messages dropped by their ttl
}

func newState(maxPending, keepDone, history int, budget int64) *state {
	return &state{
		clients:    make(map[string]*Client),
		clientGen:  make(map[string]uint64),
		users:      make(map[string]*user),
		userGen:    make(map[string]uint64),
		groups:     make(map[string]*group),
		msgs:       newMsgIndex(0),
		maxPending: maxPending,
		keepDone:   keepDone,
		history:    history,
		budget:     budget,
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

// effect is what a committed record did, for its caller's answer.
type effect struct {
	msg        *Message // the new message
	recipients int
	acked      bool // an ack found its copy
}

// apply changes state by one record. It never fails: a record names only
// things that existed when it was written, and whatever has gone since is
// skipped, the same way at replay as live.
func (s *state) apply(r *record) effect {
	if r.Seq > s.seq {
		s.seq = r.Seq
	}
	if r.Created > 0 {
		s.at = r.Created
		if r.Op != opMsg {
			// The first record of a batch carries the batch's time: the
			// live writer swept expired messages at that time before
			// applying the batch (addMessage does the same for messages),
			// so an ack or a deletion meets the same messages at replay as
			// it did live.
			s.expire(r.Created)
		}
	}
	if len(s.deferred) > 0 && !r.continues(s.deferred[0].By) {
		s.deferred = s.deferred[:0] // a replacement cut short
	}
	var eff effect
	switch r.Op {
	case opClientPut:
		s.clients[r.ID] = &Client{ID: r.ID, Name: r.Name, Hash: r.Hash}
	case opClientDel:
		if _, ok := s.clients[r.ID]; ok {
			delete(s.clients, r.ID)
			s.clientGen[r.ID]++
		}
	case opUserPut:
		s.putUser(r.ID, r.Groups, r.Seq)
	case opUserDel:
		if s.deleteUser(r.ID) && s.obs != nil {
			s.obs.UserClosed(r.ID, r.Seq)
		}
	case opGroupPut:
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
	case opGroupDel:
		if g := s.groups[r.ID]; g != nil {
			for uid := range g.members {
				if u := s.users[uid]; u != nil {
					u.groups = removeSorted(u.groups, g.id)
				}
			}
			delete(s.groups, r.ID)
		}
	case opMsg:
		if len(s.deferred) > 0 {
			// This message replaces the copies recalled just before it.
			for i := range s.deferred {
				s.recall(&s.deferred[i])
			}
			s.deferred = s.deferred[:0]
		}
		eff.msg, eff.recipients = s.addMessage(r)
		if eff.msg != nil && s.obs != nil {
			s.obs.MessageCommitted(eff.msg)
		}
	case opAck:
		eff.acked = s.ack(r)
	case opRecall:
		if r.By != "" {
			s.deferred = append(s.deferred, r.clone())
		} else {
			s.recall(r)
		}
	case opRevoke:
		s.userGen[r.User]++
		if s.obs != nil {
			s.obs.UserClosed(r.User, 0)
		}
	case opGen:
		if r.Kind == "client" {
			s.clientGen[r.User] = r.Gen
		} else {
			s.userGen[r.User] = r.Gen
		}
	case opSnapshot:
		if r.Upto > s.seq {
			s.seq = r.Upto
		}
		// The snapshot keeps no history: reconnecting devices whose last
		// event id is older are told to reset.
		s.floor = max(s.floor, r.Upto)
	case opMark:
		// Only moves seq on (done above).
	}
	return eff
}

// putUser creates user id (by the record of seq) or replaces its groups.
func (s *state) putUser(id string, groups []string, seq uint64) {
	u := s.users[id]
	if u == nil {
		u = &user{id: id}
		if s.userGen[id] > 0 {
			// An earlier user of this id was deleted (its generation
			// outlives it), and its copies went with it: a device that
			// saw anything before seq saw that user, so its history
			// starts here and such a device resets instead of keeping
			// what is gone. (A first user of an id has no such device;
			// Last-Event-ID 0 still resumes it.)
			u.hist.floor = seq
		}
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
		if rc := m.recipient(id); rc != nil && rc.state == copyOpen {
			rc.state = copyGone
			s.closeCopy(m)
		}
	}
	delete(s.users, id)
	s.deletions++
	s.userGen[id]++
	// Closed copies of kept messages still point at u for its id (read
	// without the lock by streams replaying): it must hold nothing else.
	u.groups, u.pending, u.keys, u.hist = nil, nil, nil, history{}
	return true
}

// live counts the records a snapshot of this state would hold; compaction
// compares it with the records in the log.
func (s *state) live() int {
	return len(s.clients) + len(s.users) + len(s.groups) + len(s.userGen) + len(s.clientGen) + s.msgs.len()
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
