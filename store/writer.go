package store

import (
	"context"
	"errors"
	"time"
)

// maxBatch bounds a group commit; recovery relies on it.
const maxBatch = 1024

// append hands r to the writer and waits until it is committed.
func (s *Store) append(ctx context.Context, r *request) error {
	// Encoded here, on the caller's goroutine; a message's times are
	// spliced in by the writer.
	body, err := encodeBody(&r.rec)
	if err != nil {
		return err
	}
	r.body = body
	for i := range r.pre {
		b, err := encodeBody(&r.pre[i])
		if err != nil {
			return err
		}
		r.preBody = append(r.preBody, b)
	}
	r.done = make(chan struct{})
	select {
	case s.reqs <- r:
	default:
		// The queue is full: wait, but not past the caller's context
		// (asked for only here, as a request's Done channel is made on
		// first use).
		select {
		case s.reqs <- r:
		case <-s.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-r.done:
	case <-s.stopped:
		// The writer may have finished this one on its way out.
		select {
		case <-r.done:
		default:
			return ErrClosed
		}
	}
	return r.err
}

func (s *Store) writer() {
	defer close(s.stopped)
	var tick <-chan time.Time
	if s.opts.Fsync == FsyncInterval {
		t := time.NewTicker(s.opts.FsyncInterval)
		defer t.Stop()
		tick = t.C
	}
	s.expT = time.NewTimer(time.Hour)
	s.expT.Stop()
	if s.opts.Fsync == FsyncAlways && s.opts.GatherWait > 0 {
		s.gatherT = time.NewTimer(time.Hour)
		s.gatherT.Stop()
	}
	s.armExpiry()
	batch := make([]*request, 0, maxBatch)
	buf := make([]byte, 0, 1<<16)
	// held is a request that did not fit in the last batch. While there
	// is one, it is the next batch's first (no new request is taken), and
	// its turn is one more ready case of the select, so control calls,
	// syncs and expiry get theirs under any load.
	var held *request
	always := make(chan struct{})
	close(always)
	for {
		reqs, heldTurn := s.reqs, (<-chan struct{})(nil)
		if held != nil {
			reqs, heldTurn = nil, always
		}
		select {
		case <-heldTurn:
			r := held
			held, buf = s.commitFrom(r, batch, buf)
		case r := <-reqs:
			held, buf = s.commitFrom(r, batch, buf)
		case fn := <-s.ctl:
			fn()
		case <-tick:
			s.syncIfDirty()
		case <-s.expT.C:
			s.expAt = 0
			s.sweep()
			s.armExpiry()
		case <-s.wake:
			s.armExpiry()
		case <-s.quit:
			for {
				if held == nil {
					select {
					case held = <-s.reqs:
					default:
						s.expT.Stop()
						return
					}
				}
				r := held
				held, buf = s.commitFrom(r, batch, buf)
			}
		}
	}
}

// commitFrom commits first and what else is queued, up to maxBatch records
// (a larger request alone: its records go down in one batch, whole). It
// returns a request taken that did not fit.
//
// When recent batches held more than one request, callers are writing
// concurrently, and one more fsync costs more than a short wait: the batch
// then waits up to GatherWait for as many requests as their (decaying)
// peak.
func (s *Store) commitFrom(first *request, batch []*request, buf []byte) (*request, []byte) {
	batch = append(batch, first)
	n := first.records()
	var held *request
	take := func(r *request) bool {
		if n+r.records() > maxBatch {
			held = r
			return false
		}
		batch = append(batch, r)
		n += r.records()
		return true
	}
drain:
	for n < maxBatch {
		select {
		case r := <-s.reqs:
			if !take(r) {
				break drain
			}
		default:
			break drain
		}
	}
	if held == nil && s.gatherT != nil && s.peakBatch > 1 && len(batch) < s.peakBatch {
		s.gatherT.Reset(s.opts.GatherWait)
	gather:
		for held == nil && n < maxBatch && len(batch) < s.peakBatch {
			select {
			case r := <-s.reqs:
				take(r)
			case <-s.gatherT.C:
				break gather
			}
		}
		s.gatherT.Stop()
	}
	// The peak falls by an eighth (at least one) a batch: batches grow to
	// what concurrent callers fill, not just hold their last size, and a
	// burst is forgotten within a few dozen batches once callers are
	// fewer, so a lone caller soon stops waiting.
	s.peakBatch = max(len(batch), s.peakBatch-1-s.peakBatch/8)
	buf = s.commit(batch, buf[:0])
	clear(batch)
	return held, buf
}

// stamp is the writer's clock: the store's, held from going back.
func (s *Store) stamp() int64 {
	s.lastStamp = max(s.lastStamp, s.nowMilli())
	return s.lastStamp
}

// armExpiry points the one expiry timer at the earliest open message.
func (s *Store) armExpiry() {
	s.mu.RLock()
	next := s.st.nextExpiry()
	s.mu.RUnlock()
	if next == 0 || (s.expAt != 0 && s.expAt <= next) {
		return
	}
	s.expAt = next
	// Measured on the store's clock, and bounded: a far-off expiry must not
	// overflow, and a clock behind the wall must not fire in a loop.
	d := time.Duration(next-s.nowMilli())*time.Millisecond + time.Millisecond
	s.expT.Reset(min(max(d, time.Millisecond), time.Hour))
}

// records counts the records r commits.
func (r *request) records() int {
	if r.void {
		return len(r.pre)
	}
	return 1 + len(r.pre)
}

// sweep expires what is due at the writer's stamp, telling the observer.
func (s *Store) sweep() {
	now := s.stamp()
	obs := s.observer()
	s.mu.Lock()
	s.st.obs = obs
	s.st.expire(now)
	s.st.obs = nil
	s.mu.Unlock()
	if obs != nil {
		obs.Committed()
	}
}

// observer is who hears about committed changes, or nil.
func (s *Store) observer() Observer {
	if b := s.obs.Load(); b != nil {
		return b.Observer
	}
	return nil
}

// commit writes, syncs and applies one batch, then answers its callers.
func (s *Store) commit(batch []*request, buf []byte) []byte {
	if s.broken != nil {
		for _, r := range batch {
			r.err = s.broken
			close(r.done)
		}
		return buf
	}
	// Batches are stamped here, with one time per batch that never goes
	// back: expiry sweeps run on this goroutine too, so every sweep before
	// a batch happened at or before its time. Applying a batch sweeps at
	// its time first (messages carry it, and so does the first record of
	// any batch), so replay ends where the live run did.
	now := s.stamp()
	seq := s.seq
	s.mu.RLock()
	records := s.settle(batch, now)
	s.mu.RUnlock()
	if records == 0 {
		// Every record would have changed nothing. What expired by now
		// goes now (settle counted on it), so the callers, answering from
		// the state, see the copies closed.
		s.sweep()
		for _, r := range batch {
			close(r.done)
		}
		return buf
	}
	frame := func(rec *record, body []byte, ttl time.Duration) {
		seq++
		rec.Seq = seq
		var count uint64
		first := seq == s.seq+1
		if first {
			count = uint64(records)
		}
		switch {
		case rec.Op == opMsg:
			rec.Created, rec.Expires = now, now+ttl.Milliseconds()
			buf = appendFramed(buf, seq, count, rec.Created, rec.Expires, body)
		case first:
			// The batch's time on its first record: applying it sweeps
			// what expired by then, live and at replay alike.
			rec.Created = now
			buf = appendFramed(buf, seq, count, now, 0, body)
		default:
			buf = appendBatchLine(buf, seq, count, body)
		}
	}
	for _, r := range batch {
		for i := range r.pre {
			frame(&r.pre[i], r.preBody[i], 0)
		}
		if !r.void {
			frame(&r.rec, r.body, r.ttl)
		}
	}
	if err := s.write(buf); err != nil {
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return buf
	}
	s.seq = seq
	s.records += records
	earliest := int64(0)
	obs := s.observer()
	s.mu.Lock()
	s.st.obs = obs
	for _, r := range batch {
		for i := range r.pre {
			s.st.apply(&r.pre[i])
		}
		if r.void {
			continue
		}
		r.eff = s.st.apply(&r.rec)
		if r.eff.recipients > 0 {
			s.Metrics.Messages.Add(1)
		}
		if r.eff.acked {
			s.Metrics.Acks.Add(1)
		}
		if m := r.eff.msg; m != nil && m.open > 0 && (earliest == 0 || m.Expires < earliest) {
			earliest = m.Expires
		}
	}
	s.st.obs = nil
	live := s.st.live()
	s.mu.Unlock()
	if obs != nil {
		obs.Committed()
	}
	// Count before answering, so a caller sees its own append in the metrics.
	s.Metrics.Appends.Add(uint64(records))
	s.Metrics.Batches.Add(1)
	for _, r := range batch {
		close(r.done)
	}
	if earliest != 0 && (s.expAt == 0 || earliest < s.expAt) {
		s.armExpiry()
	}
	if s.opts.CompactMin > 0 && s.records > s.opts.CompactMin && s.records > 4*live && s.compacting.CompareAndSwap(false, true) {
		s.bg.Go(func() {
			defer s.compacting.Store(false)
			if err := s.compact(); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("store: compaction failed", "err", err)
			}
		})
	}
	return buf
}

// inWriter runs fn on the writer goroutine between batches.
func (s *Store) inWriter(fn func() error) error {
	errc := make(chan error, 1)
	select {
	case s.ctl <- func() { errc <- fn() }:
		return <-errc
	case <-s.quit:
		return ErrClosed
	}
}

// Sync forces the log to disk, whatever the mode.
func (s *Store) Sync() error {
	return s.inWriter(func() error {
		if s.broken != nil {
			return s.broken
		}
		s.dirty = true
		s.syncIfDirty()
		return s.broken
	})
}
