package store

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkPendingCopy measures what an open copy costs in the state: a
// flood nobody acknowledges, broadcast to 1,000 users (the per-message part
// spread over its copies) and unicast (one copy per message, so the
// message's own cost counts whole). B/copy is live heap per copy after a
// GC; heap-B/copy is the heap the runtime holds for it (in use, before
// the GC returns anything), what RSS follows.
func BenchmarkPendingCopy(b *testing.B) {
	for _, tc := range []struct {
		name            string
		users, msgs     int
		usersPerMessage int
	}{
		{"broadcast-1000", 1000, 2000, 1000},
		{"unicast", 1000, 200_000, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perCopy, heapPerCopy float64
			for range b.N {
				perCopy, heapPerCopy = floodCost(b, tc.users, tc.msgs, tc.usersPerMessage)
			}
			b.ReportMetric(perCopy, "B/copy")
			b.ReportMetric(heapPerCopy, "heap-B/copy")
		})
	}
}

func floodCost(b *testing.B, users, msgs, per int) (live, held float64) {
	b.StopTimer()
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%06d", i)
	}
	msgIDs := make([]string, msgs)
	for i := range msgIDs {
		msgIDs[i] = fmt.Sprintf("%024x", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.StartTimer()
	s := newState(-1, 0, 0, 0)
	for _, id := range ids {
		s.putUser(id, nil, 0)
	}
	for i, id := range msgIDs {
		to := ids[:per]
		if per == 1 {
			to = ids[i%users : i%users+1]
		}
		s.addMessage(&record{Seq: uint64(i + 1), ID: id, Users: to, Event: "message", Message: benchBody, Created: 1, Expires: 1 << 62})
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	heldBytes := float64(after.HeapInuse) - float64(before.HeapInuse)
	runtime.GC()
	runtime.ReadMemStats(&after)
	copies := float64(msgs * per)
	if s.open != msgs*per {
		b.Fatalf("%d open copies, want %d", s.open, msgs*per)
	}
	live = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / copies
	runtime.KeepAlive(s)
	runtime.KeepAlive(msgIDs)
	b.StartTimer()
	return live, heldBytes / copies
}

// BenchmarkHistory measures what a user's history of retractions costs, per
// entry kept, once it has turned over: 1,000 users, each with 1,000
// retractions through a history of the default 256.
func BenchmarkHistory(b *testing.B) {
	const users, each, keep = 1000, 1000, 256
	var live, held float64
	for range b.N {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		hs := make([]history, users)
		for n := range each {
			for i := range hs {
				seq := uint64(n*users + i + 1)
				hs[i].add(Retraction{Seq: seq, MsgSeq: seq, ID: "3f2a9c0e5b7d41a8c6e2f019", Reason: Acked}, keep)
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		held = (float64(after.HeapInuse) - float64(before.HeapInuse)) / (users * keep)
		runtime.GC()
		runtime.ReadMemStats(&after)
		live = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (users * keep)
		runtime.KeepAlive(hs)
		b.StartTimer()
	}
	b.ReportMetric(live, "B/entry")
	b.ReportMetric(held, "heap-B/entry")
}
