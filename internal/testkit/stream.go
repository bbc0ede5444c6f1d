package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Stream is one GET of an event stream, read in the background and parsed
// by a Parser: what a test's EventSource sees, item by item, and every byte
// of it.
type Stream struct {
	Status int
	Header http.Header
	Body   []byte // the whole body of a non-200 answer

	items  chan Item
	done   chan struct{} // closed at EOF or read error
	cancel context.CancelFunc

	mu      sync.Mutex
	err     error // nil for a clean EOF
	raw     bytes.Buffer
	changed chan struct{} // closed and replaced when raw grows or the stream ends
}

// StreamOpt changes the request of a Stream.
type StreamOpt func(*http.Request)

// WithHeader sets a request header (Last-Event-ID, Authorization, Origin).
func WithHeader(k, v string) StreamOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// WithQuery adds a query parameter.
func WithQuery(k, v string) StreamOpt {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set(k, v)
		r.URL.RawQuery = q.Encode()
	}
}

// DialSSE opens GET base+/sse with ?token=token (none if token is empty).
func DialSSE(tb testing.TB, base, token string, opts ...StreamOpt) *Stream {
	tb.Helper()
	u := base + "/sse"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return Open(tb, u, append([]StreamOpt{WithHeader("Accept", "text/event-stream"), WithHeader("Cache-Control", "no-cache")}, opts...)...)
}

// Open starts GET rawURL and, on 200, reads the body in the background.
// The stream is closed at the end of the test.
func Open(tb testing.TB, rawURL string, opts ...StreamOpt) *Stream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		cancel()
		tb.Fatalf("stream request: %v", err)
	}
	for _, o := range opts {
		o(req)
	}
	// No client timeout: a stream lives long. The guard is the header wait.
	hc := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 4 * Guard, DisableKeepAlives: true}}
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("GET %s: %v", req.URL.Path, err)
	}
	s := &Stream{
		Status: res.StatusCode, Header: res.Header,
		items: make(chan Item, 1<<16), done: make(chan struct{}), cancel: cancel,
		changed: make(chan struct{}),
	}
	tb.Cleanup(s.Close)
	if res.StatusCode != http.StatusOK {
		s.Body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		close(s.done)
		return s
	}
	go s.read(res.Body)
	return s
}

// Close ends the client's side of the stream.
func (s *Stream) Close() { s.cancel() }

// Done is closed when the stream has ended (EOF or error).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err is the read error that ended the stream, nil for a clean EOF.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Raw returns every body byte read so far.
func (s *Stream) Raw() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.raw.Bytes())
}

// Parsed is everything read so far as an EventSource interprets it.
func (s *Stream) Parsed() Parsed { return Parse(s.Raw()) }

func (s *Stream) read(body io.ReadCloser) {
	defer body.Close()
	var p Parser
	emit := func(it Item) { s.items <- it }
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.raw.Write(buf[:n])
			s.signal()
			s.mu.Unlock()
			p.Feed(buf[:n], emit)
		}
		if err != nil {
			// An incomplete event at EOF is discarded, as a browser does.
			s.mu.Lock()
			if err != io.EOF {
				s.err = err
			}
			s.signal()
			s.mu.Unlock()
			close(s.done)
			return
		}
	}
}

// signal wakes WaitFor; s.mu must be held.
func (s *Stream) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// NextItem returns the next item of any kind, failing the test after
// timeout or if the stream ends first.
func (s *Stream) NextItem(tb testing.TB, timeout time.Duration) Item {
	tb.Helper()
	return s.NextMatching(tb, timeout, func(Item) bool { return true })
}

// Next returns the next event, skipping comments and retry fields.
func (s *Stream) Next(tb testing.TB, timeout time.Duration) Item {
	tb.Helper()
	return s.NextMatching(tb, timeout, func(it Item) bool { return it.Kind == KindEvent })
}

// NextMatching returns the next item for which ok holds.
func (s *Stream) NextMatching(tb testing.TB, timeout time.Duration, ok func(Item) bool) Item {
	tb.Helper()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case it := <-s.items:
			if ok(it) {
				return it
			}
		case <-tm.C:
			tb.Fatalf("sse: nothing received within %v; raw so far:\n%s", timeout, truncate(s.Raw(), 2000))
		case <-s.done:
			// The stream ended; items may still be buffered.
			if it, found := s.buffered(ok); found {
				return it
			}
			tb.Fatalf("sse: stream ended (err %v) while waiting; raw so far:\n%s", s.Err(), truncate(s.Raw(), 2000))
		}
	}
}

// buffered returns the first of the items received but not yet read for
// which ok holds, reading those before it.
func (s *Stream) buffered(ok func(Item) bool) (Item, bool) {
	for {
		select {
		case it := <-s.items:
			if ok(it) {
				return it, true
			}
		default:
			return Item{}, false
		}
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// WaitEOF fails unless the server ends the stream cleanly within timeout.
// Events still unread are returned.
func (s *Stream) WaitEOF(tb testing.TB, timeout time.Duration) []Item {
	tb.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		tb.Fatalf("sse: stream still open after %v, want it closed by the server", timeout)
	}
	var rest []Item
	for {
		select {
		case it := <-s.items:
			if it.Kind == KindEvent {
				rest = append(rest, it)
			}
		default:
			if err := s.Err(); err != nil {
				tb.Errorf("sse: stream ended with error %v, want a clean EOF", err)
			}
			return rest
		}
	}
}

// WaitFor waits until cond holds for everything read so far (done tells
// whether the stream has ended), failing after Guard or if the stream ends
// first; it returns what was read then.
func (s *Stream) WaitFor(tb testing.TB, what string, cond func(p Parsed, done bool) bool) Parsed {
	tb.Helper()
	timer := time.NewTimer(Guard)
	defer timer.Stop()
	for {
		done := false // checked first: every byte is read before done closes
		select {
		case <-s.done:
			done = true
		default:
		}
		s.mu.Lock()
		raw, ch := bytes.Clone(s.raw.Bytes()), s.changed
		s.mu.Unlock()
		p := Parse(raw)
		if cond(p, done) {
			return p
		}
		if done {
			tb.Fatalf("stream ended (%v) before %s; got %q", s.Err(), what, raw)
		}
		select {
		case <-ch:
		case <-s.done:
		case <-timer.C:
			tb.Fatalf("timed out waiting for %s; got %q", what, raw)
		}
	}
}

// WaitEvents waits for at least n events and returns all read so far.
func (s *Stream) WaitEvents(tb testing.TB, n int) []Item {
	tb.Helper()
	return s.WaitFor(tb, "events", func(p Parsed, _ bool) bool { return len(p.Events) >= n }).Events
}

// WaitEnd waits for a clean end of the stream and returns all it held.
func (s *Stream) WaitEnd(tb testing.TB) Parsed {
	tb.Helper()
	p := s.WaitFor(tb, "end of stream", func(_ Parsed, done bool) bool { return done })
	if err := s.Err(); err != nil {
		tb.Fatalf("stream ended with %v, want a clean end", err)
	}
	return p
}

// Resp is a refused stream's answer as a Resp.
func (s *Stream) Resp() Resp { return Resp{s.Status, s.Header, s.Body} }
