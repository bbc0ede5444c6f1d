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
func (s *state) apply(r *record) effect {
	if r.Seq > s.seq {
		s.seq = r.Seq
	}
	if r.Created > 0 && r.Op != opMsg {
		// The first record of a batch carries the batch's time: the live
		// writer swept expired messages at that time before applying the
		// batch (addMessage does the same for messages), so an ack or a
		// deletion meets the same messages at replay as it did live.
		s.expire(r.Created)
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
		s.putUser(r.ID, r.Groups)
	case opUserDel:
		if s.deleteUser(r.ID) {
			eff.closeUser = r.ID
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
		eff.msg, eff.recipients = s.addMessage(r)
	case opAck:
		eff.acked = s.ack(r.ID, r.User)
	case opRevoke:
		s.userGen[r.User]++
		eff.closeUser = r.User
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
	case opMark:
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
