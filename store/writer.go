package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// maxBatch bounds a group commit; recovery relies on it.
const maxBatch = 1024

// append hands records to the writer and waits until they are committed.
func (s *Store) append(ctx context.Context, recs ...*request) error {
	for _, r := range recs {
		// Encoded here, on the caller's goroutine; a message's times are
		// spliced in by the writer.
		body, err := encodeBody(&r.rec)
		if err != nil {
			return err
		}
		r.body = body
		r.done = make(chan struct{})
	}
	for _, r := range recs {
		select {
		case s.reqs <- r:
		case <-s.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, r := range recs {
		select {
		case <-r.done:
			if r.err != nil {
				return r.err
			}
		case <-s.stopped:
			// The writer may have finished this one on its way out.
			select {
			case <-r.done:
				if r.err != nil {
					return r.err
				}
			default:
				return ErrClosed
			}
		}
	}
	return nil
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
	s.armExpiry()
	batch := make([]*request, 0, maxBatch)
	buf := make([]byte, 0, 1<<16)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			buf = s.commit(batch, buf[:0])
			clear(batch)
			batch = batch[:0]
		case fn := <-s.ctl:
			fn()
		case <-tick:
			s.syncIfDirty()
		case <-s.expT.C:
			s.expAt = 0
			now := s.stamp()
			s.mu.Lock()
			s.st.expire(now)
			s.mu.Unlock()
			s.armExpiry()
		case <-s.wake:
			s.armExpiry()
		case <-s.quit:
			for {
				select {
				case r := <-s.reqs:
					batch = append(batch[:0], r)
					buf = s.commit(batch, buf[:0])
				default:
					s.expT.Stop()
					return
				}
			}
		}
	}
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
	for i, r := range batch {
		seq++
		r.rec.Seq = seq
		var count uint64
		if i == 0 {
			count = uint64(len(batch))
		}
		switch {
		case r.rec.Op == opMsg:
			r.rec.Created, r.rec.Expires = now, now+r.ttl.Milliseconds()
			buf = appendFramed(buf, seq, count, r.rec.Created, r.rec.Expires, r.body)
		case i == 0:
			// The batch's time on its first record: applying it sweeps
			// what expired by then, live and at replay alike.
			r.rec.Created = now
			buf = appendFramed(buf, seq, count, now, 0, r.body)
		default:
			buf = appendBatchLine(buf, seq, count, r.body)
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
	s.records += len(batch)
	obs := s.obs.Load()
	earliest := int64(0)
	s.mu.Lock()
	for _, r := range batch {
		r.eff = s.st.apply(&r.rec)
		if r.eff.recipients > 0 {
			s.Metrics.Messages.Add(1)
		}
		if r.eff.acked {
			s.Metrics.Acks.Add(1)
		}
		if obs != nil {
			if r.eff.msg != nil && r.eff.msg.open > 0 {
				obs.MessageCommitted(r.eff.msg)
			}
			if r.eff.closeUser != "" {
				obs.UserClosed(r.eff.closeUser)
			}
		}
		if m := r.eff.msg; m != nil && m.open > 0 && (earliest == 0 || m.Expires < earliest) {
			earliest = m.Expires
		}
	}
	live := s.st.live()
	s.mu.Unlock()
	// Count before answering, so a caller sees its own append in the metrics.
	s.Metrics.Appends.Add(uint64(len(batch)))
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

// write appends buf to the log and syncs it as the mode says. After a
// failed write or sync the log is broken: what reached the disk is unknown,
// so no more writes are taken until a restart replays the file.
func (s *Store) write(buf []byte) error {
	n, err := s.file.Write(buf)
	if err == nil && s.opts.Fsync == FsyncAlways {
		start := time.Now()
		err = fdatasync(s.file)
		s.Metrics.observeFsync(time.Since(start))
	} else if err == nil {
		s.dirty = true
	}
	if err != nil {
		if n > 0 {
			// Try to take the batch back; if this fails too, a restart
			// may find it whole (its callers were told the outcome is
			// unknown) or torn (and cuts it).
			s.file.Truncate(s.Metrics.LogBytes.Load())
		}
		// Earlier batches may be unsynced yet (--fsync=interval) and no
		// sync runs once the log is broken: try to put them down now.
		fdatasync(s.file)
		s.broken = fmt.Errorf("store: write %s: %w", s.path, err)
		s.log.Error("store: log write failed; refusing further writes until restart", "err", err)
		return s.broken
	}
	s.Metrics.LogBytes.Add(int64(n))
	return nil
}

func (s *Store) syncIfDirty() {
	if !s.dirty || s.broken != nil {
		return
	}
	start := time.Now()
	if err := fdatasync(s.file); err != nil {
		s.broken = fmt.Errorf("store: sync %s: %w", s.path, err)
		s.log.Error("store: log sync failed; refusing further writes until restart", "err", err)
		return
	}
	s.Metrics.observeFsync(time.Since(start))
	s.dirty = false
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

// Healthy reports whether the log still takes writes.
func (s *Store) Healthy() error {
	return s.inWriter(func() error { return s.broken })
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
