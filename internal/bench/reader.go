//go:build !rtchub_nobench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

type reader struct {
	conn      net.Conn
	br        *bufio.Reader
	ready     chan struct{}
	readyOnce sync.Once

	mu        sync.Mutex
	seen      []uint64 // bitset of message numbers
	delivered int64
	dups      int64
	lat       []time.Duration
	last      time.Time
	eof       bool
	lastID    []byte // the last id: field, for Last-Event-ID

	// onData, if set, sees each data line with its event's name (the
	// ack scenario).
	onData func(event, line []byte)
}

func dialStream(ctx context.Context, base, token string) (net.Conn, error) {
	return dialStreamFrom(ctx, base, token, "")
}

// dialStreamFrom sends a stream request, with Last-Event-ID when lastID
// is set.
func dialStreamFrom(ctx context.Context, base, token, lastID string) (net.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	resume := ""
	if lastID != "" {
		resume = "Last-Event-ID: " + lastID + "\r\n"
	}
	fmt.Fprintf(conn, "GET %s/sse?token=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s\r\n", strings.TrimRight(u.Path, "/"), url.QueryEscape(token), u.Host, resume)
	return conn, nil
}

func openStream(ctx context.Context, base, token, lastID string, notifies int) (*reader, error) {
	conn, br, err := dialReady(ctx, base, token, lastID)
	if err != nil {
		return nil, err
	}
	return &reader{conn: conn, br: br, ready: make(chan struct{}), seen: make([]uint64, (notifies+63)/64)}, nil
}

// dialReady opens a stream and reads its response head.
func dialReady(ctx context.Context, base, token, lastID string) (net.Conn, *bufio.Reader, error) {
	conn, err := dialStreamFrom(ctx, base, token, lastID)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, nil, fmt.Errorf("stream refused: %q %v", strings.TrimSpace(status), err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	conn.SetReadDeadline(time.Time{})
	return conn, br, nil
}

// drop closes the reader's connection: its loop ends as if the hub had
// closed it.
func (r *reader) drop() {
	r.mu.Lock()
	r.conn.Close()
	r.mu.Unlock()
}

// reopen gives the reader a new connection for its next loop.
func (r *reader) reopen(conn net.Conn, br *bufio.Reader) {
	r.mu.Lock()
	r.conn, r.br, r.eof = conn, br, false
	r.mu.Unlock()
}

// lastEventID is the last id: the stream had.
func (r *reader) lastEventID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.lastID)
}

var msgKey = []byte(`"message":{"n":`)

func (r *reader) loop() {
	readyOnce := func() { r.readyOnce.Do(func() { close(r.ready) }) }
	defer readyOnce()
	r.mu.Lock()
	br := r.br
	r.mu.Unlock()
	// An event counts, and its id becomes the resume point, at the blank
	// line that ends it, as EventSource dispatches: a connection that ends
	// mid-event resumes from the event before.
	var event, data, id []byte
	hasID := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			r.mu.Lock()
			r.eof = true
			r.mu.Unlock()
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("retry:")):
			readyOnce()
		case bytes.HasPrefix(line, []byte("id: ")):
			id = append(id[:0], bytes.TrimRight(line[4:], "\r\n")...)
			hasID = true
		case bytes.HasPrefix(line, []byte("event: ")):
			event = append(event[:0], bytes.TrimRight(line[7:], "\r\n")...)
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data[:0], line...)
		case len(bytes.TrimRight(line, "\r\n")) == 0:
			if hasID {
				r.mu.Lock()
				r.lastID = append(r.lastID[:0], id...)
				r.mu.Unlock()
			}
			if len(data) > 0 {
				r.dispatch(event, data)
			}
			event, data, hasID = event[:0], data[:0], false
		}
	}
}

// dispatch handles one whole event: the hook sees it, and a bench message
// is counted (once per number), with its latency.
func (r *reader) dispatch(event, line []byte) {
	if r.onData != nil {
		r.onData(event, line)
	}
	now := time.Now()
	i := bytes.Index(line, msgKey)
	if i < 0 {
		return
	}
	rest := line[i+len(msgKey):]
	n, rest := parseInt(rest)
	t := int64(0)
	if bytes.HasPrefix(rest, []byte(`,"t":`)) {
		t, _ = parseInt(rest[5:])
	}
	r.mu.Lock()
	r.delivered++
	if n >= 0 && int(n/64) < len(r.seen) {
		bit := uint64(1) << (n % 64)
		if r.seen[n/64]&bit != 0 {
			r.dups++
		}
		r.seen[n/64] |= bit
	}
	if t > 0 {
		r.lat = append(r.lat, now.Sub(time.Unix(0, t)))
	}
	r.last = now
	r.mu.Unlock()
}

func parseInt(b []byte) (int64, []byte) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	v, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return -1, b[i:]
	}
	return v, b[i:]
}

func closeAll(rs []*reader) {
	for _, r := range rs {
		if r != nil {
			r.drop()
		}
	}
}

func sumDelivered(rs []*reader) int64 {
	var n int64
	for _, r := range rs {
		r.mu.Lock()
		n += r.delivered - r.dups
		r.mu.Unlock()
	}
	return n
}
