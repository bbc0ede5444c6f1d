package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyName is the signing key's file name inside the data directory.
const KeyName = "signing.key"

// LoadOrCreateKey returns the signing key of size bytes stored at path,
// creating it with random bytes if the file does not exist; created reports whether it
// was made by this call. Keeping the key on disk lets tokens survive
// restarts.
//
// A new key is written to a temporary file in the same directory, synced,
// renamed into place and the directory synced, so a crash leaves either no
// key or a complete one, never a truncated key that would fail every later
// start. The parent directory must already exist.
//
// A file of the wrong size is an error rather than being replaced: silently
// rotating the key would invalidate every issued token. A key file readable
// by group or others is still returned without error, since refusing to start
// would be worse than the exposure; callers should check [KeyFileTooOpen] and
// log a warning.
func LoadOrCreateKey(path string, size int) (key []byte, created bool, err error) {
	key, err = readKey(path, size)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, err = createKey(path, size)
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// KeyFileTooOpen reports whether the key file at path can be read by its
// group or by others. It reports false if path cannot be inspected, because
// LoadOrCreateKey will already have failed in that case.
func KeyFileTooOpen(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o077 != 0
}

func readKey(path string, size int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError already names the path
	}
	defer f.Close()
	// Read one byte more than needed so that an oversized file is detected
	// without reading all of it.
	buf := make([]byte, size+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("store: key file %s is larger than %d bytes", path, size)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if n != size {
			return nil, fmt.Errorf("store: key file %s has %d bytes, want %d", path, n, size)
		}
		return buf[:size:size], nil
	default:
		return nil, fmt.Errorf("store: reading key file: %w", err)
	}
}

func createKey(path string, size int) (key []byte, err error) {
	key = make([]byte, size)
	rand.Read(key) // never fails; see crypto/rand.Read

	dir := filepath.Dir(path)
	// CreateTemp makes the file with mode 0600, so the key is never readable
	// by others, not even briefly.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("store: creating key file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(key); err != nil {
		return nil, fmt.Errorf("store: writing key file %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return nil, fmt.Errorf("store: syncing key file %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return nil, fmt.Errorf("store: closing key file %s: %w", path, err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return nil, fmt.Errorf("store: installing key file %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err = SyncDir(dir); err != nil {
		return nil, fmt.Errorf("store: syncing directory of key file %s: %w", path, err)
	}
	return key, nil
}
