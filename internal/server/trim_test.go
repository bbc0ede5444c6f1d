package server

import (
	"context"
	"testing"
	"time"
)

// TestQuietDue: one trim per quiet spell, at its first quiet tick, none
// while activity moves.
func TestQuietDue(t *testing.T) {
	tests := []struct {
		name  string
		ticks []uint64 // activity read at each tick
		want  string   // T where a tick trims
	}{
		{"quiet from the start", []uint64{0, 0, 0}, "T.."},
		{"busy", []uint64{1, 2, 3, 4}, "...."},
		{"burst then quiet", []uint64{5, 9, 9, 9, 9}, "..T.."},
		{"two quiet spells", []uint64{0, 3, 3, 3, 4, 4}, "T.T..T"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := quiet{}
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
