package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSlowClient: a stream whose reader stalls is cut when its bounded
// queue fills; other clients get everything; the stalled client's next
// connection replays what it missed.
func TestSlowClient(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), "--queue-len", "8")
	h.putUser(t, "slow")
	h.putUser(t, "fast")
	slowTok := h.userToken(t, "slow", "")

	// A reader that never reads, with a small receive window.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slow, err := d.Dial("tcp", strings.TrimPrefix(h.SSE, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET /sse?token=%s HTTP/1.1\r\nHost: hub\r\n\r\n", url.QueryEscape(slowTok))
	eventually(t, "the slow stream is open", func() bool { return h.user(t, "slow").Online == 1 })
	fast := dialSSE(t, h.SSE, h.userToken(t, "fast", ""))

	const n = 100
	big := strings.Repeat("x", 60<<10) // 6 MB in all: more than any socket buffer
	var rcs []receipt
	for i := 0; i < n; i++ {
		rcs = append(rcs, h.notify(t, fmt.Sprintf(`{"users":["slow","fast"],"message":{"i":%d,"pad":%q}}`, i, big)))
	}
	for i, rc := range rcs {
		if d := decodeData(t, fast.next(t, guard)); d.ID != rc.ID {
			t.Fatalf("fast reader: message %d is %s, want %s", i, d.ID, rc.ID)
		}
	}
	eventually(t, "the slow stream is cut", func() bool { return h.metric(t, "rtchub_streams_cut_total") >= 1 })
	eventually(t, "the slow user is offline", func() bool { return h.user(t, "slow").Online == 0 })
	// The stalled client, reading at last, finds its stream ended (after
	// whatever was already in flight).
	slow.SetReadDeadline(time.Now().Add(4 * guard))
	if _, err := io.Copy(io.Discard, slow); err != nil {
		t.Errorf("the cut stream did not end cleanly: %v", err)
	}
	// Reconnecting replays everything: nothing was lost.
	c := dialSSE(t, h.SSE, slowTok)
	for i, rc := range rcs {
		if d := decodeData(t, c.next(t, guard)); d.ID != rc.ID {
			t.Fatalf("replay after the cut: message %d is %s, want %s", i, d.ID, rc.ID)
		}
	}
}

// TestLimits checks the stream caps, the pending cap and message ttl.
func TestLimits(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), "--max-streams-per-user", "2", "--max-streams", "3", "--max-pending", "3", "--heartbeat", "1s",
		"--compact-min", "50", "--read-header-timeout", "1s")
	for _, u := range []string{"a", "b", "c", "p", "e"} {
		h.putUser(t, u)
	}

	t.Run("streams per user and in all", func(t *testing.T) {
		ta, tb, tc := h.userToken(t, "a", ""), h.userToken(t, "b", ""), h.userToken(t, "c", "")
		a1, a2 := dialSSE(t, h.SSE, ta), dialSSE(t, h.SSE, ta)
		if a1.Status != 200 || a2.Status != 200 {
			t.Fatalf("two streams: %d, %d", a1.Status, a2.Status)
		}
		a3 := dialSSE(t, h.SSE, ta)
		wantError(t, "third stream of a user (--max-streams-per-user 2)", resp{a3.Status, a3.Header, a3.Body}, 503, "")
		b1 := dialSSE(t, h.SSE, tb)
		if b1.Status != 200 {
			t.Fatalf("b's stream: %d %s", b1.Status, b1.Body)
		}
		c1 := dialSSE(t, h.SSE, tc)
		wantError(t, "fourth stream in all (--max-streams 3)", resp{c1.Status, c1.Header, c1.Body}, 503, "")
		// A closed stream frees its place.
		a1.Close()
		eventually(t, "a's closed stream is noticed", func() bool { return h.user(t, "a").Online == 1 })
		c2 := dialSSE(t, h.SSE, tc)
		if c2.Status != 200 {
			t.Errorf("after a stream closed: %d %s, want 200", c2.Status, c2.Body)
		}
		a2.Close()
		b1.Close()
		c2.Close()
		eventually(t, "all streams closed", func() bool { return h.metric(t, "rtchub_streams_open") == 0 })
	})

	t.Run("max pending drops the oldest", func(t *testing.T) {
		var rcs []receipt
		for i := 0; i < 5; i++ {
			rcs = append(rcs, h.notify(t, map[string]any{"users": []string{"p"}, "message": i}))
		}
		if p := h.user(t, "p").Pending; p != 3 {
			t.Errorf("pending %d, want 3 (--max-pending 3)", p)
		}
		c := dialSSE(t, h.SSE, h.userToken(t, "p", ""))
		for _, rc := range rcs[2:] {
			if d := decodeData(t, c.next(t, guard)); d.ID != rc.ID {
				t.Errorf("got %s (%s), want %s: the newest three, oldest first", d.ID, d.Message, rc.ID)
			}
		}
	})

	t.Run("read-header timeout", func(t *testing.T) {
		// A client that never finishes its request headers is dropped.
		for _, base := range []string{h.API, h.SSE} {
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: hub\r\n")
			conn.SetReadDeadline(time.Now().Add(guard))
			_, err = io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s: connection with unfinished headers still open after %v (--read-header-timeout 1s)", base, guard)
			}
		}
	})

	t.Run("automatic compaction", func(t *testing.T) {
		// 120 replacements of one user: one live record, many dead.
		for i := 0; i < 120; i++ {
			h.putUser(t, "k")
		}
		h.must(t, 201, "POST", "/api/group", map[string]any{"id": "kg", "users": []string{"k"}}, nil)
		eventually(t, "the hub compacts on its own (--compact-min 50)", func() bool { return h.metric(t, "rtchub_compactions_total") >= 1 })
		wantJSON(t, "user after compaction", h.api(t, "GET", "/api/user/k", nil), 200, `{"id":"k","groups":["kg"],"online":0,"pending":0}`)
	})

	t.Run("message ttl", func(t *testing.T) {
		short := h.notify(t, map[string]any{"users": []string{"e"}, "message": "short", "ttl": 1})
		long := h.notify(t, map[string]any{"users": []string{"e"}, "message": "long"})
		eventually(t, "the ttl=1 message is dropped", func() bool { return h.user(t, "e").Pending == 1 })
		c := dialSSE(t, h.SSE, h.userToken(t, "e", ""))
		if d := decodeData(t, c.next(t, guard)); d.ID != long.ID {
			t.Errorf("replay got %s, want only %s (not the expired %s)", d.ID, long.ID, short.ID)
		}
	})
}
