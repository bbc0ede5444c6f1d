package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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

// Options configure a Store. Zero values take those of DefaultOptions.
type Options struct {
	Dir           string
	Fsync         FsyncMode
	FsyncInterval time.Duration // sync period with FsyncInterval
	// MaxPending caps unacknowledged messages per user; at the cap the
	// oldest copy is dropped to make room. <0 means no cap.
	MaxPending int
	// KeepAcked is how many fully acknowledged messages stay queryable.
	// <0 means none.
	KeepAcked int
	// MaxPendingTotal is the hub-wide budget of pending state, in copies
	// (a message's payload counts as one copy per 256 bytes): over it the
	// oldest open copies are dropped. <0 means none.
	MaxPendingTotal int64
	// History is how many acknowledgements and recalls of each user's
	// messages are kept for devices that reconnect; older ones are
	// answered with a reset. <0 means none.
	History int
	// CompactMin is the least number of records in the log before the
	// store compacts on its own; it then compacts once the log holds more
	// than four times the live records. <0 disables.
	CompactMin int
	// GatherWait is how long a group commit with --fsync=always waits for
	// more requests while callers write concurrently (see commitFrom).
	// <0 means never.
	GatherWait time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	// WrapLog, if set, wraps the log file the store writes: a seam for
	// tests that make writes or syncs fail.
	WrapLog func(LogFile) LogFile
}

// DefaultOptions are the documented defaults (the flags of `rtchub serve`
// start from them). Dir is the default data directory.
func DefaultOptions() Options {
	return Options{
		Dir:           "./data",
		Fsync:         FsyncAlways,
		FsyncInterval: 100 * time.Millisecond,
		MaxPending:    10000,
		KeepAcked:     10000,
		History:       256,
		CompactMin:    100000,
		GatherWait:    300 * time.Microsecond,
	}
}

// withDefaults fills zero settings from DefaultOptions; the negative ones
// that mean "none" become 0, which the store reads as none.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FsyncInterval <= 0 {
		o.FsyncInterval = d.FsyncInterval
	}
	if o.GatherWait == 0 {
		o.GatherWait = d.GatherWait
	}
	o.MaxPending = orDefault(o.MaxPending, d.MaxPending)
	o.KeepAcked = orDefault(o.KeepAcked, d.KeepAcked)
	o.History = orDefault(o.History, d.History)
	o.CompactMin = orDefault(o.CompactMin, d.CompactMin)
	return o
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Observer hears about committed changes, in seq order, while the store's
// lock is held: it must not block and must not call back into the store.
// Replay is not observed.
type Observer interface {
	// MessageCommitted is called for each new message. Its copies that
	// wait for an acknowledgement are m.OpenCopies.
	MessageCommitted(m *Message)
	// CopiesWithdrawn is called when copies leave their users' inboxes:
	// acknowledged, recalled, or replaced (then before the replacing
	// message's MessageCommitted).
	CopiesWithdrawn(w Withdrawal)
	// CopiesExpired is called when the ttl of a message with open copies
	// runs out; users held them. at is unix ms.
	CopiesExpired(m *Message, users []string, at int64)
	// UserClosed is called when a user is deleted (deleted is the seq of
	// the record) or its tokens revoked (deleted is 0): its streams end.
	UserClosed(user string, deleted uint64)
	// Committed is called once the changes of one write (a group commit,
	// an expiry sweep) have all been told, after the store's lock is
	// released: an observer that holds work back for a batch does it now.
	Committed()
}

// Observers tells each of its observers, in order.
type Observers []Observer

func (o Observers) MessageCommitted(m *Message) {
	for _, x := range o {
		x.MessageCommitted(m)
	}
}

func (o Observers) CopiesWithdrawn(w Withdrawal) {
	for _, x := range o {
		x.CopiesWithdrawn(w)
	}
}

func (o Observers) CopiesExpired(m *Message, users []string, at int64) {
	for _, x := range o {
		x.CopiesExpired(m, users, at)
	}
}

func (o Observers) UserClosed(user string, deleted uint64) {
	for _, x := range o {
		x.UserClosed(user, deleted)
	}
}

func (o Observers) Committed() {
	for _, x := range o {
		x.Committed()
	}
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
	fatal   chan struct{} // closed when the log is poisoned
	closing sync.Once

	// Owned by the writer goroutine.
	file      LogFile
	seq       uint64
	records   int // intact records in the file
	dirty     bool
	broken    error // poisoned: no more writes (see ErrPoisoned)
	full      error // the last write was refused for space
	expT      *time.Timer
	gatherT   *time.Timer // nil: batches never wait (see commitFrom)
	peakBatch int         // requests a batch waits for (see commitFrom)
	expAt     int64
	lastStamp int64                   // unix ms of the last batch or expiry sweep
	settled   map[*recipient]struct{} // settle's, kept between batches

	locks *stripes // of writes that check, then append (stripes.go)

	compacting atomic.Bool
	bg         sync.WaitGroup // background compaction
	compactMu  sync.Mutex     // one compaction or backup at a time

	Metrics Metrics
}

type observerBox struct{ Observer }

type request struct {
	rec  record
	ttl  time.Duration // msg: the writer stamps created and expires
	body []byte        // the record without seq (and, for msg, its times)
	// pre are records committed right before rec, in the same batch: the
	// recalls of a replacement.
	pre     []record
	preBody [][]byte
	eff     effect
	err     error
	done    chan struct{}
	void    bool   // rec would change nothing: not written (see settle)
	dels    uint64 // msg: state.deletions when its recipients were resolved
}

// Open opens (creating if needed) the data directory, takes its lock,
// replays the log, and starts the writer.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	// A lock file that still says running was left by a hub that did not
	// Close: crashed, killed, or the machine went down. If that hub sent
	// frames before their batches were synced, whoever opens the directory
	// next (hub or offline command) marks the log (see recover).
	prev := make([]byte, len(lockRunningSynced))
	n, _ := lock.ReadAt(prev, 0)
	unsyncedStop := string(prev[:n]) == lockRunning
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
		fatal:   make(chan struct{}),
		locks:   newStripes(),
	}
	if err := s.recover(unsyncedStop); err != nil {
		lock.Close() // its word stays what it was: nothing was served
		return nil, err
	}
	if err := markLock(lock, runningWord(opts.Fsync)); err != nil {
		s.file.Close()
		lock.Close()
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	go s.writer()
	return s, nil
}

func (s *Store) nowMilli() int64 { return s.opts.Now().UnixMilli() }

func (s *Store) newState() *state {
	return newState(s.opts.MaxPending, s.opts.KeepAcked, s.opts.History, max(s.opts.MaxPendingTotal, 0))
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
