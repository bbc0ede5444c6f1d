package sse_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"rtchub/api"
	"rtchub/internal/httpx"
	"rtchub/internal/testkit"
	"rtchub/sse"
	"rtchub/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the code (then review the diff)")

func goldenMessage() *store.Message {
	return &store.Message{
		ID:      "5f0c1e2d3a4b5c6d7e8f9012",
		Seq:     42,
		Event:   "chat.new",
		Body:    json.RawMessage("{\"text\":\"line1\\nline2\\r\\n \\\"q\\\" \\\\ \u2028 \u2029 <b>&\",\"n\":[1,2.5e-7,null,true,-0,18446744073709551615],\"e\":{}}"),
		Created: time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC).UnixMilli(),
	}
}

func TestAppendFrameGolden(t *testing.T) {
	m := goldenMessage()
	got := sse.AppendFrame(nil, m)
	path := filepath.Join("testdata", "frame.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame:\n got %q\nwant %q", got, want)
	}
	// It appends: what dst held stays in front.
	prefix := []byte("retry: 2000\n\n")
	if got2 := sse.AppendFrame(append([]byte(nil), prefix...), m); !bytes.Equal(got2, append(prefix, want...)) {
		t.Fatalf("AppendFrame with a prefix: %q", got2)
	}
	checkFrame(t, got, m)

	// A time zone of the message never shows: created_at is UTC.
	m.Created = time.Date(2025, 1, 2, 5, 4, 5, 0, time.FixedZone("X", 2*3600)).UnixMilli()
	if f := sse.AppendFrame(nil, m); !bytes.Contains(f, []byte(`"created_at":"2025-01-02T03:04:05.000Z"`)) {
		t.Errorf("created_at not UTC with milliseconds: %q", f)
	}
}

type frameData struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Message   json.RawMessage `json:"message"`
	CreatedAt string          `json:"created_at"`
}

// checkFrame asserts that a conformant EventSource reads frame as exactly
// one event with id == seq, event == name and one line of data holding the
// JSON object of the message.
func checkFrame(t *testing.T, frame []byte, m *store.Message) {
	t.Helper()
	p := testkit.Parse(frame)
	if len(p.Events) != 1 || p.Pending || len(p.Comments) != 0 {
		t.Fatalf("frame parses to %d events (pending %v, comments %q), want exactly 1: %q", len(p.Events), p.Pending, p.Comments, frame)
	}
	ev := p.Events[0]
	if ev.ID != strconv.FormatUint(m.Seq, 10) {
		t.Fatalf("event id %q, want %d", ev.ID, m.Seq)
	}
	if ev.Event != m.Event {
		t.Fatalf("event type %q, want %q", ev.Event, m.Event)
	}
	if strings.ContainsAny(ev.Data, "\r\n") {
		t.Fatalf("data spans lines: %q", ev.Data)
	}
	dec := json.NewDecoder(strings.NewReader(ev.Data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var d frameData
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("data is not the JSON object (%v): %q", err, ev.Data)
	}
	if dec.More() {
		t.Fatalf("data has more than one JSON value: %q", ev.Data)
	}
	if d.ID != m.ID || d.Seq != m.Seq {
		t.Fatalf("data id/seq = %q/%d, want %q/%d", d.ID, d.Seq, m.ID, m.Seq)
	}
	if !bytes.Equal(d.Message, m.Body) {
		t.Fatalf("data message %s, want %s", d.Message, m.Body)
	}
	// (Byte-equal is the check; not decoding into Go values, which
	// refuse numbers like 1E700 that JSON and JavaScript accept.)
	ct, err := time.Parse(time.RFC3339Nano, d.CreatedAt)
	if err != nil || !ct.Equal(time.UnixMilli(m.Created)) {
		t.Fatalf("created_at %q (%v), want %v", d.CreatedAt, err, time.UnixMilli(m.Created).UTC())
	}
	if _, err := time.Parse(httpx.TimeFormat, d.CreatedAt); err != nil {
		t.Fatalf("created_at %q not in the API's format: %v", d.CreatedAt, err)
	}
}

// ---- random JSON with hostile strings, encoded by hand ----

var nasty = []string{"\n", "\r", "\r\n", "\u2028", "\u2029", "\u0085", `"`, `\`, "\x00", "\x1f", "\x7f", "data: x", "\n\nid: 9\n", ":", " ", "é", "😀", "\uFEFF", "</script>", "a", "Z", "0"}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(nasty[r.IntN(len(nasty))])
	}
	return b.String()
}

// appendJSONString escapes only what JSON requires (quote, backslash,
// control characters), leaving U+2028 and friends raw.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func appendRandJSON(dst []byte, r *rand.Rand, depth int) []byte {
	k := r.IntN(8)
	if depth > 3 && k >= 6 {
		k = r.IntN(6)
	}
	switch k {
	case 0:
		return append(dst, "null"...)
	case 1:
		return strconv.AppendBool(dst, r.IntN(2) == 0)
	case 2:
		return strconv.AppendInt(dst, r.Int64()-math.MaxInt64/2, 10)
	case 3:
		return strconv.AppendFloat(dst, r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)), 'g', -1, 64)
	case 4, 5:
		return appendJSONString(dst, randString(r))
	case 6:
		dst = append(dst, '[')
		for i := range r.IntN(4) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendRandJSON(dst, r, depth+1)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		for i := range r.IntN(4) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, randString(r))
			dst = append(dst, ':')
			dst = appendRandJSON(dst, r, depth+1)
		}
		return append(dst, '}')
	}
}

const eventAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:"

func randMessage(r *rand.Rand) *store.Message {
	var id [12]byte
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	ev := make([]byte, 1+r.IntN(64))
	for i := range ev {
		ev[i] = eventAlphabet[r.IntN(len(eventAlphabet))]
	}
	seq := r.Uint64()
	switch r.IntN(4) {
	case 0:
		seq = uint64(r.IntN(1000))
	case 1:
		seq = math.MaxUint64 - uint64(r.IntN(3))
	}
	return &store.Message{
		ID:      hex.EncodeToString(id[:]),
		Seq:     seq,
		Event:   string(ev),
		Body:    appendRandJSON(nil, r, 0),
		Created: r.Int64N(253402300799999), // 1970 .. 9999
	}
}

func TestFrameProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var stream []byte
	var msgs []*store.Message
	stream = append(stream, "retry: 2000\n\n"...)
	for i := range 3000 {
		m := randMessage(r)
		if !json.Valid(m.Body) || !utf8.Valid(m.Body) {
			t.Fatalf("generator made invalid JSON: %q", m.Body)
		}
		if !api.ValidEvent(m.Event) {
			t.Fatalf("generator made an invalid event name %q", m.Event)
		}
		f := sse.AppendFrame(nil, m)
		checkFrame(t, f, m)
		if i < 200 {
			stream = sse.AppendFrame(stream, m)
			msgs = append(msgs, m)
			if i%7 == 0 {
				stream = append(stream, ": ping\n\n"...)
			}
		}
	}
	// Frames back to back, with pings between, are the same events in order.
	p := testkit.Parse(stream)
	if p.Retry != 2000 || len(p.Events) != len(msgs) || p.Pending {
		t.Fatalf("stream: retry %d, %d events (pending %v), want %d", p.Retry, len(p.Events), p.Pending, len(msgs))
	}
	for i, ev := range p.Events {
		if ev.ID != strconv.FormatUint(msgs[i].Seq, 10) || ev.Event != msgs[i].Event {
			t.Fatalf("event %d = %q/%q, want %d/%q", i, ev.ID, ev.Event, msgs[i].Seq, msgs[i].Event)
		}
	}
}

func FuzzFrame(f *testing.F) {
	f.Add([]byte(`{"text":"hi"}`), uint64(1), "message", int64(0))
	f.Add([]byte("\"a\u2028b\u2029c\""), uint64(math.MaxUint64), "x", int64(1735787045678))
	f.Add([]byte(" [ 1 ,\n\t2 , {\"k\" :\r\n \"\\n\\r\" } ] "), uint64(42), "chat.new", int64(-1))
	f.Add([]byte(`null`), uint64(0), "a b", int64(253402300799999))
	f.Add([]byte("\"\xff\xfe\""), uint64(7), "e\n", int64(5))
	f.Fuzz(func(t *testing.T, body []byte, seq uint64, ev string, created int64) {
		var c bytes.Buffer
		if err := json.Compact(&c, body); err != nil {
			t.Skip()
		}
		if !api.ValidEvent(ev) {
			ev = "message"
		}
		if created < 0 {
			created = -(created + 1)
		}
		created %= 253402300800000 // years 1970..9999, as RFC 3339 allows
		m := &store.Message{ID: fmt.Sprintf("%024x", seq), Seq: seq, Event: ev, Body: c.Bytes(), Created: created}
		frame := sse.AppendFrame(nil, m)
		checkFrame(t, frame, m)
	})
}
