package store

// A caller decides to acknowledge or recall a copy on the state it read,
// and its record is committed some time later: by then an earlier batch,
// or an earlier record of its own batch, may have closed that copy (an ack
// and a recall of one copy hold different stripes, so they can race). Apply
// skips such a record, live and at replay alike; but the log is also the
// application event stream's history, and a resumed /api/events would read
// it back as an acknowledgement or a recall the live stream never showed.
// So the writer settles each batch before framing it: a record that would
// change nothing is not written. A message, likewise, names only the
// recipients that still exist (a user deleted since its writer resolved
// the recipients gets no copy at apply either).
//
// One race stays: a copy pushed out of a full queue (--max-pending, or the
// hub-wide budget) by a message earlier in the same batch. The cap is
// applied only when the message is, and settling does not redo it.

// settle drops, before the batch is framed, the acks and recalls (and the
// recalls of a replacement) whose copies are closed by the time they would
// be applied at now, and the messages none of whose recipients exist; it
// narrows a recall to the copies still open and a message to the users
// that exist. It reports how many records remain. s.mu must be held for reading.
func (s *Store) settle(batch []*request, now int64) int {
	if s.settled == nil {
		s.settled = map[*recipient]struct{}{}
	}
	closing := s.settled
	var deleted map[string]bool // users deleted earlier in this batch
	var present map[string]bool // users deleted (false) or put (true) earlier in this batch
	exists := func(u string) bool {
		if v, ok := present[u]; ok {
			return v
		}
		return s.st.users[u] != nil
	}
	// open reports whether the copy is open when the record is applied
	// (and is the copy, to mark closing), or nil.
	open := func(m *Message, user string) *recipient {
		if m == nil || m.Expires <= now || deleted[user] {
			// Expired when the batch's first record sweeps at now.
			return nil
		}
		rc := m.recipient(user)
		if rc == nil || rc.state != copyOpen {
			return nil
		}
		if _, ok := closing[rc]; ok {
			return nil
		}
		return rc
	}
	// recall narrows r to its open copies and marks them closing; false
	// when none is left.
	recall := func(r *record, body *[]byte) bool {
		m := s.st.msgs.get(r.ID)
		keep := r.Users[:0:0]
		for _, u := range r.Users {
			if rc := open(m, u); rc != nil {
				keep = append(keep, u)
				closing[rc] = struct{}{}
			}
		}
		if len(keep) == 0 {
			return false
		}
		if len(keep) < len(r.Users) {
			r.Users = keep
			if b, err := encodeBody(r); err == nil {
				*body = b
			}
		}
		return true
	}
	records := 0
	for _, r := range batch {
		pre := r.pre[:0]
		preBody := r.preBody[:0]
		for i := range r.pre {
			if recall(&r.pre[i], &r.preBody[i]) {
				pre, preBody = append(pre, r.pre[i]), append(preBody, r.preBody[i])
			}
		}
		r.pre, r.preBody = pre, preBody
		switch r.rec.Op {
		case opMsg:
			// Most batches pay one comparison here: no user was deleted
			// since the writer looked.
			// A put cannot take a recipient away.
			if r.dels == s.st.deletions && deleted == nil {
				break
			}
			// keep is made at the first recipient gone: a deletion of
			// someone else costs a broadcast only the lookups.
			var keep []string
			for i, u := range r.rec.Users {
				switch {
				case !exists(u):
					if keep == nil {
						keep = append(make([]string, 0, len(r.rec.Users)-1), r.rec.Users[:i]...)
					}
				case keep != nil:
					keep = append(keep, u)
				}
			}
			switch {
			case keep == nil:
			case len(keep) == 0:
				r.void = true
			default:
				r.rec.Users = keep
				if b, err := encodeBody(&r.rec); err == nil {
					r.body = b
				}
			}
		case opAck:
			rc := open(s.st.msgs.get(r.rec.ID), r.rec.User)
			if r.void = rc == nil; rc != nil {
				closing[rc] = struct{}{}
			}
		case opRecall:
			r.void = !recall(&r.rec, &r.body)
		case opUserDel:
			if deleted == nil {
				deleted = map[string]bool{}
			}
			deleted[r.rec.ID] = true
			present = mark(present, r.rec.ID, false)
		case opUserPut:
			present = mark(present, r.rec.ID, true)
		}
		records += r.records()
	}
	// Kept for the next batch, unless a large recall grew it.
	if len(closing) > 4*maxBatch {
		s.settled = map[*recipient]struct{}{}
	} else {
		clear(closing)
	}
	return records
}

// mark sets m[k] = v, making m if it is nil.
func mark(m map[string]bool, k string, v bool) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = v
	return m
}
