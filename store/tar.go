package store

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// A backup is a POSIX ustar archive of regular files, written here by hand
// rather than with archive/tar: two files need one 512-byte header each,
// and archive/tar's reader and PAX support would cost the arm64 release
// binary its size budget. tar, bsdtar and archive/tar read it.

const tarBlock = 512

// tarWriter writes regular files in ustar format.
type tarWriter struct {
	w       io.Writer
	pending int64 // bytes of the current file still to come
	written int64 // bytes of it so far, for the padding
}

// header starts a file of size bytes. Sizes that do not fit ustar's 11
// octal digits (8 GiB) are written in the base-256 form GNU tar and
// archive/tar read.
func (t *tarWriter) header(name string, mode int64, size int64, mtime time.Time) error {
	if t.pending != 0 {
		return fmt.Errorf("store: tar: %d bytes of the last file missing", t.pending)
	}
	if len(name) > 100 {
		return fmt.Errorf("store: tar: name %q too long", name)
	}
	var h [tarBlock]byte
	copy(h[0:100], name)
	octal(h[100:108], mode)
	octal(h[108:116], 0) // uid
	octal(h[116:124], 0) // gid
	if size < 1<<33 {
		octal(h[124:136], size)
	} else {
		h[124] = 0x80
		for i, v := 135, size; i > 124; i, v = i-1, v>>8 {
			h[i] = byte(v)
		}
	}
	octal(h[136:148], min(max(mtime.Unix(), 0), 1<<33-1)) // 1970 to 2242
	h[156] = '0'                                          // a regular file
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[148:156], "        ") // the checksum counts its own field as spaces
	sum := int64(0)
	for _, c := range h {
		sum += int64(c)
	}
	octal(h[148:155], sum)
	h[155] = ' '
	t.pending, t.written = size, 0
	_, err := t.w.Write(h[:])
	return err
}

// Write writes file data: no more than its header said.
func (t *tarWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if int64(len(b)) > t.pending {
		return 0, fmt.Errorf("store: tar: %d bytes more than the header said", int64(len(b))-t.pending)
	}
	n, err := t.w.Write(b)
	t.pending -= int64(n)
	t.written += int64(n)
	if err == nil && t.pending == 0 {
		err = t.pad()
	}
	return n, err
}

// pad fills the file's last block.
func (t *tarWriter) pad() error {
	if rest := t.written % tarBlock; rest != 0 {
		var zeros [tarBlock]byte
		_, err := t.w.Write(zeros[:tarBlock-rest])
		return err
	}
	return nil
}

// Close ends the archive: two zero blocks.
func (t *tarWriter) Close() error {
	if t.pending != 0 {
		return fmt.Errorf("store: tar: %d bytes of the last file missing", t.pending)
	}
	var zeros [2 * tarBlock]byte
	_, err := t.w.Write(zeros[:])
	return err
}

// octal writes v as zero-padded octal digits and a NUL filling field.
func octal(field []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	n := len(field) - 1
	for i := range n {
		field[i] = '0'
	}
	copy(field[n-len(s):n], s)
	field[n] = 0
}
