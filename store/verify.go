package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Report is what Verify found in a data directory.
type Report struct {
	Path    string
	Records int
	LastSeq uint64
	Bytes   int64 // size of the file
	Good    int64 // bytes of intact records from the start
	// Torn is set when the file ends in an incomplete record, which the
	// hub cuts at start.
	Torn error
	// Corrupt is set when a damaged record has intact ones after it.
	Corrupt *CorruptError
	// MovedAside names the file that Repair moved the damaged rest to.
	MovedAside string
}

// OK reports whether the log needs no repair.
func (r Report) OK() bool { return r.Torn == nil && r.Corrupt == nil }

// Verify checks the log in dir without changing it. With repair, it keeps
// every record before the first damaged one and moves the rest of the file,
// byte for byte, to a file beside it (never deleting it). Verify takes the
// directory's lock, so it refuses to run while a hub uses the directory.
func Verify(dir string, repair bool) (Report, error) {
	lock, err := lockDir(dir)
	if err != nil {
		return Report{}, err
	}
	defer lock.Close()
	path := filepath.Join(dir, LogName)
	rep := Report{Path: path}
	flag := os.O_RDONLY
	if repair {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return rep, fmt.Errorf("store: verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return rep, err
	}
	rep.Bytes = fi.Size()
	res, err := scanLog(f, path, nil)
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		rep.Corrupt = ce
		rep.Good = ce.Offset
	case err != nil:
		return rep, err
	default:
		rep.Torn, rep.Good = res.torn, res.good
	}
	rep.Records, rep.LastSeq = res.records, res.lastSeq
	if !repair || rep.OK() {
		return rep, nil
	}
	aside, err := saveAside(f, path, "damaged", rep.Good, rep.Bytes)
	if err != nil {
		return rep, fmt.Errorf("store: repair: %w", err)
	}
	// Seqs in the damaged part may have reached clients (as SSE ids); a
	// mark keeps the next append above all of them. Intact records there
	// say how high they went; damage after the last of them hides how
	// many more there were, so the mark leaves a wide gap then.
	rest := scanRest(io.NewSectionReader(f, rep.Good, rep.Bytes-rep.Good))
	high := rest.maxSeq
	if rest.trailing {
		high = max(high, rep.LastSeq) + SeqGap
	}
	if err := f.Truncate(rep.Good); err != nil {
		return rep, fmt.Errorf("store: repair: truncate: %w", err)
	}
	if high > rep.LastSeq {
		if _, err := f.Seek(rep.Good, io.SeekStart); err != nil {
			return rep, err
		}
		if _, err := appendMark(f, high); err != nil {
			return rep, fmt.Errorf("store: repair: %w", err)
		}
		rep.LastSeq = high
	}
	if err := f.Sync(); err != nil {
		return rep, fmt.Errorf("store: repair: %w", err)
	}
	rep.MovedAside = aside
	return rep, nil
}
