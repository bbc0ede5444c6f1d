package server

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
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
	lightTraffic := "T" + strings.Repeat(".", trimGap) + "T" + strings.Repeat(".", trimGap-1) + "T" + strings.Repeat(".", trimGap-2)
	// A broadcast to many streams between every other tick: many
	// frames, one record each.
	frames, records := make([]uint64, 3*trimGap), make([]uint64, 3*trimGap)
	for i := range frames {
		frames[i], records[i] = uint64(i/2)*(trimBulk+1), uint64(i/2)
	}
	tests := []struct {
		name  string
		ticks []uint64 // moves read at each tick
		bulk  []uint64 // bulk read at each tick; nil: as ticks
		want  string   // T where a tick trims
	}{
		{"quiet from the start", []uint64{0, 0, 0}, nil, "T.."},
		{"busy", []uint64{1, 2, 3, 4}, nil, "...."},
		{"burst then quiet", []uint64{5, 9, 9, 9, 9}, nil, "..T.."},
		{"two quiet spells far apart", slices.Concat([]uint64{1, 2}, spell(3, trimGap+1), []uint64{4, 4}), nil,
			"...T" + strings.Repeat(".", trimGap) + "T"},
		{"a second spell within the gap waits for it", slices.Concat([]uint64{0, 3, 3}, spell(4, trimGap)), nil,
			"T.." + strings.Repeat(".", trimGap-3) + "T.."},
		{"a burst within the gap is trimmed after", []uint64{0, 0, trimBulk, trimBulk, trimBulk}, nil,
			"T..T."},
		{"less than a burst within the gap waits", slices.Concat([]uint64{0, 0, trimBulk - 1}, spell(trimBulk-1, trimGap)), nil,
			"T.." + strings.Repeat(".", trimGap-3) + "T.."},
		// Quiet ticks are the odd ones (and the first): each trim waits
		// for the first odd tick a gap on.
		{"light traffic: one trim a gap", alternating, nil, lightTraffic},
		{"broadcasts to many streams are light traffic", frames, records, lightTraffic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newQuiet()
			got := ""
			for i, n := range tc.ticks {
				bulk := n
				if tc.bulk != nil {
					bulk = tc.bulk[i]
				}
				if q.due(n, bulk) {
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
		trimWhenQuiet(ctx, time.Millisecond, func() (uint64, uint64) { return 7, 3 }, func() {
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

// TestTrimSaysWhatItCost: the debug line an operator reads the trim's cost
// from names how long it took and a live heap that is not zero.
func TestTrimSaysWhatItCost(t *testing.T) {
	var out strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	keep := make([]byte, 1<<20)
	s.trim()
	runtime.KeepAlive(keep)
	line := out.String()
	if !strings.Contains(line, `msg="memory trimmed" took=`) {
		t.Fatalf("trim logged %q, want a \"memory trimmed\" line with took=", line)
	}
	_, after, ok := strings.Cut(line, "live_heap_bytes=")
	if n, err := strconv.ParseUint(strings.TrimSpace(after), 10, 64); !ok || err != nil || n < 1<<20 {
		t.Fatalf("trim logged %q, want live_heap_bytes of at least the MiB held", line)
	}
}
