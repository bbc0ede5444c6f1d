package main

// The end-to-end harness: a real hub started in-process through run(), with
// the addresses it logs, and small JSON helpers that talk to it over HTTP
// the way an application does.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID     = "e2e-app"
	testClientSecret = "e2e-secret-0123456789"
	// guard is how long any single wait may take before the test fails.
	// It is a failure guard, not a performance assertion.
	guard = 10 * time.Second
)

// TestMain lets more of these tests run at once than the default
// -parallel (GOMAXPROCS): they mostly wait on fsync, bcrypt in another hub,
// or the network, not on a CPU. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < 4 {
		flag.Set("test.parallel", "4")
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testEnv is the whole environment a test hub sees: nothing leaks in from
// the real one (an RTCHUB_* variable of the machine would change flags).
func testEnv(extra map[string]string) func(string) string {
	env := map[string]string{
		"RTCHUB_CLIENT_ID":     testClientID,
		"RTCHUB_CLIENT_SECRET": testClientSecret,
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// logWriter collects a hub's log (thread-safe) and signals when the
// "rtchub ready" line appears, with the addresses in it.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	ready   chan struct{}
	once    sync.Once
	api     string
	sse     string
}

func newLogWriter() *logWriter { return &logWriter{ready: make(chan struct{})} }

var (
	reAPI = regexp.MustCompile(`\bapi=(\S+)`)
	reSSE = regexp.MustCompile(`\bsse=(\S+)`)
)

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if strings.Contains(line, `msg="rtchub ready"`) {
			a, s := reAPI.FindStringSubmatch(line), reSSE.FindStringSubmatch(line)
			if a != nil && s != nil {
				w.once.Do(func() {
					w.api, w.sse = a[1], s[1]
					close(w.ready)
				})
			}
		}
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *logWriter) addrs() (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.api, w.sse
}

// testHub is a running hub.
type testHub struct {
	t       testing.TB
	dir     string
	API     string // http://host:port of the API listener
	SSE     string // http://host:port of the SSE listener
	log     *logWriter
	cancel  context.CancelFunc
	done    chan error
	stopped bool

	tokOnce sync.Once
	tok     string
}

// startHub runs `rtchub serve` on dir with ephemeral ports plus extra flags,
// and waits for it to be ready. The hub is stopped (and run's result
// checked) at the end of the test unless the test stops it first.
func startHub(t testing.TB, dir string, extra ...string) *testHub {
	t.Helper()
	return startHubEnv(t, dir, nil, extra...)
}

// startHubEnv is startHub with environment variables added to (or, when
// empty, removed from) testEnv.
func startHubEnv(t testing.TB, dir string, env map[string]string, extra ...string) *testHub {
	t.Helper()
	args := []string{"serve", "--api-addr", "127.0.0.1:0", "--sse-addr", "127.0.0.1:0",
		"--data-dir", dir, "--log-level", "debug"}
	args = append(args, extra...)
	lw := newLogWriter()
	ctx, cancel := context.WithCancel(context.Background())
	h := &testHub{t: t, dir: dir, log: lw, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- run(ctx, args, testEnv(env), io.Discard, lw) }()
	select {
	case <-lw.ready:
	case err := <-h.done:
		cancel()
		t.Fatalf("hub exited before it was ready: %v\nlog:\n%s", err, lw.String())
	case <-time.After(4 * guard): // bcrypt under -race on a busy machine
		cancel()
		t.Fatalf("hub not ready after %v\nlog:\n%s", 4*guard, lw.String())
	}
	a, s := lw.addrs()
	h.API, h.SSE = "http://"+a, "http://"+s
	t.Cleanup(func() {
		if !h.stopped {
			h.stop(t)
		}
	})
	return h
}

// stop cancels the hub's context (the SIGTERM path) and asserts run
// returns nil.
func (h *testHub) stop(t testing.TB) {
	t.Helper()
	if h.stopped {
		return
	}
	h.stopped = true
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run returned %v after shutdown, want nil\nlog tail:\n%s", err, tail(h.log.String(), 40))
		}
	case <-time.After(4 * guard):
		t.Errorf("run did not return within %v of shutdown", 4*guard)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// httpc is the tests' HTTP client; the timeout is a failure guard.
var httpc = &http.Client{Timeout: 4 * guard}

// resp is a finished HTTP exchange.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// request does one HTTP request. body is nil, a string or []byte (sent
// as is), or anything else (sent as JSON). auth is the Authorization
// header value, if any.
func request(t testing.TB, method, url string, body any, hdr map[string]string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// accessToken exchanges the test client's credentials once per hub.
func (h *testHub) accessToken(t testing.TB) string {
	t.Helper()
	h.tokOnce.Do(func() {
		r := request(t, "POST", h.API+"/api/auth/token",
			map[string]string{"client_id": testClientID, "client_secret": testClientSecret}, nil)
		if r.Status != 200 {
			t.Fatalf("token exchange: %v", r)
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		mustJSON(t, r.Body, &out)
		h.tok = out.AccessToken
	})
	if h.tok == "" {
		t.Fatal("no access token")
	}
	return h.tok
}

// api calls the API listener with the hub's access token.
func (h *testHub) api(t testing.TB, method, path string, body any) resp {
	t.Helper()
	return request(t, method, h.API+path, body, bearer(h.accessToken(t)))
}

// must calls the API and fails unless the status is want; it decodes the
// body into out if out is not nil.
func (h *testHub) must(t testing.TB, want int, method, path string, body any, out any) resp {
	t.Helper()
	r := h.api(t, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: got %v, want status %d", method, path, r, want)
	}
	if out != nil {
		mustJSON(t, r.Body, out)
	}
	return r
}

func mustJSON(t testing.TB, b []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("response is not the JSON expected: %v\nbody: %s", err, b)
	}
}

// jsonEq reports whether two JSON texts are the same value.
func jsonEq(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// wantJSON fails unless r has status and a JSON body equal to want (a JSON
// text).
func wantJSON(t testing.TB, what string, r resp, status int, want string) {
	t.Helper()
	if r.Status != status || !jsonEq(r.Body, []byte(want)) {
		t.Errorf("%s: got %v\nwant %d %s", what, r, status, want)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// wantError fails unless r is status with a JSON body {"error": "<non-empty
// string>"} and nothing else; if contains is not empty, the message must
// contain it.
func wantError(t testing.TB, what string, r resp, status int, contains string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: got %v, want status %d", what, r, status)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json (body %s)", what, ct, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Errorf("%s: error body is not JSON: %s", what, r.Body)
		return
	}
	msg, ok := m["error"].(string)
	if len(m) != 1 || !ok || msg == "" {
		t.Errorf(`%s: error body %s, want exactly {"error": "<message>"}`, what, r.Body)
		return
	}
	if contains != "" && !strings.Contains(msg, contains) {
		t.Errorf("%s: error %q does not mention %q", what, msg, contains)
	}
}

// ---- typed helpers ----

type userOut struct {
	ID      string   `json:"id"`
	Groups  []string `json:"groups"`
	Online  int      `json:"online"`
	Pending int      `json:"pending"`
}

type receipt struct {
	ID         string `json:"id"`
	Seq        uint64 `json:"seq"`
	Recipients int    `json:"recipients"`
}

func (h *testHub) putUser(t testing.TB, id string, groups ...string) {
	t.Helper()
	if groups == nil {
		groups = []string{}
	}
	r := h.api(t, "POST", "/api/user", map[string]any{"id": id, "groups": groups})
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("POST /api/user %s: %v", id, r)
	}
}

func (h *testHub) putGroup(t testing.TB, id string, users ...string) {
	t.Helper()
	if users == nil {
		users = []string{}
	}
	r := h.api(t, "POST", "/api/group", map[string]any{"id": id, "users": users})
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("POST /api/group %s: %v", id, r)
	}
}

func (h *testHub) user(t testing.TB, id string) userOut {
	t.Helper()
	var u userOut
	h.must(t, 200, "GET", "/api/user/"+id, nil, &u)
	return u
}

// userToken gets a user token; query is appended as is (e.g. "?ttl=5").
func (h *testHub) userToken(t testing.TB, id string, query string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	h.must(t, 200, "GET", "/api/user/"+id+"/token"+query, nil, &out)
	if out.Token == "" {
		t.Fatalf("empty user token for %s", id)
	}
	return out.Token
}

// notify sends body (a map or raw JSON) and wants a 202.
func (h *testHub) notify(t testing.TB, body any) receipt {
	t.Helper()
	var rc receipt
	h.must(t, 202, "POST", "/api/message/notify", body, &rc)
	if rc.ID == "" || rc.Seq == 0 {
		t.Fatalf("notify receipt %+v: want an id and a seq", rc)
	}
	return rc
}

func (h *testHub) ack(t testing.TB, msgID, user string) {
	t.Helper()
	h.must(t, 204, "POST", "/api/message/acknowledge", map[string]string{"message_id": msgID, "user_id": user}, nil)
}

// metric returns the value of an unlabelled metric from /metrics.
func (h *testHub) metric(t testing.TB, name string) float64 {
	t.Helper()
	r := request(t, "GET", h.API+"/metrics", nil, nil)
	if r.Status != 200 {
		t.Fatalf("GET /metrics: %v", r)
	}
	for _, line := range strings.Split(string(r.Body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return v
		}
	}
	t.Fatalf("metric %s not found in /metrics:\n%s", name, r.Body)
	return 0
}

// eventually polls cond until it holds or the guard runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %v", what, guard)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
