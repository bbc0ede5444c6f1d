package server

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"
)

// quietAfter is how long the hub must be quiet before it hands freed
// memory back: long enough that steady traffic does not pay for it, short
// enough that a box that just took a burst does not wait for the
// runtime's scavenger, which returns memory a little at a time.
const quietAfter = 5 * time.Second

// trimGap is the fewest ticks from one trim to the next, unless trimBulk
// or more records or streams came between them (frames do not count: one
// broadcast to many streams is many frames and little garbage). Traffic a few seconds apart makes
// a quiet tick between most events, and a trim is a full collection: such
// a hub pays for at most one a minute, while a burst (a reconnect storm,
// a flood) is trimmed after as soon as it ends.
const (
	trimGap  = 12
	trimBulk = 1000
)

// activity is two counts: moves, of anything the hub does (records
// appended, streams opened, frames delivered), and bulk, of what makes
// garbage in bulk (records and streams).
func (s *Server) activity() (moves, bulk uint64) {
	bulk = s.store.Metrics.Appends.Load() + s.hub.Metrics.Opened.Load()
	return bulk + s.hub.Metrics.Delivered.Load(), bulk
}

// trimWhenQuiet returns the heap the collector has freed to the OS
// (trim) once per quiet spell: at the first tick of every at which
// activity has not moved since the tick before, and trimGap ticks or
// trimBulk of bulk activity after the last trim. After a burst (a
// reconnect storm, a flood, a replay) RSS then falls to what is live, as
// a small box wants, instead of holding the burst's peak; an idle hub is
// not trimmed again and again.
func trimWhenQuiet(ctx context.Context, every time.Duration, activity func() (moves, bulk uint64), trim func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	q := newQuiet()
	q.last, _ = activity()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if q.due(activity()) {
				trim()
			}
		}
	}
}

// quiet tracks activity from tick to tick.
type quiet struct {
	last    uint64 // moves at the tick before
	trimmed bool   // in this quiet spell
	since   int    // ticks since the last trim
	atTrim  uint64 // bulk at the last trim
}

// newQuiet is a quiet that may trim at its first quiet tick.
func newQuiet() quiet { return quiet{since: trimGap} }

// due reports whether to trim at a tick that reads activity moves and
// bulk.
func (q *quiet) due(moves, bulk uint64) bool {
	q.since++
	if moves != q.last {
		q.last, q.trimmed = moves, false
		return false
	}
	if q.trimmed || q.since < trimGap && bulk-q.atTrim < trimBulk {
		return false
	}
	q.trimmed, q.since, q.atTrim = true, 0, bulk
	return true
}

// trim hands the heap the collector has freed back to the OS and says, at
// debug level, what that cost. It is a full collection: concurrent, with
// pauses well under a millisecond, but CPU in proportion to the live heap
// (README, "Quiet trim").
func (s *Server) trim() {
	start := time.Now()
	debug.FreeOSMemory()
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return // ReadMemStats stops the world: only for a line that is logged
	}
	took := time.Since(start)
	// Right after a full collection, what is allocated is what is live.
	// (runtime/metrics would say it directly, at 7 KB of descriptions in
	// a binary with a size budget.)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.log.Debug("memory trimmed", "took", took.Round(time.Millisecond), "live_heap_bytes", ms.HeapAlloc)
}
