package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CorruptError reports a damaged record with intact records after it: not a
// torn write at a crash but damage to data that was once complete, so the
// hub refuses to guess and says how to repair.
type CorruptError struct {
	Path     string
	Offset   int64  // byte offset of the bad record
	AfterSeq uint64 // seq of the last good record before it
	Reason   error
	// Whole is set when the damage is a complete line (or an intact
	// record out of place) rather than damage with intact records after it.
	Whole bool
}

func (e *CorruptError) Error() string {
	why, also := "intact records follow it", ""
	if e.Whole {
		why = "it is a complete line, which a write cut short does not leave"
		also = " (if the file was converted or reformatted, e.g. to CRLF line ends, restore its bytes instead: repair would move all after this point aside)"
	}
	return fmt.Sprintf("store: %s: corrupt record at byte %d (after seq %d): %v; %s, so this is not a torn write. "+
		"Run `rtchub verify --repair %s` to keep every record before it and move the rest aside%s",
		e.Path, e.Offset, e.AfterSeq, e.Reason, why, dirOf(e.Path), also)
}

func (e *CorruptError) Unwrap() error { return e.Reason }

// scanResult describes one pass over a log.
type scanResult struct {
	good    int64  // bytes of intact records from the start
	records int    // intact records
	lastSeq uint64 // highest seq seen (a snapshot's upto counts)
	torn    error  // why the tail after good is not a record, if it is not
	tornSeq uint64 // last good seq before the tail
}

// maxLine bounds one record: larger lines are damage, not data.
const maxLine = 64 << 20

// scanLog reads framed records from r and calls fn for each, in order. A bad
// record with nothing intact after it is a torn tail: scanning stops and
// res.torn says why. A bad record with intact records after it is a
// *CorruptError. fn may be nil.
func scanLog(r io.Reader, path string, fn func(rec *record, off int64) error) (scanResult, error) {
	return scanLogWith(r, path, nil, fn)
}

// scanLogWith is scanLog with an interner for user ids.
func scanLogWith(r io.Reader, path string, in interner, fn func(rec *record, off int64) error) (scanResult, error) {
	var res scanResult
	br := bufio.NewReaderSize(r, 1<<20)
	var rec record
	var long []byte
	off := int64(0)
	inSnapshot := false
	var snapUpto, last uint64
	// hdrEnd is the last seq of the latest batch whose first record was
	// read (0 before any: a new log starts at a batch boundary).
	var hdrEnd uint64
	for {
		line, err := readLine(br, &long)
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			if err == bufio.ErrBufferFull {
				err = errors.New("record longer than 64 MiB")
			} else {
				return res, fmt.Errorf("store: read %s at byte %d: %w", path, off, err)
			}
		}
		bad := err
		if bad == nil || bad == io.EOF {
			bad = decodeLineWith(line, &rec, in)
		}
		misplaced := false
		if bad == nil {
			bad = checkOrder(&rec, off, &inSnapshot, &snapUpto, &last)
			misplaced = bad != nil
		}
		if bad != nil {
			// A power cut leaves a line cut short, or pages of zeros or
			// stale bytes; not complete JSON lines that fail their
			// checks, nor intact records out of place. Several of those
			// (a file converted to CRLF, reformatted) were changed after
			// they were written, and may have been acknowledged: refuse
			// rather than cut them as a torn tail. One such line alone at
			// the very end is cut like a torn tail (and kept aside):
			// never refusing to start over the last line is the promise.
			whole := misplaced || err == nil && looksWhole(line)
			rest := scanRest(br)
			cur := max(last, snapUpto)
			switch {
			case whole && (rest.intact || rest.trailing) || rest.whole: // a changed line with anything after it
				return res, &CorruptError{Path: path, Offset: off, AfterSeq: cur, Reason: bad, Whole: true}
			case !rest.intact:
			case !misplaced && !rest.header && rest.minSeq > cur && (cur < hdrEnd && rest.maxSeq <= hdrEnd ||
				cur == hdrEnd && rest.maxSeq <= cur+maxBatch):
				// The damage and every intact record after it lie in the
				// last batch, which one write put down and whose sync
				// never returned: a power cut kept some of its pages and
				// not others. None of it was acknowledged. (An intact
				// record out of place is never a torn write.)
				bad = fmt.Errorf("last batch written only in part (%w)", bad)
			default:
				return res, &CorruptError{Path: path, Offset: off, AfterSeq: cur, Reason: bad}
			}
			res.torn, res.tornSeq = bad, cur
			return res, nil
		}
		switch {
		case rec.Op == opSnapshot:
			// The snapshot was synced before it became the log: like a
			// complete batch ending at its upto.
			hdrEnd = rec.Upto
		case rec.N > 0 && !inSnapshot:
			hdrEnd = rec.Seq + rec.N - 1
		}
		if fn != nil {
			if err := fn(&rec, off); err != nil {
				return res, err
			}
		}
		off += int64(len(line))
		res.good, res.records = off, res.records+1
		res.lastSeq = max(last, snapUpto)
		if err == io.EOF {
			break
		}
	}
	return res, nil
}

// checkOrder enforces the seq rules: a snapshot only as the first record;
// inside it seq 0 or, for messages, ascending seqs up to its upto; after it,
// strictly ascending seqs.
func checkOrder(r *record, off int64, inSnapshot *bool, snapUpto, last *uint64) error {
	if r.Op == opSnapshot {
		if off != 0 {
			return errors.New("snapshot header in the middle of the log")
		}
		*inSnapshot, *snapUpto = true, r.Upto
		return nil
	}
	if *inSnapshot {
		if r.Seq == 0 && r.Op != opMsg {
			return nil
		}
		if r.Op == opMsg && r.Seq <= *snapUpto {
			if r.Seq <= *last {
				return fmt.Errorf("seq %d does not follow %d", r.Seq, *last)
			}
			*last = r.Seq
			return nil
		}
		*inSnapshot = false
		if *last < *snapUpto {
			*last = *snapUpto
		}
	}
	// The writer hands out seqs without gaps, so a gap is a lost record;
	// only a mark may jump ahead.
	if r.Seq != *last+1 && (r.Op != opMark || r.Seq <= *last) {
		return fmt.Errorf("seq %d does not follow %d", r.Seq, *last)
	}
	*last = r.Seq
	return nil
}

// readLine returns the next line of br, joined in *long when it is longer
// than br's buffer (records have no size limit but maxLine). A line over
// maxLine comes back cut short, with bufio.ErrBufferFull.
func readLine(br *bufio.Reader, long *[]byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	b := append((*long)[:0], line...)
	for err == bufio.ErrBufferFull && len(b) <= maxLine {
		line, err = br.ReadSlice('\n')
		b = append(b, line...)
	}
	*long = b
	return b, err
}

// looksWhole reports whether a line that failed its checks is still a
// complete JSON object ending in a newline (a CRLF line too, or one that
// jq reformatted).
func looksWhole(line []byte) bool {
	body, ok := bytes.CutSuffix(line, []byte("\n"))
	return ok && len(body) > 0 && body[0] == '{' && json.Valid(body)
}

// restInfo is what follows a damaged record.
type restInfo struct {
	intact         bool   // at least one intact record
	whole          bool   // a complete JSON line that is not an intact record
	trailing       bool   // damage after the last intact record (or with none)
	header         bool   // an intact record starts a batch
	minSeq, maxSeq uint64 // the lowest and highest seq among the intact records
}

func scanRest(r io.Reader) restInfo {
	var ri restInfo
	var rec record
	var long []byte
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := readLine(br, &long)
		if err == bufio.ErrBufferFull {
			// Over maxLine: not a record; skip to its end.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			ri.trailing = true
		} else if len(line) > 0 {
			if decodeLine(line, &rec) == nil {
				if !ri.intact || rec.Seq < ri.minSeq {
					ri.minSeq = rec.Seq
				}
				ri.intact = true
				ri.header = ri.header || rec.N > 0 || rec.Op == opSnapshot
				ri.maxSeq = max(ri.maxSeq, rec.Seq, rec.Upto)
				ri.trailing = false
			} else {
				ri.trailing = true
				ri.whole = ri.whole || err == nil && looksWhole(line)
			}
		}
		if err != nil {
			return ri
		}
	}
}
