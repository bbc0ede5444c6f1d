package server

import (
	"context"
	"time"
)

// quietAfter is how long the hub must be quiet before it hands freed
// memory back: long enough that steady traffic does not pay for it, short
// enough that a box that just took a burst does not wait for the
// runtime's scavenger, which returns memory a little at a time.
const quietAfter = 5 * time.Second

// trimGap is the fewest ticks from one trim to the next, unless trimBulk
// or more of activity came between them. Traffic a few seconds apart makes
// a quiet tick between most events, and a trim is a full collection: such
// a hub pays for at most one a minute, while a burst (a reconnect storm,
// a flood) is trimmed after as soon as it ends.
const (
	trimGap  = 12
	trimBulk = 1000
)

// activity is a count that moves with whatever makes garbage in bulk:
// records appended, streams opened, frames delivered.
func (s *Server) activity() uint64 {
	return s.store.Metrics.Appends.Load() + s.hub.Metrics.Opened.Load() + s.hub.Metrics.Delivered.Load()
}

// trimWhenQuiet returns the heap the collector has freed to the OS
// (trim) once per quiet spell: at the first tick of every at which
// activity has not moved since the tick before, and trimGap ticks or
// trimBulk of activity after the last trim. After a burst (a
// reconnect storm, a flood, a replay) RSS then falls to what is live, as
// a small box wants, instead of holding the burst's peak; an idle hub is
// not trimmed again and again.
func trimWhenQuiet(ctx context.Context, every time.Duration, activity func() uint64, trim func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	q := quiet{last: activity(), since: trimGap}
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
	last    uint64
	trimmed bool   // in this quiet spell
	since   int    // ticks since the last trim
	atTrim  uint64 // activity at the last trim
}

// due reports whether to trim at a tick that reads activity n.
func (q *quiet) due(n uint64) bool {
	q.since++
	if n != q.last {
		q.last, q.trimmed = n, false
		return false
	}
	if q.trimmed || q.since < trimGap && n-q.atTrim < trimBulk {
		return false
	}
	q.trimmed, q.since, q.atTrim = true, 0, n
	return true
}
