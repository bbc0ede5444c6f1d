package store

import (
	"archive/tar"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The hand-written backup archive reads back with archive/tar and with the
// system's tar, names, modes, times and bytes alike.
func TestTarWriterReadsBack(t *testing.T) {
	files := []struct {
		name string
		data string
	}{
		{"signing.key", "0123456789abcdef0123456789abcdef\n"},
		{"empty", ""},
		{"rtchub.log", strings.Repeat("{\"seq\":1}\n", 300)}, // 3000 bytes: not a whole block
		{"exact", strings.Repeat("x", 1024)},
	}
	mtime := time.Unix(1795589058, 0)
	var buf bytes.Buffer
	tw := &tarWriter{w: &buf}
	for _, f := range files {
		if err := tw.header(f.name, 0o600, int64(len(f.data)), mtime); err != nil {
			t.Fatal(err)
		}
		// In two writes, as the backup writes the log and then its mark,
		// and an empty one between them, which must write nothing.
		half := len(f.data) / 2
		for _, part := range []string{f.data[:half], "", f.data[half:]} {
			if _, err := tw.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%tarBlock != 0 {
		t.Fatalf("archive of %d bytes: not whole blocks", buf.Len())
	}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for _, f := range files {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != f.name || h.Mode != 0o600 || h.Typeflag != tar.TypeReg || !h.ModTime.Equal(mtime) || string(data) != f.data || h.Format != tar.FormatUSTAR {
			t.Errorf("read back %+v with %d bytes, want %s with %d", h, len(data), f.name, len(f.data))
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("after the last file: %v, want EOF", err)
	}
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar here")
	}
	cmd := exec.Command("tar", "-tvf", "-")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvf: %v\n%s", err, out)
	}
	for _, f := range files {
		if !strings.Contains(string(out), f.name) {
			t.Errorf("tar -tvf does not list %s:\n%s", f.name, out)
		}
	}
}

// A log over ustar's 8 GiB size field gets the base-256 size.
func TestTarWriterLargeSize(t *testing.T) {
	var buf bytes.Buffer
	tw := &tarWriter{w: &buf}
	const size = 1<<33 + 12345
	if err := tw.header("rtchub.log", 0o600, size, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	h, err := tar.NewReader(&buf).Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != size {
		t.Fatalf("size %d, want %d", h.Size, size)
	}
	if _, err := tw.Write(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err == nil {
		t.Fatal("Close with the file's bytes missing succeeded")
	}
}
