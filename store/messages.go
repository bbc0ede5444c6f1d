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

// Notification is a message to send.
type Notification struct {
	Users  []string
	Groups []string
	Event  string
	Key    string          // replaces each recipient's open copy with this key
	Body   json.RawMessage // compact JSON
	TTL    time.Duration
}

// Receipt answers a notify.
type Receipt struct {
	ID         string
	Seq        uint64
	Recipients int
}

// NoCopyError is returned by Ack when the user and the message exist but
// the user has no copy of it to acknowledge: never a recipient, or the copy
// expired or was dropped by the pending cap.
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

// Notify sends a message to the users and the members of the groups, each
// once. Nothing is written if any name is unknown. It returns once the
// message is committed.
func (s *Store) Notify(ctx context.Context, n Notification) (Receipt, error) {
	// A notify whose recipients were all deleted between its check and
	// its commit wrote nothing: it is made again, as if it had come a
	// moment later (and then names who is unknown, or finds the members
	// its groups have by then).
	for try := 1; ; try++ {
		rc, err := s.notify(ctx, n)
		if err != errVoided {
			return rc, err
		}
		if try == 3 {
			return Receipt{}, ErrNoRecipients
		}
	}
}

// errVoided is notify's answer when settle left nothing of its message.
var errVoided = errors.New("store: every recipient was deleted before the commit")

// notify is one try of Notify.
func (s *Store) notify(ctx context.Context, n Notification) (Receipt, error) {
	s.mu.RLock()
	to, err := s.recipients(n)
	dels := s.st.deletions
	s.mu.RUnlock()
	if err != nil {
		return Receipt{}, err
	}
	if len(to) == 0 {
		return Receipt{}, ErrNoRecipients
	}
	r := &request{ttl: n.TTL, dels: dels, rec: record{
		Op:      opMsg,
		ID:      newMessageID(),
		Users:   to,
		Event:   n.Event,
		Key:     n.Key,
		Message: n.Body,
	}}
	if n.Key != "" {
		// Notifies of one key commit one at a time, so each sees the open
		// copy the one before left; a user then holds one copy per key.
		lk, err := s.locks.lock(ctx, stripeKey, n.Key, "")
		if err != nil {
			return Receipt{}, err
		}
		defer lk.Unlock()
		r.pre = s.replacements(r.rec.ID, n.Key, to)
	}
	if err := s.append(ctx, r); err != nil {
		return Receipt{}, err
	}
	if r.void {
		return Receipt{}, errVoided
	}
	return Receipt{ID: r.rec.ID, Seq: r.rec.Seq, Recipients: r.eff.recipients}, nil
}

// recipients lists the users n goes to, each once; s.mu is read-locked.
func (s *Store) recipients(n Notification) ([]string, error) {
	for _, u := range n.Users {
		if s.st.users[u] == nil {
			return nil, &NotFoundError{"user", u}
		}
	}
	size := len(n.Users)
	for _, gid := range n.Groups {
		g := s.st.groups[gid]
		if g == nil {
			return nil, &NotFoundError{"group", gid}
		}
		size += len(g.members)
	}
	to := make([]string, 0, size)
	// A group's members are a set: one group alone needs no deduping, a
	// few users need no map.
	var seen map[string]struct{}
	if len(n.Groups) > 1 || len(n.Groups) == 1 && len(n.Users) > 0 || len(n.Users) > 8 {
		seen = make(map[string]struct{}, size)
	}
	add := func(u string) {
		if seen != nil {
			if _, dup := seen[u]; dup {
				return
			}
			seen[u] = struct{}{}
		} else if len(n.Groups) == 0 && slices.Contains(to, u) {
			return
		}
		to = append(to, u)
	}
	for _, u := range n.Users {
		add(u)
	}
	for _, gid := range n.Groups {
		for u := range s.st.groups[gid].members {
			add(u)
		}
	}
	return to, nil
}

// replacements are the recall records that withdraw the open copies with
// key that the users hold, to be replaced by message by: one per message.
func (s *Store) replacements(by, key string, users []string) []record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var recs []record
	idx := map[*Message]int{}
	for _, uid := range users {
		u := s.st.users[uid]
		if u == nil {
			continue
		}
		old := u.keys[key]
		if old == nil {
			continue
		}
		i, ok := idx[old]
		if !ok {
			i = len(recs)
			idx[old] = i
			recs = append(recs, record{Op: opRecall, ID: old.ID, By: by})
		}
		recs[i].Users = append(recs[i].Users, uid)
	}
	return recs
}

// Recall withdraws every open copy of a message. Copies already
// acknowledged stay so; recalling a message with no open copy writes
// nothing.
func (s *Store) Recall(ctx context.Context, msgID string) error {
	lk, err := s.locks.lock(ctx, stripeMessage, msgID, "")
	if err != nil {
		return err
	}
	defer lk.Unlock()
	s.mu.RLock()
	m := s.st.msgs.get(msgID)
	var users []string
	if m != nil {
		for u := range m.OpenCopies() {
			users = append(users, u)
		}
	}
	s.mu.RUnlock()
	if m == nil {
		return &NotFoundError{"message", msgID}
	}
	if len(users) == 0 {
		return nil
	}
	return s.append(ctx, &request{rec: record{Op: opRecall, ID: msgID, Users: users}})
}

// Ack marks a user's copy of a message acknowledged. Acknowledging again
// is not an error and writes nothing.
func (s *Store) Ack(ctx context.Context, msgID, userID string) error {
	lk, err := s.locks.lock(ctx, stripeCopy, msgID, userID)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	s.mu.RLock()
	acked, err := s.ackable(msgID, userID)
	s.mu.RUnlock()
	if err != nil || acked {
		return err
	}
	r := &request{rec: record{Op: opAck, ID: msgID, User: userID}}
	if err := s.append(ctx, r); err != nil {
		return err
	}
	if !r.eff.acked {
		// The copy expired, fell off a full queue, lost its user, or was
		// recalled or replaced meanwhile: answer as if the ack had come a
		// moment later (a closed copy's ack is a no-op, not an error).
		s.mu.RLock()
		closed, err := s.ackable(msgID, userID)
		s.mu.RUnlock()
		if err == nil && !closed {
			err = &NoCopyError{Message: msgID, User: userID}
		}
		return err
	}
	return nil
}

// ackable reports whether the user's copy of the message is closed
// already (acknowledged, recalled or replaced: acknowledging it is a no-op),
// or why there is none to acknowledge. s.mu must be held.
func (s *Store) ackable(msgID, userID string) (acked bool, err error) {
	if s.st.users[userID] == nil {
		return false, &NotFoundError{"user", userID}
	}
	m := s.st.msgs.get(msgID)
	if m == nil {
		return false, &NotFoundError{"message", msgID}
	}
	rc := m.recipient(userID)
	if rc == nil || rc.state == copyGone || rc.state == copyExpired {
		return false, &NoCopyError{Message: msgID, User: userID}
	}
	return rc.state != copyOpen, nil
}

func newMessageID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("store: crypto/rand failed: %v", err))
	}
	var id [2 * len(b)]byte
	hex.Encode(id[:], b[:])
	return string(id[:])
}
