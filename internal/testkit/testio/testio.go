// Package testio holds the I/O helpers of rtchub's tests that need no
// hub: a buffer for a log that a test reads while the code under test
// writes it, and a reader of backup archives. It is a package of its own
// so that the store's tests, which testkit cannot serve (it imports the
// store), share them too.
package testio

import (
	"archive/tar"
	"bytes"
	"io"
	"sync"
	"testing"
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

// A TarEntry is one entry of a tar archive, with its contents.
type TarEntry struct {
	*tar.Header
	Data []byte
}

// ReadTar reads every entry of the tar archive r, in order, and fails the
// test if r is not one.
func ReadTar(tb testing.TB, r io.Reader) []TarEntry {
	tb.Helper()
	tr := tar.NewReader(r)
	var out []TarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatalf("not a tar archive: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatalf("tar entry %s: %v", h.Name, err)
		}
		out = append(out, TarEntry{h, data})
	}
}
