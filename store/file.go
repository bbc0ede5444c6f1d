package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("store: sync dir %s: %w", dir, err)
	}
	return nil
}

func dirOf(path string) string { return filepath.Dir(path) }

// allZero reports whether bytes [from, to) of f are all zero; a read error
// says false, so the caller keeps the bytes.
func allZero(f *os.File, from, to int64) bool {
	buf := make([]byte, 32<<10)
	r := io.NewSectionReader(f, from, to-from)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// copyRange copies bytes [from, to) of f to w.
func copyRange(w io.Writer, f *os.File, from, to int64) (int64, error) {
	return io.Copy(w, io.NewSectionReader(f, from, to-from))
}

// saveAside copies bytes [from, to) of f to a new file beside path, named
// path.kind-<UTC time>, and makes it durable (file and directory) before
// the caller cuts them from the log: damage is moved, never deleted.
func saveAside(f *os.File, path, kind string, from, to int64) (string, error) {
	base := fmt.Sprintf("%s.%s-%s", path, kind, time.Now().UTC().Format("20060102T150405Z"))
	name := base
	var out *os.File
	var err error
	for i := 2; ; i++ {
		out, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, os.ErrExist) || i > 100 {
			break
		}
		name = fmt.Sprintf("%s.%d", base, i)
	}
	if err != nil {
		return "", fmt.Errorf("save %s part aside: %w", kind, err)
	}
	fail := func(err error) (string, error) {
		out.Close()
		os.Remove(name) // a partial copy would pass for the whole part
		return "", err
	}
	if _, err := copyRange(out, f, from, to); err != nil {
		return fail(fmt.Errorf("copy %s part to %s: %w", kind, name, err))
	}
	if err := out.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", name, err))
	}
	if err := out.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("close %s: %w", name, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	return name, nil
}

// CheckDir reports why dir is not the data directory of a hub that has
// run: it does not exist, is not a directory, or holds no log. Only
// `rtchub serve` makes one; the other commands check first, so that they
// neither create what they were asked to read nor say "ok" of nothing.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, LogName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s holds no %s: not the data directory of a hub that has run", dir, LogName)
	}
	return nil
}
