package sse_test

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

func TestTokenErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("gone")
	e.user("revoked")
	now := time.Now()
	gen, _ := e.st.UserGen("u1")
	oldRevoked := e.token("revoked")
	oldGone := e.token("gone")
	if err := e.st.RevokeUser(context.Background(), "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	e.user("gone") // created again: old tokens stay dead
	clientTok := e.signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: "u1", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	expired := e.signer.Sign(auth.Claims{Kind: auth.KindUser, Subject: "u1", Gen: gen, IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Second)})
	otherKey := testkit.NewSigner(t).Sign(auth.Claims{Kind: auth.KindUser, Subject: "u1", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	tests := []struct {
		name  string
		token string
		code  int
	}{
		{"missing", "", 400},
		{"malformed", "not-a-token", 400},
		{"malformed prefix", "rt1.abc", 400},
		{"wrong kind", clientTok, 401},
		{"expired", expired, 401},
		{"other key", otherKey, 401},
		{"revoked", oldRevoked, 401},
		{"deleted and re-created", oldGone, 401},
	}
	for _, tc := range tests {
		for _, via := range []string{"query", "header"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				path, hdr := "/sse", []string(nil)
				ackPath := "/ack"
				if tc.token != "" {
					if via == "query" {
						path += "?token=" + tc.token
						ackPath += "?token=" + tc.token
					} else {
						hdr = []string{"Authorization", "Bearer " + tc.token}
					}
				}
				r := e.do("GET", path, "", hdr...)
				if r.Status != tc.code {
					t.Fatalf("GET /sse: %d, want %d; %q", r.Status, tc.code, r.Body)
				}
				errorMsg(t, r)
				r = e.do("POST", ackPath, `{"message_id":"x"}`, hdr...)
				if r.Status != tc.code {
					t.Fatalf("POST /ack: %d, want %d; %q", r.Status, tc.code, r.Body)
				}
				errorMsg(t, r)
			})
		}
	}
	if e.hub.Open() != 0 {
		t.Errorf("refused requests left %d streams open", e.hub.Open())
	}
	// A fresh token of the revoked or re-created user works.
	for _, u := range []string{"revoked", "gone"} {
		s := e.open("/sse?token=" + e.token(u))
		if s.Status != 200 {
			t.Errorf("new token of %s: %d", u, s.Status)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Run("star", func(t *testing.T) {
		e := newEnv(t, nil)
		e.user("u1")
		s := e.open("/sse?token="+e.token("u1"), "Origin", "https://app.example")
		if got := s.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("stream ACAO %q, want *", got)
		}
		r := e.do("GET", "/sse", "", "Origin", "https://app.example")
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("error response ACAO %q, want * (so the page can read the error)", got)
		}
		// The router's own errors too.
		for _, c := range []struct {
			method, path string
			code         int
		}{{"POST", "/sse", 405}, {"GET", "/ack", 405}, {"GET", "/sse/", 404}, {"DELETE", "/", 405}} {
			r := e.do(c.method, c.path, "", "Origin", "https://app.example")
			if r.Status != c.code || r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %s: %d ACAO %q, want %d with ACAO * (so the page can read the error)", c.method, c.path, r.Status, r.Header.Get("Access-Control-Allow-Origin"), c.code)
			} else {
				errorMsg(t, r)
			}
		}
		rc := e.notify("message", "1", "u1")
		r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"`+rc.ID+`"}`, "Origin", "https://app.example")
		if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("ack: %d ACAO %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
		for _, p := range []string{"/sse", "/ack"} {
			r := e.do("OPTIONS", p, "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if r.Status != 204 {
				t.Fatalf("OPTIONS %s: %d", p, r.Status)
			}
			h := r.Header
			if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "last-event-id") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Errorf("OPTIONS %s headers: %v", p, h)
			}
		}
	})
	t.Run("list", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) {
			c.SSE.CORSOrigins = []string{"https://a.example", "http://b.example:8080"}
		})
		e.user("u1")
		for _, origin := range []string{"https://a.example", "http://b.example:8080"} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got := s.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("stream from %s: ACAO %q", origin, got)
			}
			if !strings.Contains(s.Header.Get("Vary"), "Origin") {
				t.Errorf("stream from %s: Vary %q, want Origin", origin, s.Header.Get("Vary"))
			}
			s.Close()
			r := e.do("OPTIONS", "/ack", "", "Origin", origin, "Access-Control-Request-Method", "POST")
			if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.Header.Get("Vary"), "Origin") {
				t.Errorf("preflight from %s: %d %v", origin, r.Status, r.Header)
			}
		}
		for _, origin := range []string{"https://evil.example", "https://a.example.evil", "null", ""} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got, ok := s.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("stream from %q: ACAO %q, want none", origin, got)
			}
			s.Close()
			r := e.do("OPTIONS", "/sse", "", "Origin", origin, "Access-Control-Request-Method", "GET")
			if got, ok := r.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("preflight from %q: ACAO %q, want none", origin, got)
			}
			r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"x"}`, "Origin", origin)
			if got, ok := r.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("ack from %q: ACAO %q, want none", origin, got)
			}
		}
	})
}

func TestAck(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("u2")
	m1 := e.notify("message", "1", "u1")
	m2 := e.notify("message", "2", "u1")
	other := e.notify("message", "3", "u2")
	tok := e.token("u1")

	ack := func(id string, byHeader bool) testkit.Resp {
		if byHeader {
			return e.do("POST", "/ack", `{"message_id":"`+id+`"}`, "Authorization", "Bearer "+tok, "Content-Type", "application/json")
		}
		return e.do("POST", "/ack?token="+tok, `{"message_id":"`+id+`"}`)
	}
	if r := ack(m1.ID, false); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("ack: %d %q", r.Status, r.Body)
	}
	if r := ack(m1.ID, true); r.Status != 204 {
		t.Fatalf("ack twice: %d %q", r.Status, r.Body)
	}
	if r := ack("000000000000000000000000", false); r.Status != 404 || errorMsg(t, r) != "unknown message: 000000000000000000000000" {
		t.Errorf("ack unknown: %d %q", r.Status, r.Body)
	}
	// Another user's message reads as an unknown one: the LAN side does
	// not tell them apart.
	if r := ack(other.ID, true); r.Status != 404 || errorMsg(t, r) != "unknown message: "+other.ID {
		t.Errorf("ack of another user's message: %d %q, want the 404 of an unknown message", r.Status, r.Body)
	}
	m, _ := e.st.Message(other.ID)
	if m.Recipients[0].Acked {
		t.Errorf("u1 acknowledged u2's copy")
	}
	for _, body := range []string{``, `{}`, `{"message_id":""}`, `{"message_id":"` + strings.Repeat("a", 129) + `"}`, `{"message_id":1}`, `{"message_id":"x","user_id":"u2"}`, `{"message_id":"x"} {}`} {
		r := e.do("POST", "/ack?token="+tok, body)
		if r.Status != 400 {
			t.Errorf("ack body %q: %d %q, want 400", body, r.Status, r.Body)
		} else {
			errorMsg(t, r)
		}
	}
	m, _ = e.st.Message(m1.ID)
	if !m.Recipients[0].Acked {
		t.Fatal("copy not acknowledged in the store")
	}
	// A reconnect replays only what is still unacknowledged.
	s := e.open("/sse?token=" + tok)
	evs := s.WaitEvents(t, 1)
	time.Sleep(50 * time.Millisecond)
	evs = testkit.Parse([]byte(string(s.Raw()))).Events
	if len(evs) != 1 || evs[0].ID != strconv.FormatUint(m2.Seq, 10) {
		t.Errorf("replay after ack: %+v, want only seq %d", evs, m2.Seq)
	}
	if r := e.do("GET", "/ack", ""); r.Status != 405 {
		t.Errorf("GET /ack: %d", r.Status)
	} else {
		errorMsg(t, r)
	}
}

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

func TestRevokeAndDeleteEndStreams(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("u2")
	e.user("u3")
	s1 := e.open("/sse?token=" + e.token("u1"))
	s1b := e.open("/sse?token=" + e.token("u1"))
	s2 := e.open("/sse?token=" + e.token("u2"))
	s3 := e.open("/sse?token=" + e.token("u3"))
	testkit.Eventually(t, "streams", func() bool { return e.hub.Open() == 4 })
	old := e.token("u1")
	if err := e.st.RevokeUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	s1.WaitEnd(t)
	s1b.WaitEnd(t)
	if r := e.do("GET", "/sse?token="+old, ""); r.Status != 401 {
		t.Errorf("reconnect with a revoked token: %d", r.Status)
	}
	if err := e.st.DeleteUser(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	s2.WaitEnd(t)
	// u3 is untouched and still live.
	rc := e.notify("message", `"still here"`, "u3")
	if evs := s3.WaitEvents(t, 1); evs[0].ID != strconv.FormatUint(rc.Seq, 10) {
		t.Errorf("u3 event %+v", evs)
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
