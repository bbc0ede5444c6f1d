package hub_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"rtchub/hub"
)

func TestHeartbeatPings(t *testing.T) {
	h := newHub(t, hub.Options{Heartbeat: 100 * time.Millisecond})
	p := newPairer(t)
	r := startLive(t, h, p, "u")
	got := r.wait(t, 5*time.Second, "two pings", func(b []byte, _ bool, _ error) bool {
		return bytes.Count(b, []byte(": ping\n\n")) >= 2
	})
	rest := strings.TrimPrefix(string(got), "P\n\n")
	if rest == string(got) || strings.ReplaceAll(rest, ": ping\n\n", "") != "" {
		t.Fatalf("stream is not prelude then pings: %q", got)
	}
	if n := h.Metrics.Pings.Load(); n < 2 {
		t.Errorf("Metrics.Pings = %d, want >= 2", n)
	}
	if n := h.Metrics.Delivered.Load(); n != 0 {
		t.Errorf("Metrics.Delivered = %d: pings are not message events", n)
	}
}

// TestHeartbeatInterval: an idle stream gets a ping every Heartbeat (SPEC:
// "A comment line (: ping) is sent every 15 s (configurable)"), not every
// other one.
func TestHeartbeatInterval(t *testing.T) {
	const hb = 200 * time.Millisecond
	h := newHub(t, hub.Options{Heartbeat: hb})
	p := newPairer(t)
	srv, cli := p.pair(t, false)
	s, _ := h.Attach("u")
	if err := s.Start(srv, replayOf(nil, nil)); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	var got []byte
	b := make([]byte, 1024)
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(at) < 7 {
		n, err := cli.Read(b)
		if err != nil {
			t.Fatalf("read: %v after %d pings", err, len(at))
		}
		got = append(got, b[:n]...)
		for c := bytes.Count(got, []byte(": ping\n\n")); len(at) < c; {
			at = append(at, time.Now())
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	t.Logf("Heartbeat %v: gaps between pings %v", hb, gaps)
	if median > hb*3/2 {
		t.Errorf("idle stream pinged every %v (median), want every %v: the ping's own write marks the stream active, so the next heartbeat skips it (hub.go flush sets s.active; heartbeat treats that as traffic)", median, hb)
	}
}
