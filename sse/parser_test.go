package sse_test

import (
	"bytes"
	"strconv"
	"testing"
)

// event is one dispatched Server-Sent Event.
type event struct {
	ID   string // the last event ID at dispatch
	Type string
	Data string
}

// parsed is what a conformant EventSource makes of a byte stream.
type parsed struct {
	Events   []event
	Comments []string
	Retry    int  // last valid retry: value in ms, -1 if none
	Pending  bool // a field line was read but its event not yet dispatched
}

// parseSSE interprets b as the WHATWG HTML "event stream interpretation"
// does: an optional leading U+FEFF is dropped; lines end at CRLF, LF or CR;
// a line that is not ended yet is ignored; an empty line dispatches; a line
// starting with ':' is a comment; otherwise the field name runs to the first
// ':' and the value follows with one leading space removed (a line without
// ':' is a field with an empty value). data appends value+LF, event sets the
// type, id sets the last event ID unless it contains NUL, retry takes ASCII
// digits only; other fields are ignored. On dispatch an empty data buffer
// dispatches nothing; a final LF is removed; the type defaults to "message".
func parseSSE(b []byte) parsed {
	out := parsed{Retry: -1}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	var data bytes.Buffer
	var typ, lastID string
	haveData := false
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			break // an unterminated line waits for more input
		}
		line := b[:i]
		// A CR ends the line; an LF right after it belongs to the same
		// line break. (This parser always sees the whole stream so far, so
		// a CR at the end of the input is re-read with its LF later.)
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			b = b[i+2:]
		} else {
			b = b[i+1:]
		}
		if len(line) == 0 {
			out.Pending = false
			if !haveData {
				typ = ""
				continue
			}
			d := data.String()
			d = d[:len(d)-1] // drop the final LF
			t := typ
			if t == "" {
				t = "message"
			}
			out.Events = append(out.Events, event{ID: lastID, Type: t, Data: d})
			data.Reset()
			haveData, typ = false, ""
			continue
		}
		if line[0] == ':' {
			out.Comments = append(out.Comments, string(line[1:]))
			continue
		}
		out.Pending = true
		field, value := line, []byte(nil)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
			haveData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				lastID = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && len(value) > 0 && len(bytes.Trim(value, "0123456789")) == 0 {
				out.Retry = n
			}
		}
	}
	return out
}

// TestParseSSE checks the test's own parser on the spec's examples.
func TestParseSSE(t *testing.T) {
	tests := []struct {
		in   string
		want []event
	}{
		{"data: a\n\n", []event{{"", "message", "a"}}},
		{"data:a\r\n\r\n", []event{{"", "message", "a"}}},
		{"data: a\r\rdata: b\r\r", []event{{"", "message", "a"}, {"", "message", "b"}}},
		{"data\n\n", []event{{"", "message", ""}}},
		{"data\ndata\n\n", []event{{"", "message", "\n"}}},
		{"data:  two spaces\n\n", []event{{"", "message", " two spaces"}}},
		{"data: YHOO\ndata: +2\ndata: 10\n\n", []event{{"", "message", "YHOO\n+2\n10"}}},
		{": comment\nid: 7\nevent: add\ndata: x\n\nevent: no data\n\ndata: y\n\n", []event{{"7", "add", "x"}, {"7", "message", "y"}}},
		{"\uFEFFdata: bom\n\n", []event{{"", "message", "bom"}}},
		{"id: 1\x00\ndata: x\n\n", []event{{"", "message", "x"}}},
		{"data: unterminated\n", nil},
		{"data: not dispatched", nil},
		{"dat: a\ndata: b\nevent:\n\n", []event{{"", "message", "b"}}},
	}
	for _, tc := range tests {
		got := parseSSE([]byte(tc.in)).Events
		if len(got) != len(tc.want) {
			t.Errorf("%q: %d events %+v, want %+v", tc.in, len(got), got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: event %d = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
	if p := parseSSE([]byte("retry: 2000\n\nretry: x1\n\n")); p.Retry != 2000 {
		t.Errorf("retry = %d", p.Retry)
	}
}
