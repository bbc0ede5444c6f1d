package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sampleRecords covers every op, empty and full field sets, and payloads
// that need escaping.
func sampleRecords() []record {
	return []record{
		{Seq: 1, Op: opClientPut, ID: "c1", Name: "backend", Hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"},
		{Seq: 2, Op: opClientDel, ID: "c1"},
		{Seq: 3, Op: opGroupPut, ID: "ops"},
		{Seq: 4, Op: opUserPut, ID: "alice", Groups: []string{"ops", "dev"}},
		{Seq: 5, Op: opGroupPut, ID: "ops", Users: []string{"alice", "bob"}},
		{Seq: 6, Op: opMsg, ID: "0123456789abcdef01234567", Users: []string{"alice", "bob"}, Event: "chat",
			Message: json.RawMessage(`{"text":"line1\nline2 \"quoted\" <b>&amp;</b> \u00e9 ☃","n":[1,2.5,-3e10],"ok":true,"nil":null}`),
			Created: 3786912000000, Expires: 3787516800000},
		{Seq: 7, Op: opAck, ID: "0123456789abcdef01234567", User: "alice"},
		{Seq: 8, Op: opRevoke, User: "bob"},
		{Seq: 9, Op: opUserDel, ID: "bob"},
		{Seq: 10, Op: opGroupDel, ID: "ops"},
		{Seq: 1<<64 - 1, Op: opMsg, ID: "x", Users: []string{"u"}, Message: json.RawMessage(`"just a string"`), Expires: 1},
		// Snapshot records carry seq 0 (no seq key at all).
		{Op: opSnapshot, Upto: 42},
		{Op: opGen, Kind: "user", User: "bob", Gen: 3},
		{Op: opGen, Kind: "client", User: "c1", Gen: 1},
		{Op: opUserPut, ID: "weird \"id\"\twith\ncontrol\x01chars and unicode ✓"},
		{Seq: 11, Op: opAck},
	}
}

var crcSuffixRE = regexp.MustCompile(`,"crc":"[0-9a-f]{8}"}\n$`)

func TestLineRoundTrip(t *testing.T) {
	for i, r := range sampleRecords() {
		t.Run(fmt.Sprintf("%d-%s", i, r.Op), func(t *testing.T) {
			orig := r
			body, err := encodeBody(&r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, orig) {
				t.Fatalf("encodeBody changed its record:\n%+v\n%+v", orig, r)
			}
			if bytes.Contains(body, []byte(`"seq"`)) || bytes.Contains(body, []byte(`"crc"`)) {
				t.Fatalf("body carries seq or crc: %s", body)
			}
			prefix := []byte("previous line\n")
			buf := appendLine(bytes.Clone(prefix), r.Seq, body)
			if !bytes.HasPrefix(buf, prefix) {
				t.Fatalf("appendLine clobbered dst: %q", buf)
			}
			line := buf[len(prefix):]

			// One line, newline-terminated, plain JSON: jq and grep work.
			if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not exactly one newline-terminated line: %q", line)
			}
			obj := line[:len(line)-1]
			if !json.Valid(obj) {
				t.Fatalf("line is not valid JSON: %s", obj)
			}
			if !crcSuffixRE.Match(line) {
				t.Fatalf("line does not end in the fixed-width crc frame: %s", line)
			}
			if r.Seq != 0 {
				if want := `{"seq":` + strconv.FormatUint(r.Seq, 10) + `,"op":`; !bytes.HasPrefix(line, []byte(want)) {
					t.Fatalf("line starts %.30q, want %q", line, want)
				}
			} else if bytes.Contains(line, []byte(`"seq"`)) {
				t.Fatalf("seq 0 is written: %s", line)
			}

			// The crc covers every byte before the crc field.
			var generic map[string]any
			if err := json.Unmarshal(obj, &generic); err != nil {
				t.Fatal(err)
			}
			cut := len(obj) - crcSuffixLen
			if want := fmt.Sprintf("%08x", crc32.Checksum(obj[:cut], crc32.MakeTable(crc32.Castagnoli))); generic["crc"] != want {
				t.Fatalf("crc field %v, want crc32c %s of %q", generic["crc"], want, obj[:cut])
			}

			got, err := checkLine(line)
			if err != nil {
				t.Fatalf("checkLine: %v", err)
			}
			if !bytes.Equal(got, obj) {
				t.Fatalf("checkLine returned %q, want %q", got, obj)
			}

			var dec record
			dec.Users = []string{"stale"} // decodeLine must not merge into old values
			if err := decodeLine(line, &dec); err != nil {
				t.Fatalf("decodeLine: %v", err)
			}
			dec.CRC = "" // checked by the framing; a decoder need not keep it
			want := orig
			// json.Marshal compacts the payload and escapes <, > and & as
			// \u003c etc.: the same JSON value, not always the same bytes.
			if want.Message != nil {
				var a, b any
				if err := json.Unmarshal(want.Message, &a); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(dec.Message, &b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("payload changed: %s -> %s", want.Message, dec.Message)
				}
				want.Message, dec.Message = nil, nil
			}
			if !reflect.DeepEqual(dec, want) {
				t.Fatalf("round trip:\nwant %+v\ngot  %+v", want, dec)
			}
		})
	}
}

func TestEncodeBodyRejectsBadPayload(t *testing.T) {
	r := record{Op: opMsg, ID: "m", Message: json.RawMessage(`{"unterminated":`)}
	if _, err := encodeBody(&r); err == nil {
		t.Fatal("encodeBody accepted an invalid JSON payload")
	}
}

// TestEveryByteCorruptionDetected replaces each byte of framed lines with
// every other byte value: checkLine and decodeLine must reject them all.
// (Every proper prefix is checked too: a torn record is never a record.)
func TestEveryByteCorruptionDetected(t *testing.T) {
	recs := sampleRecords()
	var undetected []string
	hexCase := true // every undetected change upper-cases a crc digit
	for _, i := range []int{0, 3, 5, 6, 11, 12} {
		r := recs[i]
		body, err := encodeBody(&r)
		if err != nil {
			t.Fatal(err)
		}
		line := appendLine(nil, r.Seq, body)
		crcStart := len(line) - 1 - crcSuffixLen + len(`,"crc":"`)
		mut := make([]byte, len(line))
		for pos := range line {
			for b := 0; b < 256; b++ {
				if byte(b) == line[pos] {
					continue
				}
				copy(mut, line)
				mut[pos] = byte(b)
				_, cerr := checkLine(mut)
				var dec record
				derr := decodeLine(mut, &dec)
				if cerr == nil || derr == nil {
					undetected = append(undetected, fmt.Sprintf("%s line byte %d %q->%q", r.Op, pos, line[pos], byte(b)))
					inCRC := pos >= crcStart && pos < crcStart+8
					hexCase = hexCase && inCRC && bytes.EqualFold([]byte{line[pos]}, []byte{byte(b)})
				}
			}
		}
		for n := 0; n < len(line); n++ {
			if _, err := checkLine(line[:n]); err == nil {
				undetected = append(undetected, fmt.Sprintf("%s line: prefix of %d bytes", r.Op, n))
				hexCase = false
			}
		}
		if _, err := checkLine(append(bytes.Clone(line), '\n')); err == nil {
			undetected = append(undetected, r.Op+" line: extra trailing newline")
			hexCase = false
		}
	}
	if len(undetected) > 0 {
		hint := ""
		if hexCase {
			hint = "\nall of them upper-case a hex digit of the crc field, which then parses to the same value: " +
				"checkLine (record.go:126) uses strconv.ParseUint instead of comparing the exact 8 lower-case digits appendHex32 writes"
		}
		t.Errorf("%d single-byte corruptions pass the frame check, e.g.\n  %s%s",
			len(undetected), strings.Join(undetected[:min(len(undetected), 5)], "\n  "), hint)
	}
}

// TestCorruptRecordMidLog damages one byte of record 2 of 5 in several ways
// at every position: the scan must stop there with a *CorruptError naming
// that record's offset and the seq before it, never read a shorter or
// different log.
func TestCorruptRecordMidLog(t *testing.T) {
	recs := sampleRecords()[:5]
	data := frame(t, recs...)
	ends := lineEnds(data)
	start, end := ends[0], ends[1]
	for pos := start; pos < end; pos++ {
		for _, mutate := range []func(byte) byte{
			func(c byte) byte { return c ^ 0x01 },
			func(c byte) byte { return c ^ 0x80 },
			func(byte) byte { return '\n' },
			func(byte) byte { return 0 },
		} {
			mut := bytes.Clone(data)
			mut[pos] = mutate(mut[pos])
			if mut[pos] == data[pos] {
				continue
			}
			res, err := scanLog(bytes.NewReader(mut), "log", nil)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("byte %d %q->%q: got %v (torn %v, %d records), want *CorruptError",
					pos, data[pos], mut[pos], err, res.torn, res.records)
			}
			if ce.Offset != int64(start) || ce.AfterSeq != recs[0].Seq || res.records != 1 {
				t.Fatalf("byte %d %q->%q: offset %d after seq %d (%d records), want offset %d after seq %d",
					pos, data[pos], mut[pos], ce.Offset, ce.AfterSeq, res.records, start, recs[0].Seq)
			}
		}
	}
}

// TestScanLogOrder checks the seq rules the scanner enforces.
func TestScanLogOrder(t *testing.T) {
	u := func(seq uint64) record { return record{Seq: seq, Op: opUserPut, ID: "u"} }
	m := func(seq uint64) record {
		return record{Seq: seq, Op: opMsg, ID: fmt.Sprint("m", seq), Users: []string{"u"}, Message: json.RawMessage(`1`), Expires: 1}
	}
	snap := func(upto uint64) record { return record{Op: opSnapshot, Upto: upto} }
	cases := []struct {
		name    string
		recs    []record
		ok      bool
		lastSeq uint64
	}{
		{"ascending", []record{u(1), u(2), u(3)}, true, 3},
		{"gap: a lost record", []record{u(1), u(2), u(5), u(6)}, false, 0},
		{"mark jumps ahead", []record{u(1), {Seq: 9, Op: opMark}, u(10)}, true, 10},
		{"mark going back", []record{u(1), u(2), {Seq: 2, Op: opMark}, u(3)}, false, 0},
		{"duplicate seq", []record{u(1), u(2), u(2), u(3)}, false, 0},
		{"going back", []record{u(1), u(3), u(2), u(4)}, false, 0},
		{"seq 0 outside a snapshot", []record{u(1), u(0), u(2)}, false, 0},
		{"snapshot", []record{snap(10), u(0), m(3), m(7), u(11)}, true, 11},
		{"snapshot only", []record{snap(10), u(0)}, true, 10},
		{"snapshot msgs out of order", []record{snap(10), m(7), m(3), u(11)}, false, 0},
		{"snapshot msg seq 0", []record{snap(10), m(0), u(11)}, false, 0},
		{"tail at or below upto", []record{snap(10), m(3), u(10), u(11)}, false, 0},
		{"snapshot not first", []record{u(1), snap(10), u(11)}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := scanLog(bytes.NewReader(frame(t, c.recs...)), "log", nil)
			if c.ok {
				if err != nil || res.torn != nil || res.records != len(c.recs) || res.lastSeq != c.lastSeq {
					t.Fatalf("got %v, torn %v, %d records, last seq %d; want all %d records, last seq %d",
						err, res.torn, res.records, res.lastSeq, len(c.recs), c.lastSeq)
				}
				return
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (torn %v, %d records), want *CorruptError", err, res.torn, res.records)
			}
		})
	}
}

// The hand-written encoding of a new message record is byte for byte
// encoding/json's, or steps aside.
func TestAppendMsgBodyMatchesEncodingJSON(t *testing.T) {
	body := json.RawMessage(`{"text":"a <b> & \"c\"","n":[1,2]}`)
	for _, tc := range []struct {
		r    record
		fast bool // encoded by appendMsgBody, not handed to encoding/json
	}{
		{record{Op: opMsg, ID: "m1", Users: []string{"u1"}, Message: body}, true},
		{record{Op: opMsg, ID: "m1", Users: []string{"u1", "u2", "u3"}, Event: "build", Key: "k-1", Message: body}, true},
		{record{Op: opMsg, ID: "m1", Users: []string{"ü"}, Message: body}, false},
		{record{Op: opMsg, ID: "m1", Users: []string{"u1"}, Key: "a\"b", Message: body}, false},
		{record{Op: opMsg, ID: "m1", Users: []string{"u1"}, Event: "e\u2028", Message: body}, false},
		{record{Op: opMsg, ID: "m1", Users: []string{"u1"}, Message: json.RawMessage("{\n}")}, false},
		{record{Op: opMsg, ID: "m1", Message: json.RawMessage(`1`)}, true},
	} {
		r := tc.r
		if _, ok := appendMsgBody(nil, &r); ok != tc.fast {
			t.Errorf("%+v: appendMsgBody ok = %v, want %v", r, ok, tc.fast)
		}
		fast, err := encodeBody(&r)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}); !bytes.Equal(fast, want) {
			t.Errorf("%+v:\n got %s\nwant %s", r, fast, want)
		}
	}
}

func FuzzAppendMsgBody(f *testing.F) {
	f.Add("m1", "u1", "u2", "message", "", []byte(`{"a":1}`))
	f.Add("m\"", "ü", "u\u2028", "e<>", "k\\", []byte(`"x"`))
	f.Fuzz(func(t *testing.T, id, u1, u2, event, key string, msg []byte) {
		if !json.Valid(msg) {
			return
		}
		var c bytes.Buffer
		json.Compact(&c, msg)
		r := record{Op: opMsg, ID: id, Users: []string{u1, u2}, Event: event, Key: key, Message: c.Bytes()}
		fast, ok := appendMsgBody(nil, &r)
		if !ok {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&r); err != nil {
			return
		}
		if want := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}); !bytes.Equal(fast, want) {
			t.Fatalf("got %s\nwant %s", fast, want)
		}
	})
}
