package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// NotFoundError names the first unknown thing in a request.
type NotFoundError struct {
	Kind string // "user", "group", "client", "message"
	ID   string
}

func (e *NotFoundError) Error() string { return "unknown " + e.Kind + ": " + e.ID }

// NoCopyError is returned by Ack when the user and the message exist but
// the user has no copy of it to acknowledge: never a recipient, or the copy
// was dropped by the pending cap.
type NoCopyError struct {
	Message, User string
}

func (e *NoCopyError) Error() string {
	return "user " + e.User + " has no copy of message " + e.Message
}

// ErrNoRecipients is returned by Notify when users and groups name nobody.
var ErrNoRecipients = errors.New("no recipients: users and groups name nobody")

// ErrGone is returned by Subscribe when the user was deleted or its tokens
// revoked after the token was checked.
var ErrGone = errors.New("user deleted or token revoked")

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

// RecipientInfo is one user's copy of a message.
type RecipientInfo struct {
	User      string
	Delivered bool
	Acked     bool
}

// MessageInfo is a message with the state of each copy.
type MessageInfo struct {
	ID         string
	Seq        uint64
	Event      string
	Body       json.RawMessage
	Created    time.Time
	Expires    time.Time
	Recipients []RecipientInfo
}

// Notification is a message to send.
type Notification struct {
	Users  []string
	Groups []string
	Event  string
	Body   json.RawMessage // compact JSON
	TTL    time.Duration
}

// Receipt answers a notify.
type Receipt struct {
	ID         string
	Seq        uint64
	Recipients int
}

// ---- clients ----

// PutClient creates a client or replaces its name and secret hash.
func (s *Store) PutClient(ctx context.Context, id, name, hash string) (created bool, err error) {
	s.mu.RLock()
	_, exists := s.st.clients[id]
	s.mu.RUnlock()
	r := &request{rec: Record{Op: OpClientPut, ID: id, Name: name, Hash: hash}}
	if err := s.append(ctx, r); err != nil {
		return false, err
	}
	return !exists, nil
}

// RemoveClient removes a client and ends its access tokens.
func (s *Store) RemoveClient(ctx context.Context, id string) error {
	if _, _, ok := s.Client(id); !ok {
		return &NotFoundError{"client", id}
	}
	return s.append(ctx, &request{rec: Record{Op: OpClientDel, ID: id}})
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

// ---- users ----

// PutUser creates a user or replaces its groups. Every group must exist.
func (s *Store) PutUser(ctx context.Context, id string, groups []string) (UserInfo, bool, error) {
	groups = dedupe(groups)
	s.mu.RLock()
	_, exists := s.st.users[id]
	for _, g := range groups {
		if s.st.groups[g] == nil {
			s.mu.RUnlock()
			return UserInfo{}, false, &NotFoundError{"group", g}
		}
	}
	s.mu.RUnlock()
	if err := s.append(ctx, &request{rec: Record{Op: OpUserPut, ID: id, Groups: groups}}); err != nil {
		return UserInfo{}, false, err
	}
	u, _ := s.User(id)
	return u, !exists, nil
}

// User returns one user.
func (s *Store) User(id string) (UserInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[id]
	if u == nil {
		return UserInfo{}, false
	}
	return s.userInfo(u), true
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
	if _, ok := s.User(id); !ok {
		return &NotFoundError{"user", id}
	}
	return s.append(ctx, &request{rec: Record{Op: OpUserDel, ID: id}})
}

// RevokeUser ends every token issued to the user so far.
func (s *Store) RevokeUser(ctx context.Context, id string) error {
	if _, ok := s.User(id); !ok {
		return &NotFoundError{"user", id}
	}
	return s.append(ctx, &request{rec: Record{Op: OpRevoke, User: id}})
}

// ---- groups ----

// PutGroup creates a group or adds members to it. Every user must exist.
func (s *Store) PutGroup(ctx context.Context, id string, users []string) (GroupInfo, bool, error) {
	users = dedupe(users)
	s.mu.RLock()
	_, exists := s.st.groups[id]
	for _, u := range users {
		if s.st.users[u] == nil {
			s.mu.RUnlock()
			return GroupInfo{}, false, &NotFoundError{"user", u}
		}
	}
	s.mu.RUnlock()
	if err := s.append(ctx, &request{rec: Record{Op: OpGroupPut, ID: id, Users: users}}); err != nil {
		return GroupInfo{}, false, err
	}
	g, _ := s.Group(id)
	return g, !exists, nil
}

// Group returns a group and its members.
func (s *Store) Group(id string) (GroupInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.st.groups[id]
	if g == nil {
		return GroupInfo{}, false
	}
	return GroupInfo{ID: g.id, Users: sortedKeys(g.members)}, true
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
	if _, ok := s.Group(id); !ok {
		return &NotFoundError{"group", id}
	}
	return s.append(ctx, &request{rec: Record{Op: OpGroupDel, ID: id}})
}

// ---- messages ----

// Notify sends a message to the users and the members of the groups, each
// once. Nothing is written if any name is unknown. It returns once the
// message is committed.
func (s *Store) Notify(ctx context.Context, n Notification) (Receipt, error) {
	s.mu.RLock()
	to := make([]string, 0, len(n.Users))
	seen := make(map[string]struct{}, len(n.Users))
	add := func(u string) {
		if _, dup := seen[u]; !dup {
			seen[u] = struct{}{}
			to = append(to, u)
		}
	}
	for _, u := range n.Users {
		if s.st.users[u] == nil {
			s.mu.RUnlock()
			return Receipt{}, &NotFoundError{"user", u}
		}
		add(u)
	}
	for _, gid := range n.Groups {
		g := s.st.groups[gid]
		if g == nil {
			s.mu.RUnlock()
			return Receipt{}, &NotFoundError{"group", gid}
		}
		for u := range g.members {
			add(u)
		}
	}
	s.mu.RUnlock()
	if len(to) == 0 {
		return Receipt{}, ErrNoRecipients
	}
	r := &request{ttl: n.TTL, rec: Record{
		Op:      OpMsg,
		ID:      newMessageID(),
		Users:   to,
		Event:   n.Event,
		Message: n.Body,
	}}
	if err := s.append(ctx, r); err != nil {
		return Receipt{}, err
	}
	// Recipients may be 0 if all were deleted between the check and the
	// commit: the record is written, so the answer is still a receipt.
	return Receipt{ID: r.rec.ID, Seq: r.rec.Seq, Recipients: r.eff.recipients}, nil
}

// Ack marks a user's copy of a message acknowledged. Acknowledging again
// is not an error and writes nothing.
func (s *Store) Ack(ctx context.Context, msgID, userID string) error {
	s.mu.RLock()
	acked, err := s.ackable(msgID, userID)
	s.mu.RUnlock()
	if err != nil || acked {
		return err
	}
	r := &request{rec: Record{Op: OpAck, ID: msgID, User: userID}}
	if err := s.append(ctx, r); err != nil {
		return err
	}
	if !r.eff.acked {
		// The copy expired, fell off a full queue or lost its user
		// meanwhile: say which, as if the ack had come a moment later.
		s.mu.RLock()
		_, err = s.ackable(msgID, userID)
		s.mu.RUnlock()
		if err == nil {
			err = &NoCopyError{Message: msgID, User: userID}
		}
		return err
	}
	return nil
}

// ackable reports whether the user's copy of the message is acknowledged
// already, or why there is none to acknowledge. s.mu must be held.
func (s *Store) ackable(msgID, userID string) (acked bool, err error) {
	if s.st.users[userID] == nil {
		return false, &NotFoundError{"user", userID}
	}
	m := s.st.msgs.get(msgID)
	if m == nil {
		return false, &NotFoundError{"message", msgID}
	}
	rc := m.recipient(userID)
	if rc == nil || rc.Gone {
		return false, &NoCopyError{Message: msgID, User: userID}
	}
	return rc.Acked, nil
}

// Message returns a message and the state of its copies.
func (s *Store) Message(id string) (MessageInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.st.msgs.get(id)
	if m == nil {
		return MessageInfo{}, false
	}
	mi := MessageInfo{
		ID: m.ID, Seq: m.Seq, Event: m.Event, Body: m.Body,
		Created: time.UnixMilli(m.Created).UTC(), Expires: time.UnixMilli(m.Expires).UTC(),
		Recipients: make([]RecipientInfo, 0, len(m.Recipients)),
	}
	for i := range m.Recipients {
		rc := &m.Recipients[i]
		if rc.Gone {
			continue
		}
		// An acknowledged copy was received, whichever way it went; and
		// the Delivered flag itself is not in the log, so without this a
		// restart would show acknowledged copies as never delivered.
		mi.Recipients = append(mi.Recipients, RecipientInfo{User: rc.User, Delivered: rc.Acked || rc.Delivered.Load(), Acked: rc.Acked})
	}
	return mi, true
}

// Subscribe calls fn, under the store's read lock, with the user's pending
// messages after seq `after`, oldest first, unexpired. No commit happens
// while fn runs, so a stream registered inside fn sees every later message
// live and none twice. It fails with ErrGone if the user no longer exists
// or its generation moved past gen.
func (s *Store) Subscribe(userID string, gen, after uint64, fn func(pending []*Message)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[userID]
	if u == nil || s.st.userGen[userID] != gen {
		return ErrGone
	}
	now := s.nowMilli()
	var out []*Message
	for _, m := range u.pending {
		if m.Seq > after && m.Expires > now {
			out = append(out, m)
		}
	}
	fn(out)
	return nil
}

// Recipient returns m's copy for a user. The pointer is stable for the
// message's life; only its Delivered flag may be touched without the lock.
func (m *Message) Recipient(userID string) *Recipient { return m.recipient(userID) }

// Open reports whether the copy still waits for an acknowledgement. Call it
// only from an Observer (under the store's lock).
func (rc *Recipient) Open() bool { return !rc.Acked && !rc.Gone }

func newMessageID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("store: crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
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
