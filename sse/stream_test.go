package sse_test

// Stream slots, keep-alive pings and shutdown.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"rtchub/hub"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

func TestTooManyStreams503(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Hub = hub.Options{MaxPerUser: 1, MaxStreams: 2, Heartbeat: 100 * time.Millisecond}
	})
	e.user("u1")
	e.user("u2")
	e.user("u3")
	s := e.open("/sse?token=" + e.token("u1"))
	if s.Status != 200 {
		t.Fatalf("first stream: %d", s.Status)
	}
	r := e.do("GET", "/sse?token="+e.token("u1"), "")
	if r.Status != 503 {
		t.Fatalf("second stream of u1: %d %q, want 503", r.Status, r.Body)
	}
	if msg := errorMsg(t, r); !strings.Contains(msg, "too many") {
		t.Errorf("503 message %q", msg)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	s2 := e.open("/sse?token=" + e.token("u2"))
	if s2.Status != 200 {
		t.Fatalf("u2's stream: %d", s2.Status)
	}
	if r := e.do("GET", "/sse?token="+e.token("u3"), ""); r.Status != 503 {
		t.Fatalf("stream over MaxStreams: %d %q, want 503", r.Status, r.Body)
	}
	// Once the client goes away the slot is free again.
	s.Close()
	testkit.Eventually(t, "u1's closed stream to be noticed", func() bool { return e.hub.Online("u1") == 0 })
	s3 := e.open("/sse?token=" + e.token("u1"))
	if s3.Status != 200 {
		t.Fatalf("reconnect of u1: %d", s3.Status)
	}
}

func TestShutdownEndsStreamsCleanly(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	s := e.open("/sse?token=" + e.token("u1"))
	s.WaitFor(t, "retry", func(p testkit.Parsed, _ bool) bool { return p.Retry >= 0 })
	for i := range 50 {
		e.notify("message", strconv.Itoa(i), "u1")
	}
	e.hub.Close(5 * time.Second)
	p := s.WaitEnd(t)
	if len(p.Events) != 50 {
		t.Errorf("after shutdown the client had %d of 50 events", len(p.Events))
	}
	if r := e.do("GET", "/sse?token="+e.token("u1"), ""); r.Status != 503 {
		t.Errorf("stream after hub shutdown: %d %q, want 503", r.Status, r.Body)
	}
}

func TestPings(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Hub.Heartbeat, c.SSE.Retry = 100*time.Millisecond, 1500*time.Millisecond })
	e.user("u1")
	s := e.open("/sse?token=" + e.token("u1"))
	p := s.WaitFor(t, "two pings", func(p testkit.Parsed, _ bool) bool { return len(p.Comments) >= 2 })
	if p.Retry != 1500 {
		t.Errorf("retry %d, want 1500", p.Retry)
	}
	for _, c := range p.Comments {
		if strings.TrimSpace(c) != "ping" {
			t.Errorf("comment %q", c)
		}
	}
}
