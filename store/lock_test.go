package store

import (
	"errors"
	"testing"
)

func TestLockAndClose(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOptions(dir, nil))
	if s2, err := Open(testOptions(dir, nil)); !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if _, err := Verify(dir, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("Verify on an open dir: %v, want ErrLocked", err)
	}
	putUser(t, s, "ann")
	mustClose(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.PutUser(bg, "bob", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	s = mustOpen(t, testOptions(dir, nil))
	if err := s.Healthy(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}
