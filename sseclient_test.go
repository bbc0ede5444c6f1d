package main

// A small EventSource for the tests, standard library only. It parses the
// WHATWG event-stream format (https://html.spec.whatwg.org/multipage/
// server-sent-events.html#event-stream-interpretation) and hands every
// dispatched event, every comment and every retry field to the test, in
// wire order.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sseKind says what an sseItem is.
type sseKind int

const (
	sseEvent   sseKind = iota // a dispatched event
	sseComment                // a line starting with ':'
	sseRetry                  // a valid retry field
)

// sseItem is one thing a client saw on the stream.
type sseItem struct {
	Kind    sseKind
	ID      string // the last event ID buffer at dispatch (events)
	HasID   bool   // an id field was part of this event
	Event   string // event type; "message" when no event field
	Data    string // data lines joined with \n
	Retry   int    // milliseconds (retry)
	Comment string // text after ':' (comments), leading space kept
}

// sseClient is one open (or refused) stream.
type sseClient struct {
	Status int
	Header http.Header
	Body   []byte // the whole body of a non-200 answer

	items  chan sseItem
	done   chan struct{} // closed at EOF or read error
	cancel context.CancelFunc

	mu          sync.Mutex
	err         error // nil for a clean EOF
	raw         bytes.Buffer
	lastEventID string
}

type sseOpt func(*http.Request)

// withHeader sets a request header (Last-Event-ID, Authorization, Origin).
func withHeader(k, v string) sseOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// withQuery adds a query parameter.
func withQuery(k, v string) sseOpt {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set(k, v)
		r.URL.RawQuery = q.Encode()
	}
}

// dialSSE opens GET base+/sse with ?token=token (none if token is empty).
// The stream is closed at the end of the test.
func dialSSE(t testing.TB, base, token string, opts ...sseOpt) *sseClient {
	t.Helper()
	u := base + "/sse"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		cancel()
		t.Fatalf("sse request: %v", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	for _, o := range opts {
		o(req)
	}
	// No client timeout: a stream lives long. The guard is the header wait.
	hc := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 4 * guard, DisableKeepAlives: true}}
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /sse: %v", err)
	}
	c := &sseClient{
		Status: res.StatusCode, Header: res.Header,
		items: make(chan sseItem, 1<<16), done: make(chan struct{}), cancel: cancel,
	}
	t.Cleanup(c.Close)
	if res.StatusCode != http.StatusOK {
		c.Body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		close(c.done)
		return c
	}
	go c.read(res.Body)
	return c
}

// Close ends the client's side of the stream.
func (c *sseClient) Close() { c.cancel() }

// Done is closed when the stream has ended (EOF or error).
func (c *sseClient) Done() <-chan struct{} { return c.done }

// Err is the read error that ended the stream, nil for a clean EOF.
func (c *sseClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Raw returns every body byte read so far.
func (c *sseClient) Raw() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw.Bytes())
}

type teeReader struct {
	r io.Reader
	c *sseClient
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.c.mu.Lock()
		t.c.raw.Write(p[:n])
		t.c.mu.Unlock()
	}
	return n, err
}

// read parses the stream until it ends.
func (c *sseClient) read(body io.ReadCloser) {
	defer body.Close()
	br := bufio.NewReader(teeReader{body, c})
	var (
		line    []byte
		skipLF  bool
		data    strings.Builder
		hasData bool
		event   string
		hasID   bool
		first   = true
	)
	process := func(l string) {
		if first {
			first = false
			l = strings.TrimPrefix(l, "\uFEFF")
		}
		if l == "" { // dispatch
			if hasData {
				d := data.String()
				d = strings.TrimSuffix(d, "\n")
				typ := event
				if typ == "" {
					typ = "message"
				}
				c.items <- sseItem{Kind: sseEvent, ID: c.lastEventID, HasID: hasID, Event: typ, Data: d}
			}
			data.Reset()
			hasData, event, hasID = false, "", false
			return
		}
		if l[0] == ':' {
			c.items <- sseItem{Kind: sseComment, Comment: l[1:]}
			return
		}
		field, value := l, ""
		if i := strings.IndexByte(l, ':'); i >= 0 {
			field, value = l[:i], l[i+1:]
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			event = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				c.lastEventID = value
				hasID = true
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				n, _ := strconv.Atoi(value)
				c.items <- sseItem{Kind: sseRetry, Retry: n}
			}
		}
	}
	var err error
	for {
		var b byte
		b, err = br.ReadByte()
		if err != nil {
			break
		}
		if skipLF {
			skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			skipLF = true
			process(string(line))
			line = line[:0]
		case '\n':
			process(string(line))
			line = line[:0]
		default:
			line = append(line, b)
		}
	}
	// An incomplete event at EOF is discarded, as a browser does.
	c.mu.Lock()
	if err != io.EOF {
		c.err = err
	}
	c.mu.Unlock()
	close(c.done)
}

// nextItem returns the next item of any kind, failing the test after
// timeout or if the stream ends first.
func (c *sseClient) nextItem(t testing.TB, timeout time.Duration) sseItem {
	t.Helper()
	return c.nextMatching(t, timeout, func(sseItem) bool { return true })
}

// next returns the next event, skipping comments and retry fields.
func (c *sseClient) next(t testing.TB, timeout time.Duration) sseItem {
	t.Helper()
	return c.nextMatching(t, timeout, func(it sseItem) bool { return it.Kind == sseEvent })
}

func (c *sseClient) nextMatching(t testing.TB, timeout time.Duration, ok func(sseItem) bool) sseItem {
	t.Helper()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case it := <-c.items:
			if ok(it) {
				return it
			}
			continue
		case <-tm.C:
			t.Fatalf("sse: nothing received within %v", timeout)
		case <-c.done:
		}
		// The stream ended; items may still be buffered.
		for {
			select {
			case it := <-c.items:
				if ok(it) {
					return it
				}
				continue
			default:
			}
			break
		}
		t.Fatalf("sse: stream ended (err %v) while waiting; raw so far:\n%s", c.Err(), truncate(c.Raw(), 2000))
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// waitEOF fails unless the server ends the stream within timeout. Events
// still unread are returned.
func (c *sseClient) waitEOF(t testing.TB, timeout time.Duration) []sseItem {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		t.Fatalf("sse: stream still open after %v, want it closed by the server", timeout)
	}
	var rest []sseItem
	for {
		select {
		case it := <-c.items:
			if it.Kind == sseEvent {
				rest = append(rest, it)
			}
		default:
			if err := c.Err(); err != nil {
				t.Errorf("sse: stream ended with error %v, want a clean EOF", err)
			}
			return rest
		}
	}
}

// TestSSEClientParser checks the test client itself against a hand-made
// stream that uses every corner of the format.
func TestSSEClientParser(t *testing.T) {
	t.Parallel()
	stream := "\uFEFFretry: 1234\n\n" +
		": ping\r\n" +
		"id: 7\r\nevent: custom\r\ndata: a\r\ndata:b\r\ndata:  c\r\n\r\n" +
		"data: only\r\r" + // CR line endings
		"id\ndata\n\n" + // field with no colon: empty id, empty data line
		"event: ignored-without-data\n\n" +
		"retry: x1\n" + // invalid retry: ignored
		"data: tail\n" // incomplete at EOF: discarded
	srv := newRawServer(t, stream)
	c := dialSSE(t, srv, "")
	if c.Status != 200 {
		t.Fatalf("status %d", c.Status)
	}
	want := []sseItem{
		{Kind: sseRetry, Retry: 1234},
		{Kind: sseComment, Comment: " ping"},
		{Kind: sseEvent, ID: "7", HasID: true, Event: "custom", Data: "a\nb\n c"},
		{Kind: sseEvent, ID: "7", Event: "message", Data: "only"},
		{Kind: sseEvent, ID: "", HasID: true, Event: "message", Data: ""},
	}
	for i, w := range want {
		if got := c.nextItem(t, guard); got != w {
			t.Errorf("item %d: got %+v, want %+v", i, got, w)
		}
	}
	if rest := c.waitEOF(t, guard); len(rest) != 0 {
		t.Errorf("after EOF: %+v, want nothing", rest)
	}
}

// newRawServer serves body as an event stream on GET /sse.
func newRawServer(t testing.TB, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
