package api

import (
	"crypto/sha256"
	"sync"

	"rtchub/auth"
	"rtchub/store"
)

// Client credentials in an Authorization: Basic header (RFC 6749's
// client_secret_basic) stand for an access token on every /api/ route, so
// a script publishes with one call. A secret's slow hash is checked once:
// the answer is kept for the client's current hash and generation, so a new
// secret or a removed client ends it at once.
type basicCache struct {
	mu sync.Mutex
	m  map[basicKey]basicEntry
}

type basicKey struct {
	id     string
	secret [sha256.Size]byte // the secret itself is not kept
}

type basicEntry struct {
	hash string // the client's secret hash when the secret matched it
	gen  uint64
}

// maxBasicCache bounds the cache; when full it starts again empty (a miss
// costs one slow hash).
const maxBasicCache = 1024

// check reports whether id and secret are a client's credentials now, and
// the client's generation.
func (bc *basicCache) check(st *store.Store, id, secret string) (uint64, bool) {
	c, gen, ok := st.Client(id)
	k := basicKey{id, sha256.Sum256([]byte(secret))}
	bc.mu.Lock()
	e, hit := bc.m[k]
	bc.mu.Unlock()
	if hit && ok && e.hash == c.Hash && e.gen == gen {
		return gen, true
	}
	// CheckSecret runs the slow hash even for an unknown id, so the answer
	// takes as long either way.
	if !auth.CheckSecret(c.Hash, secret) || !ok {
		return 0, false
	}
	bc.mu.Lock()
	if bc.m == nil || len(bc.m) >= maxBasicCache {
		bc.m = make(map[basicKey]basicEntry)
	}
	bc.m[k] = basicEntry{c.Hash, gen}
	bc.mu.Unlock()
	return gen, true
}
