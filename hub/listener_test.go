package hub_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rtchub/hub"
)

// recorder is a hub.Listener that notes what it hears.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Delivered(msg, user string)  { r.add(fmt.Sprintf("delivered %s %s", msg, user)) }
func (r *recorder) Presence(user string, n int) { r.add(fmt.Sprintf("presence %s %d", user, n)) }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.events, s)
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == s {
			n++
		}
	}
	return n
}

// TestListener: the first write of a copy to any stream of its user is
// told once (a second stream, and the replay, do not tell again); the
// first stream of a user opening and the last closing are told.
func TestListener(t *testing.T) {
	h := newHub(t, hub.Options{})
	rec := &recorder{}
	h.SetListener(rec)
	p := newPairer(t)
	r1 := startLive(t, h, p, "u")
	eventually(t, "online", func() bool { return rec.has("presence u 1") })
	r2 := startLive(t, h, p, "u")
	if n := rec.count("presence u 1"); n != 1 {
		t.Errorf("presence u 1 told %d times for two streams, want once", n)
	}
	var mark atomic.Bool
	f := &hub.Frame{B: frame(1, 40), Msg: "m1"}
	h.SendTo([]hub.Target{{User: "u", Mark: &mark}}, f)
	r1.waitBytes(t, 5*time.Second, append([]byte("P\n\n"), f.B...))
	r2.waitBytes(t, 5*time.Second, append([]byte("P\n\n"), f.B...))
	eventually(t, "delivered", func() bool { return rec.has("delivered m1 u") })
	if n := rec.count("delivered m1 u"); n != 1 {
		t.Errorf("delivered told %d times for two streams, want once", n)
	}
	// A frame without a message (a hub event) tells nothing.
	h.SendTo([]hub.Target{{User: "u"}}, &hub.Frame{B: frame(2, 40)})

	// A replay's copies count as written too.
	s, srv, r3 := attachUnstarted(t, h, p, "v")
	var replayed atomic.Bool
	if err := s.Start(srv, func(emit func([]byte, []hub.Mark) error) error {
		return emit([]byte("R\n\n"), []hub.Mark{{Flag: &replayed, Msg: "m2"}})
	}); err != nil {
		t.Fatal(err)
	}
	r3.waitBytes(t, 5*time.Second, []byte("R\n\n"))
	if !replayed.Load() || !rec.has("delivered m2 v") {
		t.Errorf("replayed copy: flag %v, told %v", replayed.Load(), rec.events)
	}

	h.CloseUser("u")
	eventually(t, "offline", func() bool { return rec.has("presence u 0") })
	if n := rec.count("presence u 0"); n != 1 {
		t.Errorf("presence u 0 told %d times, want once (for the last stream)", n)
	}
}

// TestApps: application streams get what SendApps sends if their filter
// takes it, and nothing sent to users; they count toward the stream limit
// and Apps reports whether any is open.
func TestApps(t *testing.T) {
	h := newHub(t, hub.Options{MaxStreams: 3})
	p := newPairer(t)
	if h.Apps() {
		t.Fatal("Apps() with none open")
	}
	start := func(filter string) *reader {
		return startStream(t, p, "A\n\n", func() (*hub.Stream, error) { return h.AttachApp("app", filter) })
	}
	a, b := start("a"), start("b")
	if !h.Apps() || h.Open() != 2 || h.UsersOnline() != 0 {
		t.Fatalf("Apps %v, Open %d, UsersOnline %d", h.Apps(), h.Open(), h.UsersOnline())
	}
	f := &hub.Frame{B: frame(1, 30)}
	h.SendApps(f, func(x any) bool { return x == "a" })
	h.SendTo([]hub.Target{{User: "a"}}, &hub.Frame{B: frame(2, 30)}) // no user "a": no-op
	a.waitBytes(t, 5*time.Second, append([]byte("A\n\n"), f.B...))
	b.quiet(t, 100*time.Millisecond, len("A\n\n"))
	start("c")
	if _, err := h.AttachApp("app", "d"); err != hub.ErrTooManyStreams {
		t.Errorf("a fourth stream: %v, want ErrTooManyStreams", err)
	}
	// Applications together have the per-user limit, and are told so.
	h2 := newHub(t, hub.Options{MaxPerUser: 1})
	if _, err := h2.AttachApp("app", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.AttachApp("app", "b"); err != hub.ErrAppStreams {
		t.Errorf("a second application stream over MaxPerUser 1: %v, want ErrAppStreams", err)
	}
}

// TestOnlineNoticesAClosedPeer: a client that closed its connection is not
// counted, and its stream is closed, when Online is asked.
func TestOnlineNoticesAClosedPeer(t *testing.T) {
	h := newHub(t, hub.Options{Heartbeat: time.Hour})
	p := newPairer(t)
	srv, cli := p.pair(t, false)
	s, err := h.Attach("u")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(srv, replayOf([]byte("P\n\n"), nil)); err != nil {
		t.Fatal(err)
	}
	startLive(t, h, p, "u")
	if n := h.Online("u"); n != 2 {
		t.Fatalf("Online = %d, want 2", n)
	}
	cli.Close()
	eventually(t, "the closed peer uncounted", func() bool { return h.Online("u") == 1 })
	eventually(t, "the stream removed", func() bool { return h.Open() == 1 })
}
