package sse_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/sse"
	"rtchub/store"
)

// ---- a real SSE listener on loopback over a real store ----

type env struct {
	t      *testing.T
	st     *store.Store
	hub    *hub.Hub
	signer *auth.Signer
	srv    *httptest.Server
}

func newSigner(t *testing.T) *auth.Signer {
	key := make([]byte, auth.KeySize)
	rand.Read(key)
	s, err := auth.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newEnv(t *testing.T, hopts hub.Options, mod func(*sse.Config)) *env {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), Fsync: store.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hub.New(hopts)
	t.Cleanup(func() { h.Close(0) })
	e := &env{t: t, st: st, hub: h, signer: newSigner(t)}
	cfg := sse.Config{Store: st, Hub: h, Signer: e.signer}
	if mod != nil {
		mod(&cfg)
	}
	srv := sse.New(cfg)
	st.SetObserver(srv)
	e.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) user(id string) {
	e.t.Helper()
	if _, _, err := e.st.PutUser(context.Background(), id, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) token(user string) string {
	gen, _ := e.st.UserGen(user)
	now := time.Now()
	return e.signer.Sign(auth.Claims{Kind: auth.KindUser, Subject: user, Gen: gen, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
}

func (e *env) notify(event string, body string, users ...string) store.Receipt {
	e.t.Helper()
	rc, err := e.st.Notify(context.Background(), store.Notification{Users: users, Event: event, Body: json.RawMessage(body), TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return rc
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (r resp) errorMsg(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q (body %q)", ct, r.body)
	}
	var m map[string]string
	if err := json.Unmarshal(r.body, &m); err != nil || m["error"] == "" || len(m) != 1 {
		t.Fatalf("error body is not {\"error\":...}: %q", r.body)
	}
	return m["error"]
}

// stream is an open GET /sse as a client sees it.
type stream struct {
	t       *testing.T
	res     *http.Response
	cancel  context.CancelFunc
	mu      sync.Mutex
	buf     []byte
	done    bool
	err     error
	changed chan struct{}
}

// open starts GET path and, on 200, reads the body in the background.
func (e *env) open(path string, hdr ...string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		cancel()
		e.t.Fatalf("GET %s: %v", path, err)
	}
	s := &stream{t: e.t, res: res, cancel: cancel, changed: make(chan struct{})}
	e.t.Cleanup(s.close)
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := res.Body.Read(b)
			s.mu.Lock()
			s.buf = append(s.buf, b[:n]...)
			if err != nil {
				s.done, s.err = true, err
			}
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *stream) close() {
	s.cancel()
	s.res.Body.Close()
}

func (s *stream) waitFor(what string, cond func(p parsed, done bool) bool) parsed {
	s.t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		s.mu.Lock()
		p, done, ch := parseSSE(s.buf), s.done, s.changed
		raw := string(s.buf)
		s.mu.Unlock()
		if cond(p, done) {
			return p
		}
		if done {
			s.t.Fatalf("stream ended (%v) before %s; got %q", s.err, what, raw)
		}
		select {
		case <-ch:
		case <-timer.C:
			s.t.Fatalf("timed out waiting for %s; got %q", what, raw)
		}
	}
}

func (s *stream) waitEvents(n int) []event {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%d events", n), func(p parsed, _ bool) bool { return len(p.Events) >= n }).Events
}

func (s *stream) waitEnd() parsed {
	s.t.Helper()
	p := s.waitFor("end of stream", func(_ parsed, done bool) bool { return done })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != io.EOF {
		s.t.Fatalf("stream ended with %v, want a clean end", s.err)
	}
	return p
}

func (s *stream) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dataOf(t *testing.T, ev event) frameData {
	t.Helper()
	var d frameData
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("event data %q: %v", ev.Data, err)
	}
	return d
}

// ---- tests ----

func TestStreamReplayThenLive(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	e.user("u2")
	r1 := e.notify("first", `{"n":1}`, "u1")
	r2 := e.notify("message", `"two"`, "u1", "u2")
	e.notify("other", `3`, "u2")

	s := e.open("/sse?token=" + e.token("u1"))
	if s.res.StatusCode != 200 {
		t.Fatalf("GET /sse: %d", s.res.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := s.res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if d := s.res.Header.Get("Date"); d == "" {
		t.Errorf("no Date header")
	}
	evs := s.waitEvents(2)
	if !strings.HasPrefix(s.raw(), "retry: 2000\n\n") {
		t.Errorf("stream does not open with retry: %q", s.raw())
	}
	want := []struct {
		rc    store.Receipt
		event string
		msg   string
	}{{r1, "first", `{"n":1}`}, {r2, "message", `"two"`}}
	for i, w := range want {
		d := dataOf(t, evs[i])
		if evs[i].ID != strconv.FormatUint(w.rc.Seq, 10) || evs[i].Type != w.event || d.ID != w.rc.ID || d.Seq != w.rc.Seq || string(d.Message) != w.msg {
			t.Errorf("replayed event %d = %+v, want seq %d event %q message %s", i, evs[i], w.rc.Seq, w.event, w.msg)
		}
	}

	// Replayed copies are marked delivered.
	for _, rc := range []store.Receipt{r1, r2} {
		eventually(t, "delivered flag of replayed copy", func() bool {
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
	s2.waitEvents(2)
	eventually(t, "two streams online", func() bool { return e.hub.Online("u1") == 2 })
	r4 := e.notify("live", `{"live":true}`, "u1")
	for _, st := range []*stream{s, s2} {
		evs := st.waitEvents(3)
		if len(evs) != 3 || evs[2].ID != strconv.FormatUint(r4.Seq, 10) || evs[2].Type != "live" {
			t.Fatalf("live event: %+v", evs)
		}
	}
	// Nothing for u2 reached u1.
	time.Sleep(50 * time.Millisecond)
	if n := len(parseSSE([]byte(s.raw())).Events); n != 3 {
		t.Errorf("u1's stream has %d events, want 3", n)
	}
	eventually(t, "delivered flag of live copy", func() bool {
		m, _ := e.st.Message(r4.ID)
		return len(m.Recipients) == 1 && m.Recipients[0].Delivered
	})
}

func TestStreamResume(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	var seqs []uint64
	for i := range 4 {
		seqs = append(seqs, e.notify("message", strconv.Itoa(i), "u1").Seq)
	}
	tok := e.token("u1")
	ids := func(evs []event) string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.ID)
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
		{"garbage id replays all", "/sse?token=" + tok, []string{"Last-Event-ID", "abc"}, seqList(seqs...)},
		// ParseUint's result for an overflow is MaxUint64: used as is, it
		// would skip the whole replay.
		{"overflowing id replays all", "/sse?token=" + tok, []string{"Last-Event-ID", "99999999999999999999999"}, seqList(seqs...)},
		{"overflowing query id replays all", "/sse?last_event_id=99999999999999999999999&token=" + tok, nil, seqList(seqs...)},
		{"negative id replays all", "/sse?token=" + tok, []string{"Last-Event-ID", "-1"}, seqList(seqs...)},
		// Above the log's last seq: not from this hub's log (a tab that
		// outlived a wiped data directory).
		{"id past the log's end replays all", "/sse?token=" + tok, []string{"Last-Event-ID", strconv.FormatUint(seqs[3]+1, 10)}, seqList(seqs...)},
		{"query id past the log's end replays all", "/sse?last_event_id=" + strconv.FormatUint(seqs[3]+1000, 10) + "&token=" + tok, nil, seqList(seqs...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := e.open(tc.path, tc.hdr...)
			want := strings.Count(tc.want, ",") + 1
			evs := s.waitEvents(want)
			if got := ids(evs); got != tc.want {
				t.Errorf("events %s, want %s", got, tc.want)
			}
			s.close()
		})
	}
	// Past the last seq: nothing is replayed but live messages still come.
	s := e.open("/sse?token="+tok, "Last-Event-ID", strconv.FormatUint(seqs[3], 10))
	s.waitFor("retry", func(p parsed, _ bool) bool { return p.Retry == 2000 })
	eventually(t, "stream registered", func() bool { return e.hub.Online("u1") >= 1 })
	live := e.notify("message", `"live"`, "u1")
	if evs := s.waitEvents(1); len(evs) != 1 || evs[0].ID != strconv.FormatUint(live.Seq, 10) {
		t.Errorf("after resuming at the end: %+v", evs)
	}
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
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
	otherKey := newSigner(t).Sign(auth.Claims{Kind: auth.KindUser, Subject: "u1", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
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
				if r.code != tc.code {
					t.Fatalf("GET /sse: %d, want %d; %q", r.code, tc.code, r.body)
				}
				r.errorMsg(t)
				r = e.do("POST", ackPath, `{"message_id":"x"}`, hdr...)
				if r.code != tc.code {
					t.Fatalf("POST /ack: %d, want %d; %q", r.code, tc.code, r.body)
				}
				r.errorMsg(t)
			})
		}
	}
	if e.hub.Open() != 0 {
		t.Errorf("refused requests left %d streams open", e.hub.Open())
	}
	// A fresh token of the revoked or re-created user works.
	for _, u := range []string{"revoked", "gone"} {
		s := e.open("/sse?token=" + e.token(u))
		if s.res.StatusCode != 200 {
			t.Errorf("new token of %s: %d", u, s.res.StatusCode)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Run("star", func(t *testing.T) {
		e := newEnv(t, hub.Options{}, nil)
		e.user("u1")
		s := e.open("/sse?token="+e.token("u1"), "Origin", "https://app.example")
		if got := s.res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("stream ACAO %q, want *", got)
		}
		r := e.do("GET", "/sse", "", "Origin", "https://app.example")
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("error response ACAO %q, want * (so the page can read the error)", got)
		}
		// The router's own errors too.
		for _, c := range []struct {
			method, path string
			code         int
		}{{"POST", "/sse", 405}, {"GET", "/ack", 405}, {"GET", "/sse/", 404}, {"DELETE", "/", 405}} {
			r := e.do(c.method, c.path, "", "Origin", "https://app.example")
			if r.code != c.code || r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %s: %d ACAO %q, want %d with ACAO * (so the page can read the error)", c.method, c.path, r.code, r.header.Get("Access-Control-Allow-Origin"), c.code)
			} else {
				r.errorMsg(t)
			}
		}
		rc := e.notify("message", "1", "u1")
		r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"`+rc.ID+`"}`, "Origin", "https://app.example")
		if r.code != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("ack: %d ACAO %q", r.code, r.header.Get("Access-Control-Allow-Origin"))
		}
		for _, p := range []string{"/sse", "/ack"} {
			r := e.do("OPTIONS", p, "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if r.code != 204 {
				t.Fatalf("OPTIONS %s: %d", p, r.code)
			}
			h := r.header
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
		e := newEnv(t, hub.Options{}, func(c *sse.Config) {
			c.CORSOrigins = []string{"https://a.example", "http://b.example:8080"}
		})
		e.user("u1")
		for _, origin := range []string{"https://a.example", "http://b.example:8080"} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got := s.res.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("stream from %s: ACAO %q", origin, got)
			}
			if !strings.Contains(s.res.Header.Get("Vary"), "Origin") {
				t.Errorf("stream from %s: Vary %q, want Origin", origin, s.res.Header.Get("Vary"))
			}
			s.close()
			r := e.do("OPTIONS", "/ack", "", "Origin", origin, "Access-Control-Request-Method", "POST")
			if r.code != 204 || r.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.header.Get("Vary"), "Origin") {
				t.Errorf("preflight from %s: %d %v", origin, r.code, r.header)
			}
		}
		for _, origin := range []string{"https://evil.example", "https://a.example.evil", "null", ""} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got, ok := s.res.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("stream from %q: ACAO %q, want none", origin, got)
			}
			s.close()
			r := e.do("OPTIONS", "/sse", "", "Origin", origin, "Access-Control-Request-Method", "GET")
			if got, ok := r.header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("preflight from %q: ACAO %q, want none", origin, got)
			}
			r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"x"}`, "Origin", origin)
			if got, ok := r.header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("ack from %q: ACAO %q, want none", origin, got)
			}
		}
	})
}

func TestAck(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	e.user("u2")
	m1 := e.notify("message", "1", "u1")
	m2 := e.notify("message", "2", "u1")
	other := e.notify("message", "3", "u2")
	tok := e.token("u1")

	ack := func(id string, byHeader bool) resp {
		if byHeader {
			return e.do("POST", "/ack", `{"message_id":"`+id+`"}`, "Authorization", "Bearer "+tok, "Content-Type", "application/json")
		}
		return e.do("POST", "/ack?token="+tok, `{"message_id":"`+id+`"}`)
	}
	if r := ack(m1.ID, false); r.code != 204 || len(r.body) != 0 {
		t.Fatalf("ack: %d %q", r.code, r.body)
	}
	if r := ack(m1.ID, true); r.code != 204 {
		t.Fatalf("ack twice: %d %q", r.code, r.body)
	}
	if r := ack("000000000000000000000000", false); r.code != 404 || r.errorMsg(t) != "unknown message: 000000000000000000000000" {
		t.Errorf("ack unknown: %d %q", r.code, r.body)
	}
	if r := ack(other.ID, true); r.code != 404 || r.errorMsg(t) != "user u1 has no copy of message "+other.ID {
		t.Errorf("ack of another user's message: %d %q, want 404 saying u1 has no copy", r.code, r.body)
	}
	m, _ := e.st.Message(other.ID)
	if m.Recipients[0].Acked {
		t.Errorf("u1 acknowledged u2's copy")
	}
	for _, body := range []string{``, `{}`, `{"message_id":""}`, `{"message_id":"` + strings.Repeat("a", 129) + `"}`, `{"message_id":1}`, `{"message_id":"x","user_id":"u2"}`, `{"message_id":"x"} {}`} {
		r := e.do("POST", "/ack?token="+tok, body)
		if r.code != 400 {
			t.Errorf("ack body %q: %d %q, want 400", body, r.code, r.body)
		} else {
			r.errorMsg(t)
		}
	}
	m, _ = e.st.Message(m1.ID)
	if !m.Recipients[0].Acked {
		t.Fatal("copy not acknowledged in the store")
	}
	// A reconnect replays only what is still unacknowledged.
	s := e.open("/sse?token=" + tok)
	evs := s.waitEvents(1)
	time.Sleep(50 * time.Millisecond)
	evs = parseSSE([]byte(s.raw())).Events
	if len(evs) != 1 || evs[0].ID != strconv.FormatUint(m2.Seq, 10) {
		t.Errorf("replay after ack: %+v, want only seq %d", evs, m2.Seq)
	}
	if r := e.do("GET", "/ack", ""); r.code != 405 {
		t.Errorf("GET /ack: %d", r.code)
	} else {
		r.errorMsg(t)
	}
}

func TestPage(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	r := e.do("GET", "/", "")
	if r.code != 200 {
		t.Fatalf("GET /: %d", r.code)
	}
	h := r.header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", h.Get("Referrer-Policy"))
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	body := string(r.body)
	if !strings.Contains(strings.ToLower(body), "<!doctype html>") || !strings.Contains(body, "EventSource") {
		t.Errorf("page does not look like the live page: %.200q", body)
	}
	if urls := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindAllString(body, -1); len(urls) > 0 {
		t.Errorf("page references external URLs: %q", urls)
	}
	if m := regexp.MustCompile(`(?i)https?://`).FindAllString(body, -1); len(m) > 0 {
		t.Errorf("page contains http(s) URLs: %q", m)
	}
	for _, p := range []string{"/index.html", "/x", "/sse/x"} {
		if r := e.do("GET", p, ""); r.code != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.code)
		} else {
			r.errorMsg(t)
		}
	}
	if r := e.do("GET", "/healthz", ""); r.code != 200 || !bytes.Contains(r.body, []byte(`"ok"`)) {
		t.Errorf("healthz: %d %q", r.code, r.body)
	}
}

func TestTooManyStreams503(t *testing.T) {
	e := newEnv(t, hub.Options{MaxPerUser: 1, MaxStreams: 2, Heartbeat: 100 * time.Millisecond}, nil)
	e.user("u1")
	e.user("u2")
	e.user("u3")
	s := e.open("/sse?token=" + e.token("u1"))
	if s.res.StatusCode != 200 {
		t.Fatalf("first stream: %d", s.res.StatusCode)
	}
	r := e.do("GET", "/sse?token="+e.token("u1"), "")
	if r.code != 503 {
		t.Fatalf("second stream of u1: %d %q, want 503", r.code, r.body)
	}
	if msg := r.errorMsg(t); !strings.Contains(msg, "too many") {
		t.Errorf("503 message %q", msg)
	}
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	s2 := e.open("/sse?token=" + e.token("u2"))
	if s2.res.StatusCode != 200 {
		t.Fatalf("u2's stream: %d", s2.res.StatusCode)
	}
	if r := e.do("GET", "/sse?token="+e.token("u3"), ""); r.code != 503 {
		t.Fatalf("stream over MaxStreams: %d %q, want 503", r.code, r.body)
	}
	// Once the client goes away the slot is free again.
	s.close()
	eventually(t, "u1's closed stream to be noticed", func() bool { return e.hub.Online("u1") == 0 })
	s3 := e.open("/sse?token=" + e.token("u1"))
	if s3.res.StatusCode != 200 {
		t.Fatalf("reconnect of u1: %d", s3.res.StatusCode)
	}
}

func TestRevokeAndDeleteEndStreams(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	e.user("u2")
	e.user("u3")
	s1 := e.open("/sse?token=" + e.token("u1"))
	s1b := e.open("/sse?token=" + e.token("u1"))
	s2 := e.open("/sse?token=" + e.token("u2"))
	s3 := e.open("/sse?token=" + e.token("u3"))
	eventually(t, "streams", func() bool { return e.hub.Open() == 4 })
	old := e.token("u1")
	if err := e.st.RevokeUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	s1.waitEnd()
	s1b.waitEnd()
	if r := e.do("GET", "/sse?token="+old, ""); r.code != 401 {
		t.Errorf("reconnect with a revoked token: %d", r.code)
	}
	if err := e.st.DeleteUser(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	s2.waitEnd()
	// u3 is untouched and still live.
	rc := e.notify("message", `"still here"`, "u3")
	if evs := s3.waitEvents(1); evs[0].ID != strconv.FormatUint(rc.Seq, 10) {
		t.Errorf("u3 event %+v", evs)
	}
}

func TestShutdownEndsStreamsCleanly(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	s := e.open("/sse?token=" + e.token("u1"))
	s.waitFor("retry", func(p parsed, _ bool) bool { return p.Retry >= 0 })
	for i := range 50 {
		e.notify("message", strconv.Itoa(i), "u1")
	}
	e.hub.Close(5 * time.Second)
	p := s.waitEnd()
	if len(p.Events) != 50 {
		t.Errorf("after shutdown the client had %d of 50 events", len(p.Events))
	}
	if r := e.do("GET", "/sse?token="+e.token("u1"), ""); r.code != 503 {
		t.Errorf("stream after hub shutdown: %d %q, want 503", r.code, r.body)
	}
}

func TestPings(t *testing.T) {
	e := newEnv(t, hub.Options{Heartbeat: 100 * time.Millisecond}, func(c *sse.Config) { c.Retry = 1500 * time.Millisecond })
	e.user("u1")
	s := e.open("/sse?token=" + e.token("u1"))
	p := s.waitFor("two pings", func(p parsed, _ bool) bool { return len(p.Comments) >= 2 })
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
	e := newEnv(t, hub.Options{QueueLen: 4096}, nil)
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
	var streams []*stream
	for i := 0; i < 8; i++ {
		streams = append(streams, e.open("/sse?token="+tok))
		time.Sleep(time.Duration(i) * time.Millisecond)
	}
	<-done
	for i, s := range streams {
		evs := s.waitEvents(total)
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
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	_, err := e.st.Notify(context.Background(), store.Notification{Users: []string{"u1"}, Event: "message", Body: json.RawMessage(`"short"`), TTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	keep := e.notify("message", `"long"`, "u1")
	time.Sleep(20 * time.Millisecond)
	s := e.open("/sse?token=" + e.token("u1"))
	s.waitEvents(1)
	time.Sleep(50 * time.Millisecond)
	evs := parseSSE([]byte(s.raw())).Events
	if len(evs) != 1 || evs[0].ID != strconv.FormatUint(keep.Seq, 10) {
		t.Errorf("replay %+v, want only the unexpired seq %d", evs, keep.Seq)
	}
}

// TestHeadSSEHasNoBody: a HEAD request must not get content (RFC 9110
// 9.3.2), let alone hold a stream slot and mark pending copies delivered.
func TestHeadSSEHasNoBody(t *testing.T) {
	e := newEnv(t, hub.Options{}, nil)
	e.user("u1")
	rc := e.notify("message", `"pending"`, "u1")
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
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
