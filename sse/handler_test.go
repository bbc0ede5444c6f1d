package sse_test

// The test env (a real hub on loopback, shared by this package's tests)
// and the tests of opening a stream: replay, resume, then live delivery.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

// env is a real hub on loopback, started as `rtchub serve` starts one;
// the tests talk to its SSE listener and drive its store directly.
type env struct {
	t      *testing.T
	url    string // the SSE listener
	st     *store.Store
	hub    *hub.Hub
	signer *auth.Signer
}

// newEnv starts a hub with testkit's Config, changed by mod.
func newEnv(t *testing.T, mod func(*server.Config)) *env {
	t.Helper()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) {
		c.Store.Fsync = store.FsyncNever
		if mod != nil {
			mod(c)
		}
	})
	return &env{t: t, url: h.SSE, st: h.Server.Store(), hub: h.Server.Hub(), signer: h.Server.Signer()}
}

func (e *env) user(id string) {
	e.t.Helper()
	if _, _, err := e.st.PutUser(context.Background(), id, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) token(user string) string {
	gen, _ := e.st.UserGen(user)
	return testkit.UserToken(e.signer, user, gen, time.Hour)
}

func (e *env) notify(event string, body string, users ...string) store.Receipt {
	e.t.Helper()
	rc, err := e.st.Notify(context.Background(), store.Notification{Users: users, Event: event, Body: json.RawMessage(body), TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return rc
}

// headers turns name, value pairs into a header map.
func headers(hdr []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(hdr); i += 2 {
		m[hdr[i]] = hdr[i+1]
	}
	return m
}

// do sends one request to the SSE listener, with header name, value pairs.
func (e *env) do(method, path, body string, hdr ...string) testkit.Resp {
	e.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	return testkit.Request(e.t, method, e.url+path, b, headers(hdr))
}

// errorMsg checks r is a JSON error body and returns its message.
func errorMsg(t *testing.T, r testkit.Resp) string {
	t.Helper()
	return testkit.WantError(t, "error answer", r, r.Status, "")
}

// open starts GET path with header name, value pairs, reading it in the
// background.
func (e *env) open(path string, hdr ...string) *testkit.Stream {
	e.t.Helper()
	var opts []testkit.StreamOpt
	for k, v := range headers(hdr) {
		opts = append(opts, testkit.WithHeader(k, v))
	}
	return testkit.Open(e.t, e.url+path, opts...)
}

func dataOf(t *testing.T, ev testkit.Item) frameData {
	t.Helper()
	var d frameData
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("event data %q: %v", ev.Data, err)
	}
	return d
}

// ---- tests ----

func TestStreamReplayThenLive(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("u2")
	r1 := e.notify("first", `{"n":1}`, "u1")
	r2 := e.notify("message", `"two"`, "u1", "u2")
	e.notify("other", `3`, "u2")

	s := e.open("/sse?token=" + e.token("u1"))
	if s.Status != 200 {
		t.Fatalf("GET /sse: %d", s.Status)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := s.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if d := s.Header.Get("Date"); d == "" {
		t.Errorf("no Date header")
	}
	evs := s.WaitEvents(t, 2)
	if !strings.HasPrefix(string(s.Raw()), "retry: 2000\n\n") {
		t.Errorf("stream does not open with retry: %q", string(s.Raw()))
	}
	want := []struct {
		rc    store.Receipt
		event string
		msg   string
	}{{r1, "first", `{"n":1}`}, {r2, "message", `"two"`}}
	for i, w := range want {
		d := dataOf(t, evs[i])
		if evs[i].ID != strconv.FormatUint(w.rc.Seq, 10) || evs[i].Event != w.event || d.ID != w.rc.ID || d.Seq != w.rc.Seq || string(d.Message) != w.msg {
			t.Errorf("replayed event %d = %+v, want seq %d event %q message %s", i, evs[i], w.rc.Seq, w.event, w.msg)
		}
	}

	// Replayed copies are marked delivered.
	for _, rc := range []store.Receipt{r1, r2} {
		testkit.Eventually(t, "delivered flag of replayed copy", func() bool {
			m, _ := e.st.Message(rc.ID)
			for _, c := range m.Recipients {
				if c.User == "u1" {
					return c.Delivered
				}
			}
			return false
		})
	}

	// A second device gets the replay too, and then both get live messages.
	s2 := e.open("/sse", "Authorization", "Bearer "+e.token("u1"))
	s2.WaitEvents(t, 2)
	testkit.Eventually(t, "two streams online", func() bool { return e.hub.Online("u1") == 2 })
	r4 := e.notify("live", `{"live":true}`, "u1")
	for _, st := range []*testkit.Stream{s, s2} {
		evs := st.WaitEvents(t, 3)
		if len(evs) != 3 || evs[2].ID != strconv.FormatUint(r4.Seq, 10) || evs[2].Event != "live" {
			t.Fatalf("live event: %+v", evs)
		}
	}
	// Nothing for u2 reached u1.
	time.Sleep(50 * time.Millisecond)
	if n := len(testkit.Parse([]byte(string(s.Raw()))).Events); n != 3 {
		t.Errorf("u1's stream has %d events, want 3", n)
	}
	testkit.Eventually(t, "delivered flag of live copy", func() bool {
		m, _ := e.st.Message(r4.ID)
		return len(m.Recipients) == 1 && m.Recipients[0].Delivered
	})
}

func TestStreamResume(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	var seqs []uint64
	for i := range 4 {
		seqs = append(seqs, e.notify("message", strconv.Itoa(i), "u1").Seq)
	}
	tok := e.token("u1")
	ids := func(evs []testkit.Item) string {
		var out []string
		for _, ev := range evs {
			if ev.Event == "rtchub.reset" {
				out = append(out, "reset")
			} else {
				out = append(out, ev.ID)
			}
		}
		return strings.Join(out, ",")
	}
	seqList := func(ss ...uint64) string {
		var out []string
		for _, s := range ss {
			out = append(out, strconv.FormatUint(s, 10))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name string
		path string
		hdr  []string
		want string
	}{
		{"no id", "/sse?token=" + tok, nil, seqList(seqs...)},
		{"header", "/sse?token=" + tok, []string{"Last-Event-ID", strconv.FormatUint(seqs[1], 10)}, seqList(seqs[2:]...)},
		{"query", "/sse?last_event_id=" + strconv.FormatUint(seqs[2], 10) + "&token=" + tok, nil, seqList(seqs[3])},
		{"between seqs", "/sse?token=" + tok, []string{"Last-Event-ID", strconv.FormatUint(seqs[0]-1, 10)}, seqList(seqs...)},
		// An id the hub cannot resume from: the device is told to reset,
		// gets every pending message, and then the log's seq as its last
		// event id.
		{"garbage id resets", "/sse?token=" + tok, []string{"Last-Event-ID", "abc"}, "reset," + seqList(seqs...)},
		// ParseUint's result for an overflow is MaxUint64: used as is, it
		// would skip the whole replay.
		{"overflowing id resets", "/sse?token=" + tok, []string{"Last-Event-ID", "99999999999999999999999"}, "reset," + seqList(seqs...)},
		{"overflowing query id resets", "/sse?last_event_id=99999999999999999999999&token=" + tok, nil, "reset," + seqList(seqs...)},
		{"negative id resets", "/sse?token=" + tok, []string{"Last-Event-ID", "-1"}, "reset," + seqList(seqs...)},
		// Above the log's last seq: not from this hub's log (a tab that
		// outlived a wiped data directory).
		{"id past the log's end resets", "/sse?token=" + tok, []string{"Last-Event-ID", strconv.FormatUint(seqs[3]+1, 10)}, "reset," + seqList(seqs...)},
		{"query id past the log's end resets", "/sse?last_event_id=" + strconv.FormatUint(seqs[3]+1000, 10) + "&token=" + tok, nil, "reset," + seqList(seqs...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := e.open(tc.path, tc.hdr...)
			want := strings.Count(tc.want, ",") + 1
			evs := s.WaitEvents(t, want)
			if got := ids(evs); got != tc.want {
				t.Errorf("events %s, want %s", got, tc.want)
			}
			if strings.HasPrefix(tc.want, "reset") {
				last := strconv.FormatUint(seqs[3], 10)
				s.WaitFor(t, "the log's seq as last event id", func(p testkit.Parsed, _ bool) bool { return p.LastEventID == last })
			}
			s.Close()
		})
	}
	// Past the last seq: nothing is replayed but live messages still come.
	s := e.open("/sse?token="+tok, "Last-Event-ID", strconv.FormatUint(seqs[3], 10))
	s.WaitFor(t, "retry", func(p testkit.Parsed, _ bool) bool { return p.Retry == 2000 })
	testkit.Eventually(t, "stream registered", func() bool { return e.hub.Online("u1") >= 1 })
	live := e.notify("message", `"live"`, "u1")
	if evs := s.WaitEvents(t, 1); len(evs) != 1 || evs[0].ID != strconv.FormatUint(live.Seq, 10) {
		t.Errorf("after resuming at the end: %+v", evs)
	}
}

// TestConnectWhileSending: streams opened while messages are being sent each
// see every message exactly once, in seq order: the replay and the live
// frames neither overlap nor leave a gap.
func TestConnectWhileSending(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Hub = hub.Options{QueueLen: 4096} })
	e.user("u1")
	const total = 300
	tok := e.token("u1")
	var seqs []uint64
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			rc, err := e.st.Notify(context.Background(), store.Notification{Users: []string{"u1"}, Event: "message", Body: json.RawMessage(strconv.Itoa(i)), TTL: time.Hour})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seqs = append(seqs, rc.Seq)
			mu.Unlock()
		}
	}()
	var streams []*testkit.Stream
	for i := 0; i < 8; i++ {
		streams = append(streams, e.open("/sse?token="+tok))
		time.Sleep(time.Duration(i) * time.Millisecond)
	}
	<-done
	for i, s := range streams {
		evs := s.WaitEvents(t, total)
		if len(evs) != total {
			t.Fatalf("stream %d: %d events, want %d", i, len(evs), total)
		}
		for j, ev := range evs {
			if ev.ID != strconv.FormatUint(seqs[j], 10) {
				t.Fatalf("stream %d: event %d has id %s, want %d (gap, duplicate or reordering)", i, j, ev.ID, seqs[j])
			}
			if d := dataOf(t, ev); string(d.Message) != strconv.Itoa(j) {
				t.Fatalf("stream %d: event %d message %s", i, j, d.Message)
			}
		}
	}
	if c := e.hub.Metrics.Cut.Load(); c != 0 {
		t.Errorf("%d streams cut", c)
	}
}

func TestExpiredMessagesAreNotReplayed(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	_, err := e.st.Notify(context.Background(), store.Notification{Users: []string{"u1"}, Event: "message", Body: json.RawMessage(`"short"`), TTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	keep := e.notify("message", `"long"`, "u1")
	time.Sleep(20 * time.Millisecond)
	s := e.open("/sse?token=" + e.token("u1"))
	s.WaitEvents(t, 1)
	time.Sleep(50 * time.Millisecond)
	evs := testkit.Parse([]byte(string(s.Raw()))).Events
	if len(evs) != 1 || evs[0].ID != strconv.FormatUint(keep.Seq, 10) {
		t.Errorf("replay %+v, want only the unexpired seq %d", evs, keep.Seq)
	}
}

// TestHeadSSEHasNoBody: a HEAD request must not get content (RFC 9110
// 9.3.2), let alone hold a stream slot and mark pending copies delivered.
func TestHeadSSEHasNoBody(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	rc := e.notify("message", `"pending"`, "u1")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "HEAD /sse?token=%s HTTP/1.1\r\nHost: test\r\n\r\n", e.token("u1"))
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	got, _ := io.ReadAll(conn)
	head, body, _ := strings.Cut(string(got), "\r\n\r\n")
	t.Logf("HEAD response head: %q", head)
	if body != "" {
		t.Errorf("HEAD /sse sent content after the headers: %q", body)
	}
	m, _ := e.st.Message(rc.ID)
	if m.Recipients[0].Delivered {
		t.Errorf("HEAD /sse marked the pending copy delivered")
	}
	if n := e.hub.Online("u1"); n != 0 {
		t.Errorf("HEAD /sse holds %d stream(s) open", n)
	}
}
