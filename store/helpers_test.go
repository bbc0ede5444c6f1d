package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/internal/testkit/testio"
)

// TestMain removes the log that BenchmarkReplay1M caches across its runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if replayCache.dir != "" {
		os.RemoveAll(replayCache.dir)
	}
	os.Exit(code)
}

var bg = context.Background()

// fakeBase is in the future on purpose: the store's expiry timer waits in
// real time until a message's expiry on the fake clock, so with fake times
// ahead of the wall clock it never fires during a test and expiry happens
// only where a test makes it happen (replay, Subscribe's filter).
var fakeBase = time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: fakeBase} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestLogger logs to a buffer that a test may read while the writer
// goroutine logs.
func newTestLogger() (*slog.Logger, *testio.Buffer) {
	buf := &testio.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func body(s string) json.RawMessage { return json.RawMessage(s) }

func notify(t *testing.T, s *Store, n Notification) Receipt {
	t.Helper()
	if n.TTL == 0 {
		n.TTL = time.Hour
	}
	if n.Body == nil {
		n.Body = body(`{"k":"v"}`)
	}
	rc, err := s.Notify(bg, n)
	if err != nil {
		t.Fatalf("Notify(%+v): %v", n, err)
	}
	return rc
}

func putUser(t *testing.T, s *Store, id string, groups ...string) {
	t.Helper()
	if _, _, err := s.PutUser(bg, id, groups); err != nil {
		t.Fatalf("PutUser(%s): %v", id, err)
	}
}

func putGroup(t *testing.T, s *Store, id string, users ...string) {
	t.Helper()
	if _, _, err := s.PutGroup(bg, id, users); err != nil {
		t.Fatalf("PutGroup(%s): %v", id, err)
	}
}

// putTeam puts the group g, then ann and bob in it.
func putTeam(t *testing.T, s *Store) {
	t.Helper()
	putGroup(t, s, "g")
	putUser(t, s, "ann", "g")
	putUser(t, s, "bob", "g")
}

func ack(t *testing.T, s *Store, msg, user string) {
	t.Helper()
	if err := s.Ack(bg, msg, user); err != nil {
		t.Fatalf("Ack(%s, %s): %v", msg, user, err)
	}
}

// testOptions are quick options for tests where durability is not the
// point: no fsync per batch, no automatic compaction, a fake clock.
func testOptions(dir string, clk *fakeClock) Options {
	if clk == nil {
		clk = newClock()
	}
	return Options{Dir: dir, Fsync: FsyncNever, CompactMin: -1, Now: clk.Now}
}

// newStore opens a store with testOptions (on clk, or a new fake clock) on
// a new directory, changed by each of with, and returns it with its
// options for reopen.
func newStore(tb testing.TB, clk *fakeClock, with ...func(*Options)) (*Store, Options) {
	tb.Helper()
	opts := testOptions(tb.TempDir(), clk)
	for _, f := range with {
		f(&opts)
	}
	return mustOpen(tb, opts), opts
}

func mustOpen(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s, err := Open(opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", opts.Dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func mustClose(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

// reopen closes s and opens its directory again.
func reopen(tb testing.TB, s *Store, opts Options) *Store {
	tb.Helper()
	mustClose(tb, s)
	return mustOpen(tb, opts)
}

// compactAndReopen compacts s, closes it and opens its directory again:
// the state then comes from the snapshot.
func compactAndReopen(tb testing.TB, s *Store, opts Options) *Store {
	tb.Helper()
	if err := s.Compact(); err != nil {
		tb.Fatal(err)
	}
	return reopen(tb, s, opts)
}

// notifyAcked is a step of a writer goroutine in the compaction tests: it
// notifies n and, if ack, acknowledges the copy of n's one user. It returns
// the message's id, or false after a failure, which it reports with t.Error
// (a goroutine may not end the test).
func notifyAcked(t *testing.T, s *Store, n Notification, ack bool) (string, bool) {
	rc, err := s.Notify(bg, n)
	if err == nil && ack {
		err = s.Ack(bg, rc.ID, n.Users[0])
	}
	if err != nil {
		t.Error(err)
		return "", false
	}
	return rc.ID, true
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func logPath(dir string) string { return filepath.Join(dir, LogName) }

// lineEnds returns the offset just past each newline of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	return ends
}

// lineSeqs decodes every complete line of an intact log and returns seqs.
func lineSeqs(tb testing.TB, data []byte) []uint64 {
	tb.Helper()
	var seqs []uint64
	start := 0
	for _, end := range lineEnds(data) {
		var r record
		if err := decodeLine(data[start:end], &r); err != nil {
			tb.Fatalf("line at byte %d: %v", start, err)
		}
		seqs = append(seqs, r.Seq)
		start = end
	}
	return seqs
}

// frame builds a log from records, as the writer would frame them.
func frame(tb testing.TB, recs ...record) []byte {
	tb.Helper()
	var out []byte
	for i := range recs {
		body, err := encodeBody(&recs[i])
		if err != nil {
			tb.Fatal(err)
		}
		out = appendLine(out, recs[i].Seq, body)
	}
	return out
}

// checkIntact fails unless data is a log of intact records only, and
// returns how many.
func checkIntact(tb testing.TB, data []byte) int {
	tb.Helper()
	res, err := scanLog(bytes.NewReader(data), "log", nil)
	if err != nil {
		tb.Fatalf("log is not intact: %v", err)
	}
	if res.torn != nil || res.good != int64(len(data)) {
		tb.Fatalf("log is not intact: %d of %d bytes good, tail: %v", res.good, len(data), res.torn)
	}
	return res.records
}

// stateDump is what the public API shows of a store, for comparing a store
// before and after a restart, compaction or backup.
type stateDump struct {
	Stats    Stats
	Users    []UserInfo
	Groups   []GroupInfo
	Clients  []Client
	Gens     map[string]string         // user id -> "gen=N exists=B"
	Pending  map[string][]string       // user id -> "seq:id" as Subscribe shows them
	Messages map[string]*messageDigest // nil when the message is not known
}

type messageDigest struct {
	Seq        uint64
	Event      string
	Key        string
	Body       string
	Created    time.Time
	Expires    time.Time
	Recipients []RecipientInfo
}

// dumpState reads the state through the public API. userIDs name users to
// ask for generations (also deleted ones); msgIDs name messages to look up.
func dumpState(tb testing.TB, s *Store, userIDs, msgIDs []string) stateDump {
	tb.Helper()
	d := stateDump{
		Stats:    s.Stats(),
		Clients:  s.Clients(),
		Gens:     map[string]string{},
		Pending:  map[string][]string{},
		Messages: map[string]*messageDigest{},
	}
	users, err := s.Users("")
	if err != nil {
		tb.Fatal(err)
	}
	d.Users = users
	for _, g := range s.Groups() {
		gi, ok := s.Group(g.ID)
		if !ok {
			tb.Fatalf("group %s listed but not found", g.ID)
		}
		d.Groups = append(d.Groups, gi)
	}
	for _, id := range userIDs {
		gen, exists := s.UserGen(id)
		d.Gens[id] = fmt.Sprintf("gen=%d exists=%v", gen, exists)
	}
	pending := 0
	for _, u := range users {
		gen, _ := s.UserGen(u.ID)
		var list []string
		if err := s.Subscribe(u.ID, gen, Resume{}, func(rp Replay) {
			p := rp.Pending
			for _, m := range p {
				list = append(list, fmt.Sprintf("%d:%s", m.Seq, m.ID))
			}
		}); err != nil {
			tb.Fatalf("Subscribe(%s): %v", u.ID, err)
		}
		d.Pending[u.ID] = list
		pending += len(list)
		if u.Pending != len(list) {
			tb.Fatalf("user %s: Pending %d, but Subscribe replays %d", u.ID, u.Pending, len(list))
		}
	}
	// Stats keeps a running count; it must be the sum the users show.
	if d.Stats.Pending != pending {
		tb.Fatalf("Stats.Pending %d, but the users hold %d pending copies", d.Stats.Pending, pending)
	}
	for _, id := range msgIDs {
		mi, ok := s.Message(id)
		if !ok {
			d.Messages[id] = nil
			continue
		}
		md := &messageDigest{Seq: mi.Seq, Event: mi.Event, Key: mi.Key, Body: string(mi.Body), Created: mi.Created, Expires: mi.Expires}
		for _, rc := range mi.Recipients {
			rc.Delivered = false // not kept in the log
			md.Recipients = append(md.Recipients, rc)
		}
		d.Messages[id] = md
	}
	return d
}

func (d stateDump) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stats %+v\n", d.Stats)
	for _, u := range d.Users {
		fmt.Fprintf(&b, "user %s groups=%v pending=%d %v\n", u.ID, u.Groups, u.Pending, d.Pending[u.ID])
	}
	for _, g := range d.Groups {
		fmt.Fprintf(&b, "group %s %v\n", g.ID, g.Users)
	}
	for _, c := range d.Clients {
		fmt.Fprintf(&b, "client %+v\n", c)
	}
	for _, id := range sortedKeys(d.Gens) {
		fmt.Fprintf(&b, "gen %s %s\n", id, d.Gens[id])
	}
	for _, id := range sortedKeys(d.Messages) {
		m := d.Messages[id]
		if m == nil {
			fmt.Fprintf(&b, "msg %s: none\n", id)
		} else {
			fmt.Fprintf(&b, "msg %s: %+v\n", id, *m)
		}
	}
	return b.String()
}

func sameState(tb testing.TB, what string, want, got stateDump) {
	tb.Helper()
	if !reflect.DeepEqual(want, got) {
		tb.Fatalf("%s: state differs\nwant:\n%s\ngot:\n%s", what, want, got)
	}
}

func notFound(err error, kind, id string) bool {
	var nf *NotFoundError
	return errors.As(err, &nf) && nf.Kind == kind && nf.ID == id
}

// pendingIDs returns the ids Subscribe gives for a user at its current gen.
func pendingIDs(tb testing.TB, s *Store, user string) []string {
	tb.Helper()
	gen, _ := s.UserGen(user)
	var ids []string
	if err := s.Subscribe(user, gen, Resume{}, func(rp Replay) {
		p := rp.Pending
		for _, m := range p {
			ids = append(ids, m.ID)
		}
	}); err != nil {
		tb.Fatalf("Subscribe(%s): %v", user, err)
	}
	return ids
}
