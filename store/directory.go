package store

import (
	"context"
	"slices"
)

// NotFoundError names the first unknown thing in a request.
type NotFoundError struct {
	Kind string // "user", "group", "client", "message"
	ID   string
}

func (e *NotFoundError) Error() string { return "unknown " + e.Kind + ": " + e.ID }

// UserInfo is a user as the API shows it.
type UserInfo struct {
	ID      string
	Groups  []string
	Pending int
}

// GroupInfo is a group with its members, sorted.
type GroupInfo struct {
	ID    string
	Users []string
}

// GroupSummary is a group with its member count.
type GroupSummary struct {
	ID      string
	Members int
}

// PutClient creates a client or replaces its name and secret hash.
func (s *Store) PutClient(ctx context.Context, id, name, hash string) (created bool, err error) {
	lk, err := s.locks.lock(ctx, stripeClient, id, "")
	if err != nil {
		return false, err
	}
	defer lk.Unlock()
	s.mu.RLock()
	_, exists := s.st.clients[id]
	s.mu.RUnlock()
	r := &request{rec: record{Op: opClientPut, ID: id, Name: name, Hash: hash}}
	if err := s.append(ctx, r); err != nil {
		return false, err
	}
	return !exists, nil
}

// RemoveClient removes a client and ends its access tokens.
func (s *Store) RemoveClient(ctx context.Context, id string) error {
	lk, err := s.locks.lock(ctx, stripeClient, id, "")
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if _, _, ok := s.Client(id); !ok {
		return &NotFoundError{"client", id}
	}
	return s.append(ctx, &request{rec: record{Op: opClientDel, ID: id}})
}

// Client returns a client and its token generation.
func (s *Store) Client(id string) (c Client, gen uint64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.st.clients[id]
	if p == nil {
		return Client{}, s.st.clientGen[id], false
	}
	return *p, s.st.clientGen[id], true
}

// Clients lists clients by id.
func (s *Store) Clients() []Client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Client, 0, len(s.st.clients))
	for _, id := range sortedKeys(s.st.clients) {
		out = append(out, *s.st.clients[id])
	}
	return out
}

// PutUser creates a user or replaces its groups. Every group must exist.
func (s *Store) PutUser(ctx context.Context, id string, groups []string) (UserInfo, bool, error) {
	lk, err := s.locks.lock(ctx, stripeUser, id, "")
	if err != nil {
		return UserInfo{}, false, err
	}
	defer lk.Unlock()
	groups = dedupe(groups)
	return put(s, ctx, record{Op: opUserPut, ID: id, Groups: groups}, s.st.users, groups, s.st.groups, "group", s.User)
}

// User returns one user.
func (s *Store) User(id string) (UserInfo, bool) {
	return lookup(s, s.st.users, id, s.userInfo)
}

func (s *Store) userInfo(u *user) UserInfo {
	return UserInfo{ID: u.id, Groups: slices.Clone(u.groups), Pending: len(u.pending)}
}

// Users lists users by id; with a group, only its members.
func (s *Store) Users(group string) ([]UserInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	if group != "" {
		g := s.st.groups[group]
		if g == nil {
			return nil, &NotFoundError{"group", group}
		}
		ids = sortedKeys(g.members)
	} else {
		ids = sortedKeys(s.st.users)
	}
	out := make([]UserInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.userInfo(s.st.users[id]))
	}
	return out, nil
}

// UserGen returns the user's token generation and whether the user exists.
func (s *Store) UserGen(id string) (gen uint64, exists bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.userGen[id], s.st.users[id] != nil
}

// DeleteUser removes a user, drops its pending copies, and ends its tokens.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	lk, err := s.locks.lock(ctx, stripeUser, id, "")
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if _, ok := s.User(id); !ok {
		return &NotFoundError{"user", id}
	}
	return s.append(ctx, &request{rec: record{Op: opUserDel, ID: id}})
}

// RevokeUser ends every token issued to the user so far.
func (s *Store) RevokeUser(ctx context.Context, id string) error {
	lk, err := s.locks.lock(ctx, stripeUser, id, "")
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if _, ok := s.User(id); !ok {
		return &NotFoundError{"user", id}
	}
	return s.append(ctx, &request{rec: record{Op: opRevoke, User: id}})
}

// PutGroup creates a group or adds members to it. Every user must exist.
func (s *Store) PutGroup(ctx context.Context, id string, users []string) (GroupInfo, bool, error) {
	lk, err := s.locks.lock(ctx, stripeGroup, id, "")
	if err != nil {
		return GroupInfo{}, false, err
	}
	defer lk.Unlock()
	users = dedupe(users)
	return put(s, ctx, record{Op: opGroupPut, ID: id, Users: users}, s.st.groups, users, s.st.users, "user", s.Group)
}

// Group returns a group and its members.
func (s *Store) Group(id string) (GroupInfo, bool) {
	return lookup(s, s.st.groups, id, groupInfo)
}

func groupInfo(g *group) GroupInfo {
	return GroupInfo{ID: g.id, Users: sortedKeys(g.members)}
}

// Groups lists groups by id.
func (s *Store) Groups() []GroupSummary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]GroupSummary, 0, len(s.st.groups))
	for _, id := range sortedKeys(s.st.groups) {
		out = append(out, GroupSummary{ID: id, Members: len(s.st.groups[id].members)})
	}
	return out
}

// DeleteGroup removes a group; its users stay.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	lk, err := s.locks.lock(ctx, stripeGroup, id, "")
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if _, ok := s.Group(id); !ok {
		return &NotFoundError{"group", id}
	}
	return s.append(ctx, &request{rec: record{Op: opGroupDel, ID: id}})
}

// Users and groups are put and looked up alike. The maps that put and
// lookup take are the state's, made once at open; their contents are read
// under s.mu.

// put appends rec, which puts the entry rec.ID of own with members, each
// of which must be an entry of others (of kind, for the error). It returns
// what get shows of the entry then and whether it is new.
func put[E, M, V any](s *Store, ctx context.Context, rec record, own map[string]*E, members []string, others map[string]*M, kind string, get func(string) (V, bool)) (V, bool, error) {
	var zero V
	s.mu.RLock()
	_, exists := own[rec.ID]
	for _, m := range members {
		if others[m] == nil {
			s.mu.RUnlock()
			return zero, false, &NotFoundError{kind, m}
		}
	}
	s.mu.RUnlock()
	if err := s.append(ctx, &request{rec: rec}); err != nil {
		return zero, false, err
	}
	v, _ := get(rec.ID)
	return v, !exists, nil
}

// lookup returns what view shows of the entry id of m.
func lookup[E, V any](s *Store, m map[string]*E, id string, view func(*E) V) (V, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := m[id]
	if e == nil {
		var zero V
		return zero, false
	}
	return view(e), true
}

// dedupe drops repeated names, keeping the first of each in order.
func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	seen := make(map[string]struct{}, len(list))
	for _, v := range list {
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}
