// Package store keeps rtchub's state: an append-only log of JSON lines in a
// data directory, replayed at start into in-memory indexes.
//
// One writer goroutine owns the log file. Callers hand it records and wait;
// it writes whatever is queued in one write, syncs once (group commit),
// applies the records to memory in seq order, tells the observer, and only
// then answers the callers. A caller that got an answer therefore has its
// record on disk (with FsyncAlways) and visible to every reader.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LogName is the log's file name inside the data directory.
const LogName = "rtchub.log"

// FsyncMode says when appends reach the disk.
type FsyncMode int

const (
	// FsyncAlways syncs every batch before answering: an answered write
	// survives a power cut.
	FsyncAlways FsyncMode = iota
	// FsyncInterval syncs on a timer: a power cut can lose the last
	// interval's answered writes (a process crash loses nothing).
	FsyncInterval
	// FsyncNever leaves syncing to the kernel.
	FsyncNever
)

// ParseFsyncMode parses "always", "interval" or "never".
func ParseFsyncMode(s string) (FsyncMode, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "interval":
		return FsyncInterval, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("fsync mode %q: want always, interval or never", s)
}

func (m FsyncMode) String() string {
	return [...]string{"always", "interval", "never"}[m]
}

// Options configure a Store. Zero values take the documented defaults.
type Options struct {
	Dir           string
	Fsync         FsyncMode
	FsyncInterval time.Duration // for FsyncInterval; default 100ms
	// MaxPending caps unacknowledged messages per user; at the cap the
	// oldest copy is dropped to make room. 0 means 10,000; <0 means no cap.
	MaxPending int
	// KeepAcked is how many fully acknowledged messages stay queryable.
	// 0 means 10,000; <0 means none.
	KeepAcked int
	// CompactMin is the least number of records in the log before the
	// store compacts on its own; it then compacts once the log holds more
	// than four times the live records. 0 means 100,000; <0 disables.
	CompactMin int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Observer hears about committed changes, in seq order, while the store's
// lock is held: it must not block and must not call back into the store.
type Observer interface {
	// MessageCommitted is called for each new message with open copies.
	MessageCommitted(m *Message)
	// UserClosed is called when a user is deleted or its tokens revoked.
	UserClosed(userID string)
}

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store: closed")

// Store is the state of a hub and its log.
type Store struct {
	opts Options
	log  *slog.Logger
	path string
	lock *os.File

	mu  sync.RWMutex // guards st
	st  *state
	obs atomic.Pointer[observerBox]

	reqs    chan *request
	ctl     chan func()
	quit    chan struct{}
	stopped chan struct{}
	wake    chan struct{} // an earlier expiry than the timer's was added
	closing sync.Once

	// Owned by the writer goroutine.
	file      *os.File
	seq       uint64
	records   int // intact records in the file
	dirty     bool
	broken    error
	expT      *time.Timer
	expAt     int64
	lastStamp int64 // unix ms of the last batch or expiry sweep

	compacting atomic.Bool
	bg         sync.WaitGroup // background compaction
	compactMu  sync.Mutex     // one compaction or backup at a time

	Metrics Metrics
}

type observerBox struct{ Observer }

type request struct {
	rec  Record
	ttl  time.Duration // msg: the writer stamps created and expires
	body []byte        // the record without seq (and, for msg, its times)
	eff  effect
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the data directory, takes its lock,
// replays the log, and starts the writer.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = 100 * time.Millisecond
	}
	opts.MaxPending = defaultInt(opts.MaxPending, 10000)
	opts.KeepAcked = defaultInt(opts.KeepAcked, 10000)
	opts.CompactMin = defaultInt(opts.CompactMin, 100000)
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	// A lock file that still says running was left by a hub that did not
	// Close: crashed, killed, or the machine went down. Whoever opens the
	// directory next (hub or offline command) marks the log.
	prev := make([]byte, len(lockRunning))
	n, _ := lock.ReadAt(prev, 0)
	uncleanStop := string(prev[:n]) == lockRunning
	s := &Store{
		opts:    opts,
		log:     opts.Logger,
		path:    filepath.Join(opts.Dir, LogName),
		lock:    lock,
		reqs:    make(chan *request, 4096),
		ctl:     make(chan func()),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	if err := s.recover(uncleanStop); err != nil {
		lock.Close() // its word stays what it was: nothing was served
		return nil, err
	}
	if err := markLock(lock, lockRunning); err != nil {
		s.file.Close()
		lock.Close()
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	go s.writer()
	return s, nil
}

func defaultInt(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (s *Store) nowMilli() int64 { return s.opts.Now().UnixMilli() }

func (s *Store) newState() *state {
	return newState(s.opts.MaxPending, s.opts.KeepAcked)
}

// recover replays the log into memory, cutting a torn tail.
func (s *Store) recover(uncleanStop bool) error {
	os.Remove(s.path + compactSuffix) // a compaction cut short by a crash
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("store: stat log: %w", err)
	}
	start := time.Now()
	st := s.newState()
	// Replay only grows the heap: collecting less often while it runs
	// saves a third of its time, and the old setting returns after.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// Most records of a big log are messages; sizing the index up front
	// spares rehashing it over and over.
	st.msgs = newMsgIndex(int(min(fi.Size()/256, 1<<22)))
	res, err := scanLogWith(f, s.path, st.intern, func(r *Record, _ int64) error {
		st.apply(r)
		return nil
	})
	if err != nil {
		f.Close()
		return err
	}
	if res.torn != nil {
		// Only a write that never completed is cut, so nothing in the
		// tail was acknowledged; still, its bytes are kept beside the log
		// unless they are all zeros (pages the crash never filled).
		aside := ""
		if !allZero(f, res.good, fi.Size()) {
			// A full disk is a common cause of a torn write; it must
			// not keep the hub from starting, and nothing in the tail
			// was acknowledged: cut it even if it cannot be saved.
			if aside, err = saveAside(f, s.path, "torn", res.good, fi.Size()); err != nil {
				s.log.Warn("store: could not save the torn tail before cutting it", "err", err)
			}
		}
		s.log.Warn("store: cutting torn tail of the log: the last write before a crash did not complete",
			"file", s.path, "offset", res.good, "bytes", fi.Size()-res.good, "after_seq", res.tornSeq, "reason", res.torn.Error(),
			"saved_to", aside)
		if err := f.Truncate(res.good); err != nil {
			f.Close()
			return fmt.Errorf("store: truncate torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("store: sync %s: %w", s.path, err)
		}
	}
	if res.lastSeq > 0 && uncleanStop {
		// A hub that ran without a sync per batch sent frames before their
		// records were on disk, and a crash of the machine can take back
		// seqs that clients saw as event ids. After any stop that was not
		// clean (whatever the mode now: the crashed run's is unknown),
		// jump past them so none is handed out twice.
		n, err := appendMark(f, res.lastSeq+SeqGap)
		if err != nil {
			f.Close()
			return err
		}
		res.lastSeq, res.good, res.records = res.lastSeq+SeqGap, res.good+n, res.records+1
		st.seq = res.lastSeq
	}
	if err := syncDir(s.opts.Dir); err != nil {
		f.Close()
		return err
	}
	st.expire(s.nowMilli())
	s.st, s.file, s.seq, s.records = st, f, res.lastSeq, res.records
	s.Metrics.LogBytes.Store(res.good)
	s.log.Info("store: log replayed", "file", s.path, "records", res.records, "seq", res.lastSeq,
		"bytes", res.good, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// maxBatch bounds a group commit; recovery relies on it.
const maxBatch = 1024

// SeqGap is how far a seq mark jumps: past anything one unsynced stretch of
// log, or the life of a hub after a backup, could have used.
const SeqGap = 1 << 24

// appendMark writes and syncs a mark record with seq at the end of f.
func appendMark(f *os.File, seq uint64) (int64, error) {
	body, err := encodeBody(&Record{Op: OpMark})
	if err != nil {
		return 0, err
	}
	line := appendBatchLine(nil, seq, 1, body)
	if _, err := f.Write(line); err != nil {
		return 0, fmt.Errorf("store: write seq mark: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("store: sync seq mark: %w", err)
	}
	return int64(len(line)), nil
}

// SetObserver sets who hears about committed changes. Call it before
// serving; replay is not observed.
func (s *Store) SetObserver(o Observer) { s.obs.Store(&observerBox{o}) }

// Close stops the writer after it has committed what was queued, syncs the
// log and releases the directory.
func (s *Store) Close() error {
	var err error
	s.closing.Do(func() {
		close(s.quit)
		<-s.stopped
		s.bg.Wait() // a compaction sees quit and stops
		if s.broken == nil {
			err = s.file.Sync()
		}
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		if err == nil && s.broken == nil {
			markLock(s.lock, lockClean)
		}
		s.lock.Close()
	})
	return err
}

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
		case r.rec.Op == OpMsg:
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("store: sync dir %s: %w", dir, err)
	}
	return nil
}

// The lock file also says whether the last hub stopped cleanly.
const (
	lockRunning = "running\n"
	lockClean   = "stopped\n"
)

// markLock records the hub's state in its lock file, durably.
func markLock(f *os.File, state string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(state), 0); err != nil {
		return err
	}
	return f.Sync()
}

// lockDir takes an exclusive lock on the data directory so two hubs never
// append to one log.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	}
	return f, nil
}

// ErrLocked means another process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another rtchub process")

func dirOf(path string) string { return filepath.Dir(path) }

// allZero reports whether bytes [from, to) of f are all zero; a read error
// says false, so the caller keeps the bytes.
func allZero(f *os.File, from, to int64) bool {
	buf := make([]byte, 32<<10)
	r := io.NewSectionReader(f, from, to-from)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// copyRange copies bytes [from, to) of f to w.
func copyRange(w io.Writer, f *os.File, from, to int64) (int64, error) {
	return io.Copy(w, io.NewSectionReader(f, from, to-from))
}
