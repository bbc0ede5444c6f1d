package integration

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestSlowClient: a stream whose reader stalls is cut when its bounded
// queue fills; other clients get everything; the stalled client's next
// connection replays what it missed.
func TestSlowClient(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.Hub.QueueLen = 8 })
	h.PutUsers(t, "slow", "fast")
	slowTok := h.UserToken(t, "slow", "")

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
	testkit.Eventually(t, "the slow stream is open", func() bool { return h.User(t, "slow").Online == 1 })
	fast := testkit.DialSSE(t, h.SSE, h.UserToken(t, "fast", ""))

	const n = 100
	big := strings.Repeat("x", 60<<10) // 6 MB in all: more than any socket buffer
	var rcs []testkit.Receipt
	for i := 0; i < n; i++ {
		rcs = append(rcs, h.Notify(t, fmt.Sprintf(`{"users":["slow","fast"],"message":{"i":%d,"pad":%q}}`, i, big)))
	}
	for i, rc := range rcs {
		if d := decodeData(t, fast.Next(t, testkit.Guard)); d.ID != rc.ID {
			t.Fatalf("fast reader: message %d is %s, want %s", i, d.ID, rc.ID)
		}
	}
	testkit.Eventually(t, "the slow stream is cut", func() bool { return h.Metric(t, "rtchub_streams_cut_total") >= 1 })
	testkit.Eventually(t, "the slow user is offline", func() bool { return h.User(t, "slow").Online == 0 })
	// The stalled client, reading at last, finds its stream ended (after
	// whatever was already in flight).
	slow.SetReadDeadline(time.Now().Add(4 * testkit.Guard))
	if _, err := io.Copy(io.Discard, slow); err != nil {
		t.Errorf("the cut stream did not end cleanly: %v", err)
	}
	// Reconnecting replays everything: nothing was lost.
	c := testkit.DialSSE(t, h.SSE, slowTok)
	for i, rc := range rcs {
		if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
			t.Fatalf("replay after the cut: message %d is %s, want %s", i, d.ID, rc.ID)
		}
	}
}

// TestLimits checks the stream caps, the pending cap and message ttl.
func TestLimits(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) {
		c.Hub.MaxPerUser, c.Hub.MaxStreams, c.Store.MaxPending, c.Hub.Heartbeat = 2, 3, 3, time.Second
		c.Store.CompactMin, c.ReadHeaderTimeout = 50, time.Second
	})
	for _, u := range []string{"a", "b", "c", "p", "e"} {
		h.PutUser(t, u)
	}

	t.Run("streams per user and in all", func(t *testing.T) {
		ta, tb, tc := h.UserToken(t, "a", ""), h.UserToken(t, "b", ""), h.UserToken(t, "c", "")
		a1, a2 := testkit.DialSSE(t, h.SSE, ta), testkit.DialSSE(t, h.SSE, ta)
		if a1.Status != 200 || a2.Status != 200 {
			t.Fatalf("two streams: %d, %d", a1.Status, a2.Status)
		}
		a3 := testkit.DialSSE(t, h.SSE, ta)
		testkit.WantError(t, "third stream of a user (--max-streams-per-user 2)", a3.Resp(), 503, "")
		b1 := testkit.DialSSE(t, h.SSE, tb)
		if b1.Status != 200 {
			t.Fatalf("b's stream: %d %s", b1.Status, b1.Body)
		}
		c1 := testkit.DialSSE(t, h.SSE, tc)
		testkit.WantError(t, "fourth stream in all (--max-streams 3)", c1.Resp(), 503, "")
		// A closed stream frees its place.
		a1.Close()
		testkit.Eventually(t, "a's closed stream is noticed", func() bool { return h.User(t, "a").Online == 1 })
		c2 := testkit.DialSSE(t, h.SSE, tc)
		if c2.Status != 200 {
			t.Errorf("after a stream closed: %d %s, want 200", c2.Status, c2.Body)
		}
		a2.Close()
		b1.Close()
		c2.Close()
		testkit.Eventually(t, "all streams closed", func() bool { return h.Metric(t, "rtchub_streams_open") == 0 })
	})

	t.Run("max pending drops the oldest", func(t *testing.T) {
		var rcs []testkit.Receipt
		for i := 0; i < 5; i++ {
			rcs = append(rcs, h.Notify(t, map[string]any{"users": []string{"p"}, "message": i}))
		}
		if p := h.User(t, "p").Pending; p != 3 {
			t.Errorf("pending %d, want 3 (--max-pending 3)", p)
		}
		c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "p", ""))
		for _, rc := range rcs[2:] {
			if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
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
			conn.SetReadDeadline(time.Now().Add(testkit.Guard))
			_, err = io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s: connection with unfinished headers still open after %v (--read-header-timeout 1s)", base, testkit.Guard)
			}
		}
	})

	t.Run("automatic compaction", func(t *testing.T) {
		// 120 replacements of one user: one live record, many dead.
		for i := 0; i < 120; i++ {
			h.PutUser(t, "k")
		}
		h.Must(t, 201, "POST", "/api/group", map[string]any{"id": "kg", "users": []string{"k"}}, nil)
		testkit.Eventually(t, "the hub compacts on its own (--compact-min 50)", func() bool { return h.Metric(t, "rtchub_compactions_total") >= 1 })
		testkit.WantJSON(t, "user after compaction", h.Call(t, "GET", "/api/user/k", nil), 200, `{"id":"k","groups":["kg"],"online":0,"pending":0}`)
	})

	t.Run("message ttl", func(t *testing.T) {
		short := h.Notify(t, map[string]any{"users": []string{"e"}, "message": "short", "ttl": 1})
		long := h.Notify(t, map[string]any{"users": []string{"e"}, "message": "long"})
		testkit.Eventually(t, "the ttl=1 message is dropped", func() bool { return h.User(t, "e").Pending == 1 })
		c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "e", ""))
		if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != long.ID {
			t.Errorf("replay got %s, want only %s (not the expired %s)", d.ID, long.ID, short.ID)
		}
	})
}
