package testkit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"rtchub/internal/server"
	"rtchub/internal/testkit/testio"
	"rtchub/store"
)

// The application client every test hub has.
const (
	ClientID     = "e2e-app"
	ClientSecret = "e2e-secret-0123456789"
)

// Config is server.DefaultConfig for a test: ephemeral loopback ports,
// the data directory dir, and the test client.
func Config(dir string) server.Config {
	c := server.DefaultConfig()
	c.APIAddr, c.SSEAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.Store.Dir = dir
	c.Client = server.ClientCredentials{ID: ClientID, Secret: ClientSecret}
	c.Version = "test"
	return c
}

// Hub is a running hub of a test, started through internal/server as
// `rtchub serve` starts one, and talked to over loopback HTTP.
type Hub struct {
	Dir    string
	API    string // http://host:port of the API listener
	SSE    string // http://host:port of the SSE listener
	Server *server.Server
	Log    *LogBuffer

	cancel  context.CancelFunc
	done    chan error
	stopped bool

	tokOnce sync.Once
	tok     string
}

// StartHub runs a hub on dir with Config(dir) changed by mods, and stops
// it at the end of the test unless the test does. Stopping must succeed
// (Run returns nil), as `rtchub serve` exits 0 on SIGTERM.
func StartHub(tb testing.TB, dir string, mods ...func(*server.Config)) *Hub {
	tb.Helper()
	cfg := Config(dir)
	for _, m := range mods {
		m(&cfg)
	}
	return StartHubConfig(tb, cfg)
}

// StartHubConfig is StartHub with a whole Config.
func StartHubConfig(tb testing.TB, cfg server.Config) *Hub {
	tb.Helper()
	seedClient(tb, cfg)
	lb := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	for deadline := time.Now().Add(Guard); errors.Is(err, store.ErrLocked) && time.Now().Before(deadline); {
		// A child process that another test forks copies this process's
		// open files until it execs, the last hub's lock among them: the
		// flock outlives its Close for that moment.
		time.Sleep(20 * time.Millisecond)
		srv, err = server.New(ctx, cfg, log)
	}
	if err != nil {
		cancel()
		tb.Fatalf("server.New: %v\nlog:\n%s", err, lb.String())
	}
	h := &Hub{
		Dir: cfg.Store.Dir, API: "http://" + srv.APIAddr(), SSE: "http://" + srv.SSEAddr(),
		Server: srv, Log: lb, cancel: cancel, done: make(chan error, 1),
	}
	go func() { h.done <- srv.Run(ctx) }()
	tb.Cleanup(func() {
		if !h.stopped {
			h.Stop(tb)
		}
	})
	return h
}

// Stop shuts the hub down as SIGTERM does and fails unless Run returns nil.
func (h *Hub) Stop(tb testing.TB) {
	tb.Helper()
	if h.stopped {
		return
	}
	h.stopped = true
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			tb.Errorf("Run returned %v after shutdown, want nil\nlog tail:\n%s", err, Tail(h.Log.String(), 40))
		}
	case <-time.After(4 * Guard):
		tb.Errorf("Run did not return within %v of shutdown", 4*Guard)
	}
}

// AccessToken exchanges the test client's credentials once per hub.
func (h *Hub) AccessToken(tb testing.TB) string {
	tb.Helper()
	h.tokOnce.Do(func() {
		r := Request(tb, "POST", h.API+"/api/auth/token", map[string]string{"client_id": ClientID, "client_secret": ClientSecret}, nil)
		if r.Status != 200 {
			tb.Fatalf("token exchange: %v", r)
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		MustJSON(tb, r.Body, &out)
		h.tok = out.AccessToken
	})
	if h.tok == "" {
		tb.Fatal("no access token")
	}
	return h.tok
}

// Call calls the API listener with the hub's access token.
func (h *Hub) Call(tb testing.TB, method, path string, body any) Resp {
	tb.Helper()
	return Request(tb, method, h.API+path, body, Bearer(h.AccessToken(tb)))
}

// Must calls the API and fails unless the status is want; it decodes the
// body into out if out is not nil.
func (h *Hub) Must(tb testing.TB, want int, method, path string, body any, out any) Resp {
	tb.Helper()
	r := h.Call(tb, method, path, body)
	if r.Status != want {
		tb.Fatalf("%s %s: got %v, want status %d", method, path, r, want)
	}
	if out != nil {
		MustJSON(tb, r.Body, out)
	}
	return r
}

// User is a user as the API shows it.
type User struct {
	ID      string   `json:"id"`
	Groups  []string `json:"groups"`
	Online  int      `json:"online"`
	Pending int      `json:"pending"`
}

// Receipt is a notify's 202 body.
type Receipt struct {
	ID         string `json:"id"`
	Seq        uint64 `json:"seq"`
	Recipients int    `json:"recipients"`
}

// PutUser creates or replaces a user (201 or 200).
func (h *Hub) PutUser(tb testing.TB, id string, groups ...string) {
	tb.Helper()
	h.put(tb, "/api/user", id, "groups", groups)
}

// PutUsers creates or replaces each of ids as a user of no group.
func (h *Hub) PutUsers(tb testing.TB, ids ...string) {
	tb.Helper()
	for _, id := range ids {
		h.PutUser(tb, id)
	}
}

// PutGroup creates a group or adds members (201 or 200).
func (h *Hub) PutGroup(tb testing.TB, id string, users ...string) {
	tb.Helper()
	h.put(tb, "/api/group", id, "users", users)
}

// put POSTs id with its members under field to path and wants 201 or 200.
// No members are sent as [], as a client would.
func (h *Hub) put(tb testing.TB, path, id, field string, members []string) {
	tb.Helper()
	if members == nil {
		members = []string{}
	}
	if r := h.Call(tb, "POST", path, map[string]any{"id": id, field: members}); r.Status != 201 && r.Status != 200 {
		tb.Fatalf("POST %s %s: %v", path, id, r)
	}
}

// User returns GET /api/user/{id}.
func (h *Hub) User(tb testing.TB, id string) User {
	tb.Helper()
	var u User
	h.Must(tb, 200, "GET", "/api/user/"+id, nil, &u)
	return u
}

// UserToken gets a user token; query is appended as is (e.g. "?ttl=5").
func (h *Hub) UserToken(tb testing.TB, id string, query string) string {
	tb.Helper()
	var out struct {
		Token string `json:"token"`
	}
	h.Must(tb, 200, "GET", "/api/user/"+id+"/token"+query, nil, &out)
	if out.Token == "" {
		tb.Fatalf("empty user token for %s", id)
	}
	return out.Token
}

// Notify sends body (a map or raw JSON) and wants a 202.
func (h *Hub) Notify(tb testing.TB, body any) Receipt {
	tb.Helper()
	var rc Receipt
	h.Must(tb, 202, "POST", "/api/message/notify", body, &rc)
	if rc.ID == "" || rc.Seq == 0 {
		tb.Fatalf("notify receipt %+v: want an id and a seq", rc)
	}
	return rc
}

// Ack acknowledges user's copy of a message as the application, wanting 204.
func (h *Hub) Ack(tb testing.TB, msgID, user string) {
	tb.Helper()
	h.Must(tb, 204, "POST", "/api/message/acknowledge", map[string]string{"message_id": msgID, "user_id": user}, nil)
}

// Metric returns the value of an unlabelled metric from /metrics.
func (h *Hub) Metric(tb testing.TB, name string) float64 {
	tb.Helper()
	return MetricAt(tb, h.API, name)
}

// MetricAt returns the value of an unlabelled metric from api's /metrics.
func MetricAt(tb testing.TB, api, name string) float64 {
	tb.Helper()
	r := Request(tb, "GET", api+"/metrics", nil, nil)
	if r.Status != 200 {
		tb.Fatalf("GET /metrics: %v", r)
	}
	for line := range strings.SplitSeq(string(r.Body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatalf("metric %s: %q", name, line)
			}
			return v
		}
	}
	tb.Fatalf("metric %s not found in /metrics:\n%s", name, r.Body)
	return 0
}

// LogBuffer collects a hub's log; it is safe for concurrent use.
type LogBuffer = testio.Buffer

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Healthy reports whether base/healthz answers 200.
func Healthy(base string) bool {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get(base + "/healthz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// Remote is a Hub for a hub this process does not run (a child process,
// or `rtchub serve` run by a test): a client of it, whose Stop does nothing.
func Remote(dir, api, sse string, log *LogBuffer) *Hub {
	return &Hub{Dir: dir, API: api, SSE: sse, Log: log, stopped: true}
}

// UseAccessToken makes the hub use tok (say, one issued by the hub that
// ran on the same data directory before) instead of exchanging its own.
func (h *Hub) UseAccessToken(tok string) { h.tokOnce.Do(func() { h.tok = tok }) }

// seedClient writes cfg's client into a new data directory with a bcrypt
// hash of the lowest cost, as the hub would at its first start but for
// the cost: the hub then finds the secret matching and writes nothing, and
// tests under -race do not pay for a default-cost hash each.
func seedClient(tb testing.TB, cfg server.Config) {
	tb.Helper()
	if cfg.Client.ID == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(cfg.Store.Dir, store.LogName)); err == nil {
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.Client.Secret), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	opts := cfg.Store
	opts.CompactMin = -1
	st, err := store.Open(opts)
	if err != nil {
		tb.Fatalf("seed the test client: %v", err)
	}
	defer st.Close()
	if _, err := st.PutClient(context.Background(), cfg.Client.ID, cfg.Client.ID, string(hash)); err != nil {
		tb.Fatalf("seed the test client: %v", err)
	}
}

// WaitExit waits for the hub to stop by itself (Run returning) and returns
// Run's result; it fails the test after timeout.
func (h *Hub) WaitExit(tb testing.TB, timeout time.Duration) error {
	tb.Helper()
	select {
	case err := <-h.done:
		h.stopped = true
		h.cancel()
		return err
	case <-time.After(timeout):
		tb.Fatalf("the hub did not stop by itself within %v", timeout)
		return nil
	}
}
