package integration

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/e2e/*.golden from the current output")

var (
	reDate      = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r$`)
	reCreatedAt = regexp.MustCompile(`"created_at":"[^"]*"`)
)

// TestStreamGolden records the exact bytes (status line, headers, body) a
// fresh client receives for a fixed scenario, from connect to the hub's
// shutdown, and compares them with testdata/e2e/stream.golden. Message ids,
// created_at and the Date header are normalised.
func TestStreamGolden(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.Hub.Heartbeat = time.Hour })
	h.PutGroup(t, "team")
	h.PutUser(t, "alice", "team")
	h.PutUser(t, "bob", "team")
	tok := h.UserToken(t, "alice", "")

	var ids []string
	send := func(body string) testkit.Receipt {
		rc := h.Notify(t, body)
		ids = append(ids, rc.ID)
		return rc
	}
	// Pending before the client connects.
	send(`{"users":["alice"],"message":{"text":"hello","n":1}}`)
	send(`{"groups":["team"],"payload":["a",{"b":null}],"event":"alert"}`)
	acked := send(`{"ids":["alice"],"payload":"acknowledged: not replayed"}`)
	h.Ack(t, acked.ID, "alice")
	send(`{"users":["bob"],"message":"for bob only"}`)

	conn, err := net.Dial("tcp", strings.TrimPrefix(h.SSE, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /sse?token=%s HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\nUser-Agent: golden\r\n\r\n", url.QueryEscape(tok))
	var (
		mu  sync.Mutex
		raw bytes.Buffer
	)
	done := make(chan error, 1)
	go func() {
		br := bufio.NewReader(conn)
		buf := make([]byte, 4096)
		for {
			n, err := br.Read(buf)
			mu.Lock()
			raw.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	has := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Contains(raw.Bytes(), []byte(s))
	}
	testkit.Eventually(t, "the replay reaches the client", func() bool { return has(ids[1]) })

	// Live.
	send(`{"groups":["team"],"users":["alice"],"message":"live \u2713 \"quoted\"","event":"update"}`)
	send(`{"users":["bob"],"message":"bob again"}`)
	last := send(`{"users":["alice"],"message":{"bye":true},"ttl":60}`)
	testkit.Eventually(t, "the live messages reach the client", func() bool { return has(last.ID) })

	h.Stop(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
	case <-time.After(testkit.Guard):
		t.Fatal("stream not closed by the hub's shutdown")
	}

	mu.Lock()
	got := raw.String()
	mu.Unlock()
	got = reDate.ReplaceAllString(got, "Date: <date>\r")
	got = reCreatedAt.ReplaceAllString(got, `"created_at":"<created_at>"`)
	for i, id := range ids {
		got = strings.ReplaceAll(got, id, fmt.Sprintf("<id%d>", i+1))
	}

	path := filepath.Join("..", "..", "testdata", "e2e", "stream.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestStreamGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("stream differs from %s (go test -run TestStreamGolden -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
