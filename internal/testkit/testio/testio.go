// Package testio holds the I/O helpers of rtchub's tests that need no
// hub: a buffer for a log that a test reads while the code under test
// writes it. It is a package of its own so that the store's tests, which
// testkit cannot serve (it imports the store), share it too.
package testio

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer behind a mutex, safe for concurrent use. The
// zero value is empty and ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
