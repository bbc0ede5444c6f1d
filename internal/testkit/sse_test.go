package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestParse checks the tests' parser on the spec's examples, whole and fed
// one byte at a time (a line break split across reads included).
func TestParse(t *testing.T) {
	ev := func(id, typ, data string) Item {
		return Item{Kind: KindEvent, ID: id, HasID: id != "", Event: typ, Data: data}
	}
	tests := []struct {
		in   string
		want []Item
	}{
		{"data: a\n\n", []Item{ev("", "message", "a")}},
		{"data:a\r\n\r\n", []Item{ev("", "message", "a")}},
		{"data: a\r\rdata: b\r\r", []Item{ev("", "message", "a"), ev("", "message", "b")}},
		{"data\n\n", []Item{ev("", "message", "")}},
		{"data\ndata\n\n", []Item{ev("", "message", "\n")}},
		{"data:  two spaces\n\n", []Item{ev("", "message", " two spaces")}},
		{"data: YHOO\ndata: +2\ndata: 10\n\n", []Item{ev("", "message", "YHOO\n+2\n10")}},
		{": comment\nid: 7\nevent: add\ndata: x\n\nevent: no data\n\ndata: y\n\n", []Item{ev("7", "add", "x"), {Kind: KindEvent, ID: "7", Event: "message", Data: "y"}}},
		{"\uFEFFdata: bom\n\n", []Item{ev("", "message", "bom")}},
		{"id: 1\x00\ndata: x\n\n", []Item{ev("", "message", "x")}},
		{"data: unterminated\n", nil},
		{"data: not dispatched", nil},
		{"dat: a\ndata: b\nevent:\n\n", []Item{ev("", "message", "b")}},
	}
	for _, tc := range tests {
		whole := Parse([]byte(tc.in)).Events
		var p Parser
		var bytewise []Item
		for i := range len(tc.in) {
			p.Feed([]byte(tc.in[i:i+1]), func(it Item) {
				if it.Kind == KindEvent {
					bytewise = append(bytewise, it)
				}
			})
		}
		for name, got := range map[string][]Item{"whole": whole, "byte by byte": bytewise} {
			if len(got) != len(tc.want) {
				t.Errorf("%q (%s): %d events %+v, want %+v", tc.in, name, len(got), got, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%q (%s): event %d = %+v, want %+v", tc.in, name, i, got[i], tc.want[i])
				}
			}
		}
	}
	if p := Parse([]byte("retry: 2000\n\nretry: x1\n\n")); p.Retry != 2000 {
		t.Errorf("retry = %d", p.Retry)
	}
	if p := Parse([]byte("data: a\n")); !p.Pending {
		t.Error("a field line without its blank line is not pending")
	}
}

// TestStream checks the test EventSource against a hand-made stream that
// uses every corner of the format.
func TestStream(t *testing.T) {
	t.Parallel()
	stream := "\uFEFFretry: 1234\n\n" +
		": ping\r\n" +
		"id: 7\r\nevent: custom\r\ndata: a\r\ndata:b\r\ndata:  c\r\n\r\n" +
		"data: only\r\r" + // CR line endings
		"id\ndata\n\n" + // field with no colon: empty id, empty data line
		"event: ignored-without-data\n\n" +
		"retry: x1\n" + // invalid retry: ignored
		"data: tail\n" // incomplete at EOF: discarded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	t.Cleanup(srv.Close)
	c := DialSSE(t, srv.URL, "")
	if c.Status != 200 {
		t.Fatalf("status %d", c.Status)
	}
	want := []Item{
		{Kind: KindRetry, Retry: 1234},
		{Kind: KindComment, Comment: " ping"},
		{Kind: KindEvent, ID: "7", HasID: true, Event: "custom", Data: "a\nb\n c"},
		{Kind: KindEvent, ID: "7", Event: "message", Data: "only"},
		{Kind: KindEvent, ID: "", HasID: true, Event: "message", Data: ""},
	}
	for i, w := range want {
		if got := c.NextItem(t, Guard); got != w {
			t.Errorf("item %d: got %+v, want %+v", i, got, w)
		}
	}
	if rest := c.WaitEOF(t, Guard); len(rest) != 0 {
		t.Errorf("after EOF: %+v, want nothing", rest)
	}
	if p := c.Parsed(); len(p.Events) != 3 || p.Retry != 1234 || !p.Pending {
		t.Errorf("Parsed: %d events, retry %d, pending %v", len(p.Events), p.Retry, p.Pending)
	}
}
