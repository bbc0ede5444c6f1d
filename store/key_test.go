package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")

	key, created, err := LoadOrCreateKey(path, KeySize)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created {
		t.Fatal("created = false for a new key")
	}
	if len(key) != KeySize {
		t.Fatalf("key length %d, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatal("key is all zeros")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode %v, want 0600", perm)
	}
	if KeyFileTooOpen(path) {
		t.Fatal("KeyFileTooOpen on a fresh key file")
	}
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, key) {
		t.Fatalf("file holds %x (err %v), want %x", onDisk, err, key)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory has %d entries, want only the key (temp file left behind?)", len(entries))
	}

	again, created, err := LoadOrCreateKey(path, KeySize)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if created {
		t.Fatal("created = true when reloading")
	}
	if !bytes.Equal(again, key) {
		t.Fatal("reloaded key differs")
	}

	other, _, err := LoadOrCreateKey(filepath.Join(dir, "other.key"), KeySize)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Fatal("two new keys are equal")
	}
}

func TestLoadOrCreateKeyWrongSize(t *testing.T) {
	for _, n := range []int{0, 1, KeySize - 1, KeySize + 1, 4096} {
		path := filepath.Join(t.TempDir(), "signing.key")
		if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
		key, _, err := LoadOrCreateKey(path, KeySize)
		if err == nil {
			t.Errorf("%d-byte file: no error", n)
			continue
		}
		if key != nil {
			t.Errorf("%d-byte file: returned a key with the error", n)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%d-byte file: error %q does not name the path", n, err)
		}
		if got, _ := os.ReadFile(path); len(got) != n {
			t.Errorf("%d-byte file was modified to %d bytes", n, len(got))
		}
	}
}

func TestLoadOrCreateKeyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateKey(dir, KeySize); err == nil {
		t.Error("directory as key path: no error")
	}
	missing := filepath.Join(dir, "no", "such", "signing.key")
	if _, _, err := LoadOrCreateKey(missing, KeySize); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing parent directory: err = %v, want one naming %s", err, missing)
	}
}

func TestKeyFileTooOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.key")
	want := bytes.Repeat([]byte{7}, KeySize)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode os.FileMode
		open bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o644, true},
		{0o660, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			if got := KeyFileTooOpen(path); got != tt.open {
				t.Fatalf("KeyFileTooOpen = %v, want %v", got, tt.open)
			}
			// A too-open key is still loaded; the caller only warns.
			key, created, err := LoadOrCreateKey(path, KeySize)
			if err != nil || created || !bytes.Equal(key, want) {
				t.Fatalf("LoadOrCreateKey = %x, %v, %v", key, created, err)
			}
		})
	}
	if KeyFileTooOpen(filepath.Join(t.TempDir(), "missing")) {
		t.Error("KeyFileTooOpen(missing file) = true")
	}
}

// KeySize is the size of the hub's key (auth.KeySize); the store takes any.
const KeySize = 32
