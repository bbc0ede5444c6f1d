package store

import (
	"hash/maphash"
	"sync"
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
	mu   [256]sync.Mutex
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

// lock locks the stripe of (kind, a, b) and returns it, to unlock.
func (st *stripes) lock(kind byte, a, b string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(st.seed)
	h.WriteByte(kind)
	h.WriteString(a)
	h.WriteByte(0)
	h.WriteString(b)
	mu := &st.mu[h.Sum64()%uint64(len(st.mu))]
	mu.Lock()
	return mu
}
