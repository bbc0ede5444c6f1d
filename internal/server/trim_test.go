package server

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestQuietDue: one trim per quiet spell, at its first quiet tick, none
// while activity moves, and none within trimGap ticks of the last.
func TestQuietDue(t *testing.T) {
	spell := func(from uint64, ticks int) []uint64 { // activity that stays at from
		return slices.Repeat([]uint64{from}, ticks)
	}
	alternating := make([]uint64, 3*trimGap) // an event between every other tick
	for i := range alternating {
		alternating[i] = uint64(i / 2)
	}
	tests := []struct {
		name  string
		ticks []uint64 // activity read at each tick
		want  string   // T where a tick trims
	}{
		{"quiet from the start", []uint64{0, 0, 0}, "T.."},
		{"busy", []uint64{1, 2, 3, 4}, "...."},
		{"burst then quiet", []uint64{5, 9, 9, 9, 9}, "..T.."},
		{"two quiet spells far apart", slices.Concat([]uint64{1, 2}, spell(3, trimGap+1), []uint64{4, 4}),
			"...T" + strings.Repeat(".", trimGap) + "T"},
		{"a second spell within the gap waits for it", slices.Concat([]uint64{0, 3, 3}, spell(4, trimGap)),
			"T.." + strings.Repeat(".", trimGap-3) + "T.."},
		{"a burst within the gap is trimmed after", []uint64{0, 0, trimBulk, trimBulk, trimBulk},
			"T..T."},
		{"less than a burst within the gap waits", slices.Concat([]uint64{0, 0, trimBulk - 1}, spell(trimBulk-1, trimGap)),
			"T.." + strings.Repeat(".", trimGap-3) + "T.."},
		// Quiet ticks are the odd ones (and the first): each trim waits
		// for the first odd tick a gap on.
		{"light traffic: one trim a gap", alternating,
			"T" + strings.Repeat(".", trimGap) + "T" + strings.Repeat(".", trimGap-1) + "T" + strings.Repeat(".", trimGap-2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := quiet{since: trimGap}
			got := ""
			for _, n := range tc.ticks {
				if q.due(n) {
					got += "T"
				} else {
					got += "."
				}
			}
			if got != tc.want {
				t.Errorf("ticks %v trimmed %q, want %q", tc.ticks, got, tc.want)
			}
		})
	}
}

// TestTrimWhenQuiet: the loop trims an idle hub and returns when its
// context ends.
func TestTrimWhenQuiet(t *testing.T) {
	trims := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		trimWhenQuiet(ctx, time.Millisecond, func() uint64 { return 7 }, func() {
			select {
			case trims <- struct{}{}:
			default:
			}
		})
		close(done)
	}()
	select {
	case <-trims:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle hub was not trimmed")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("trimWhenQuiet did not return when its context ended")
	}
}
