package store

import (
	"errors"
	"io"
	"os"
)

// DurableKind names the changes an application's event stream can read
// back from the log.
type DurableKind uint8

const (
	Sent         DurableKind = iota + 1 // a message was committed
	Acknowledged                        // a user's copy was acknowledged
	Withdrawn                           // copies were recalled or replaced
	UserDeleted                         // a user was deleted
)

// A Durable is one change as an application's event stream tells it: from
// the log when the stream resumes, or live from the observer (see
// DurableOf...). Its Seq is its record's.
type Durable struct {
	Kind   DurableKind
	Seq    uint64
	At     int64    // unix ms: the batch's time (Acknowledged)
	ID     string   // the message; the user for UserDeleted
	Users  []string // Sent: recipients; Acknowledged: the user; Withdrawn: whose copies
	Key    string   // Sent
	Reason Reason   // Withdrawn: Recalled or Replaced
	By     string   // Withdrawn by replacement: the new message
}

// SentOf is the Durable of a committed message (for an Observer).
func SentOf(m *Message) Durable {
	d := Durable{Kind: Sent, Seq: m.Seq, At: m.Created, ID: m.ID, Key: m.Key}
	for u := range m.Recipients() {
		d.Users = append(d.Users, u)
	}
	return d
}

// WithdrawnOf is the Durable of a Withdrawal (for an Observer).
func WithdrawnOf(w Withdrawal) Durable {
	d := Durable{Kind: Withdrawn, Seq: w.Seq, At: w.At, ID: w.ID, Users: w.Users, Reason: w.Reason, By: w.By}
	if w.Reason == Acked {
		d.Kind = Acknowledged
	}
	return d
}

// LogReader reads the log as it was when SubscribeLog took it.
type LogReader struct {
	f    *os.File
	upto uint64
}

// Close releases the log.
func (lr *LogReader) Close() error { return lr.f.Close() }

// SubscribeLog calls fn, under the store's read lock, with the log's seq
// now, and returns a reader of the log holding every record up to that
// seq. No commit happens while fn runs, so a stream registered inside fn
// gets every later change live and none twice.
func (s *Store) SubscribeLog(fn func(seq uint64)) (*LogReader, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	fn(s.st.seq)
	return &LogReader{f: f, upto: s.st.seq}, nil
}

// errStop ends a read early.
var errStop = errors.New("stop")

// Durables calls fn for each durable change with seq above after, up to
// the seq SubscribeLog reported, in seq order. It reports false, calling
// fn for nothing, when the log no longer reaches back to after: it was
// compacted since (its snapshot holds state, not changes), or after is
// beyond its end.
func (lr *LogReader) Durables(after uint64, fn func(Durable) bool) (bool, error) {
	if after > lr.upto {
		return false, nil
	}
	if _, err := lr.f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	var at int64
	covered := true
	// The recalls of a replacement count only with their message (as at
	// replay): held until it comes.
	var held []Durable
	emit := func(d Durable) error {
		if !fn(d) {
			return errStop
		}
		return nil
	}
	_, err := scanLog(lr.f, lr.f.Name(), func(r *record, off int64) error {
		if r.Op == opSnapshot {
			covered = r.Upto <= after
			if !covered {
				return errStop
			}
			return nil
		}
		if r.Seq > lr.upto {
			return errStop
		}
		if r.Created > 0 {
			at = r.Created
		}
		if len(held) > 0 && !r.continues(held[0].By) {
			held = held[:0]
		}
		if r.Seq <= after {
			return nil
		}
		d := Durable{Seq: r.Seq, At: at, ID: r.ID}
		switch r.Op {
		case opMsg:
			d.Kind, d.Users, d.Key = Sent, r.Users, r.Key
			for _, h := range held {
				if err := emit(h); err != nil {
					return err
				}
			}
			held = held[:0]
		case opAck:
			d.Kind, d.Users = Acknowledged, []string{r.User}
		case opRecall:
			d.Kind, d.Users, d.Reason, d.By = Withdrawn, r.Users, Recalled, r.By
			if r.By != "" {
				d.Reason = Replaced
				held = append(held, d)
				return nil
			}
		case opUserDel:
			// The user too, for ?user= to take it, as live.
			d.Kind, d.Users = UserDeleted, []string{r.ID}
		default:
			return nil
		}
		return emit(d)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return covered, err
}
