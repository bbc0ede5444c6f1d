package store

import (
	"context"
	"errors"
	"testing"
)

// TestStripeWaitEndsWithContext: a write queued behind another of the
// same thing gives up when its caller's context ends, and writes nothing.
func TestStripeWaitEndsWithContext(t *testing.T) {
	s, _ := newStore(t, nil)
	putUser(t, s, "ann")
	held, err := s.locks.lock(bg, stripeUser, "ann", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	before := s.Metrics.Appends.Load()
	go func() { done <- s.DeleteUser(ctx, "ann") }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("DeleteUser behind a held stripe, its context cancelled: %v, want context.Canceled", err)
	}
	held.Unlock()
	if n := s.Metrics.Appends.Load() - before; n != 0 {
		t.Fatalf("the cancelled delete wrote %d records", n)
	}
	if _, ok := s.User("ann"); !ok {
		t.Fatal("the cancelled delete deleted ann")
	}
	if err := s.DeleteUser(bg, "ann"); err != nil {
		t.Fatalf("a delete after the stripe was released: %v", err)
	}
}
