package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"
)

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

// RecipientInfo is one user's copy of a message.
type RecipientInfo struct {
	User      string
	Delivered bool
	Acked     bool
}

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
	r := &request{ttl: n.TTL, rec: record{
		Op:      opMsg,
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
	r := &request{rec: record{Op: opAck, ID: msgID, User: userID}}
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
		Recipients: make([]RecipientInfo, 0, len(m.recipients)),
	}
	for i := range m.recipients {
		rc := &m.recipients[i]
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

// OpenCopies yields, for each copy of m that waits for an
// acknowledgement, its user and the flag to set once the copy is written to
// one of the user's streams. Call it only from an Observer (the store's
// lock is held then).
func (m *Message) OpenCopies() iter.Seq2[string, *atomic.Bool] {
	return func(yield func(string, *atomic.Bool) bool) {
		for i := range m.recipients {
			rc := &m.recipients[i]
			if !rc.Acked && !rc.Gone && !yield(rc.User, &rc.Delivered) {
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

func newMessageID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("store: crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
}
