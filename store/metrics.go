package store

import (
	"sync/atomic"
	"time"
)

// FsyncBuckets are the upper bounds, in seconds, of the fsync latency
// histogram.
var FsyncBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Metrics are the store's counters, read without locks.
type Metrics struct {
	Appends     atomic.Uint64 // records appended
	Batches     atomic.Uint64 // writes (group commits)
	LogBytes    atomic.Int64  // size of the log: committed records, the writer's append offset
	Compactions atomic.Uint64
	Messages    atomic.Uint64 // messages committed with recipients
	Acks        atomic.Uint64 // copies acknowledged
	// WritesRefused counts batches refused for lack of space.
	WritesRefused atomic.Uint64

	FsyncCount   atomic.Uint64
	FsyncSumNano atomic.Uint64
	FsyncBucket  [len(FsyncBuckets)]atomic.Uint64 // cumulative counts per bound
}

func (m *Metrics) observeFsync(d time.Duration) {
	m.FsyncCount.Add(1)
	m.FsyncSumNano.Add(uint64(d))
	sec := d.Seconds()
	for i, b := range FsyncBuckets {
		if sec <= b {
			m.FsyncBucket[i].Add(1)
		}
	}
}

// Stats are counts that need the store's lock.
type Stats struct {
	Users, Groups, Clients int
	OpenMessages           int
	Pending                int    // unacknowledged copies
	Dropped                uint64 // copies dropped by the pending cap
	OverBudget             uint64 // copies dropped by the hub-wide budget
	Cost                   int64  // pending state, in the budget's units
	Expired                uint64 // messages dropped by their ttl
	Seq                    uint64
}

// Stats returns current counts.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{
		Users:        len(s.st.users),
		Groups:       len(s.st.groups),
		Clients:      len(s.st.clients),
		OpenMessages: s.st.msgs.len() - len(s.st.done),
		Dropped:      s.st.dropped,
		OverBudget:   s.st.overBudget,
		Cost:         s.st.cost,
		Expired:      s.st.expired,
		Seq:          s.st.seq,
		Pending:      s.st.open,
	}
	return st
}

// Budget is the hub-wide budget of pending state the store keeps to, in
// copies; 0 for none.
func (s *Store) Budget() int64 { return max(s.opts.MaxPendingTotal, 0) }
