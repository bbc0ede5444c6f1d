package store

import (
	"context"
	"hash/maphash"
)

// stripes are the locks of writes that check the state before they
// append: does the user exist, is the copy still open, what does this key
// replace. Such a write holds the stripe of what it checks from the check
// until its record is applied, so two writes of one thing run one after
// the other and the second sees what the first did (a second delete of a
// user is a 404 and writes nothing; a second create is not "created"),
// while writes of different things still share a group commit. Unrelated
// names that share a stripe only wait for each other's commit.
type stripes struct {
	seed maphash.Seed
	ch   [256]chan struct{} // a stripe is held while its channel is full
}

func newStripes() *stripes {
	st := &stripes{seed: maphash.MakeSeed()}
	for i := range st.ch {
		st.ch[i] = make(chan struct{}, 1)
	}
	return st
}

// Kinds of what a stripe guards; the names of different kinds never meet.
const (
	stripeClient  = 'c'
	stripeUser    = 'u'
	stripeGroup   = 'g'
	stripeKey     = 'k' // a notify's key: its notifies commit one at a time
	stripeMessage = 'm' // a recall
	stripeCopy    = 'a' // an ack: one user's copy of one message
)

// A stripe is one held lock of stripes.
type stripe chan struct{}

// Unlock releases the stripe.
func (s stripe) Unlock() { <-s }

// lock takes the stripe of (kind, a, b), or gives up with ctx's error if
// ctx ends first: a caller that has gone does not queue behind a slow
// commit to write what nobody waits for.
func (st *stripes) lock(ctx context.Context, kind byte, a, b string) (stripe, error) {
	c := st.of(kind, a, b)
	select {
	case c <- struct{}{}:
		return c, nil
	default:
	}
	select {
	case c <- struct{}{}:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// of is the stripe of (kind, a, b).
func (st *stripes) of(kind byte, a, b string) chan struct{} {
	var h maphash.Hash
	h.SetSeed(st.seed)
	h.WriteByte(kind)
	h.WriteString(a)
	h.WriteByte(0)
	h.WriteString(b)
	return st.ch[h.Sum64()%uint64(len(st.ch))]
}
