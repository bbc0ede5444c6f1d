package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHistoryRing holds the ring to the plain rule it replaces: the newest
// max retractions, oldest first, and the floor at the newest one dropped;
// and it never holds more than max.
func TestHistoryRing(t *testing.T) {
	for _, max := range []int{-1, 0, 1, 3, 8, 256, 300} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(max+2), 7))
			var h history
			var model []Retraction
			var floor uint64
			seq := uint64(0)
			for n := range 1000 {
				seq += 1 + rng.Uint64N(3)
				r := Retraction{Seq: seq, MsgSeq: seq - rng.Uint64N(min(seq, 50)), ID: fmt.Sprint("m", n), Reason: Acked}
				h.add(r, max)
				if max <= 0 {
					floor = seq
				} else {
					if len(model) == max {
						floor = model[0].Seq
						model = model[1:]
					}
					model = append(model, r)
				}
				if h.floor != floor {
					t.Fatalf("after %d adds: floor %d, want %d", n+1, h.floor, floor)
				}
				if max > 0 && cap(h.buf) > max {
					t.Fatalf("after %d adds: capacity %d over max %d", n+1, cap(h.buf), max)
				}
				if n%37 != 0 && n < 990 {
					continue
				}
				for _, after := range []uint64{0, floor, seq / 2, seq - 5, seq - 1, seq} {
					var want []Retraction
					for _, m := range model {
						if m.Seq > after && m.MsgSeq <= after {
							want = append(want, m)
						}
					}
					if got := h.after(nil, after); !slices.Equal(got, want) {
						t.Fatalf("after %d adds, after(%d) = %v, want %v", n+1, after, got, want)
					}
				}
			}
		})
	}
}
