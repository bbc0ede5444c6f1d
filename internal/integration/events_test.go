package integration

// GET /api/events: the application's stream of what users do, live and
// resumable from the log.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// appEvent is the data of any application event.
type appEvent struct {
	MessageID  string   `json:"message_id"`
	UserID     string   `json:"user_id"`
	UserIDs    []string `json:"user_ids"`
	Seq        uint64   `json:"seq"`
	Recipients int      `json:"recipients"`
	Key        string   `json:"key"`
	Reason     string   `json:"reason"`
	By         string   `json:"by"`
	Streams    *int     `json:"streams"`
	At         string   `json:"at"`
}

// dialEvents opens GET /api/events with the hub's access token and query.
func dialEvents(t testing.TB, h *testkit.Hub, query string, opts ...testkit.StreamOpt) *testkit.Stream {
	t.Helper()
	u := h.API + "/api/events?token=" + url.QueryEscape(h.AccessToken(t))
	if query != "" {
		u += "&" + query
	}
	s := testkit.Open(t, u, opts...)
	if s.Status != 200 {
		t.Fatalf("GET /api/events: %v", s.Resp())
	}
	return s
}

// nextApp returns the next event of c as name and data, checking that
// durable events carry their seq as id and live ones none.
func nextApp(t testing.TB, c *testkit.Stream) (string, appEvent) {
	t.Helper()
	ev := c.Next(t, testkit.Guard)
	var d appEvent
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("event %s: data %q: %v", ev.Event, ev.Data, err)
	}
	switch ev.Event {
	case "sent", "acknowledged", "recalled", "user.deleted":
		if !ev.HasID || ev.ID != strconv.FormatUint(d.Seq, 10) || d.Seq == 0 {
			t.Fatalf("durable event %s: id %q (%v), seq %d", ev.Event, ev.ID, ev.HasID, d.Seq)
		}
	case "reset":
	default:
		if ev.HasID {
			t.Fatalf("live event %s has an id: %q", ev.Event, ev.ID)
		}
		if _, err := time.Parse(time.RFC3339, d.At); err != nil {
			t.Fatalf("live event %s: at %q", ev.Event, d.At)
		}
	}
	return ev.Event, d
}

// want takes events of c until one named name that satisfies ok, failing
// if any other durable event comes first.
func wantApp(t testing.TB, c *testkit.Stream, name string, ok func(appEvent) bool) appEvent {
	t.Helper()
	for {
		got, d := nextApp(t, c)
		if got == name && (ok == nil || ok(d)) {
			return d
		}
		switch got {
		case "sent", "acknowledged", "recalled", "user.deleted":
			t.Fatalf("got %s %+v while waiting for %s", got, d, name)
		}
	}
}

func TestApplicationEvents(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.Hub.Heartbeat = 300 * time.Millisecond })
	h.PutUsers(t, "ann", "bob")
	all := dialEvents(t, h, "")
	onlyAcks := dialEvents(t, h, "events=acknowledged")
	onlyBob := dialEvents(t, h, "user=bob&events=sent,acknowledged")

	c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "ann", ""))
	wantApp(t, all, "online", func(d appEvent) bool { return d.UserID == "ann" && d.Streams != nil && *d.Streams == 1 })
	m := h.Notify(t, map[string]any{"users": []string{"ann", "bob"}, "message": "hi", "key": "k"})
	sent := wantApp(t, all, "sent", nil)
	if sent.MessageID != m.ID || sent.Seq != m.Seq || sent.Recipients != 2 || sent.Key != "k" {
		t.Errorf("sent %+v, want %s seq %d to 2 with key k", sent, m.ID, m.Seq)
	}
	c.Next(t, testkit.Guard)
	wantApp(t, all, "delivered", func(d appEvent) bool { return d.MessageID == m.ID && d.UserID == "ann" })
	h.Ack(t, m.ID, "ann")
	ack := wantApp(t, all, "acknowledged", nil)
	if ack.MessageID != m.ID || ack.UserID != "ann" || ack.Seq <= m.Seq {
		t.Errorf("acknowledged %+v", ack)
	}
	if _, err := time.Parse(time.RFC3339, ack.At); err != nil {
		t.Errorf("acknowledged at %q", ack.At)
	}
	h.Must(t, 204, "DELETE", "/api/message/"+m.ID, nil, nil)
	rec := wantApp(t, all, "recalled", nil)
	if rec.MessageID != m.ID || fmt.Sprint(rec.UserIDs) != "[bob]" || rec.Reason != "recalled" {
		t.Errorf("recalled %+v", rec)
	}
	m2 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "short", "ttl": 1})
	wantApp(t, all, "sent", func(d appEvent) bool { return d.MessageID == m2.ID })
	wantApp(t, all, "expired", func(d appEvent) bool { return d.MessageID == m2.ID && fmt.Sprint(d.UserIDs) == "[ann]" })
	c.Close()
	wantApp(t, all, "offline", func(d appEvent) bool { return d.UserID == "ann" && *d.Streams == 0 })
	h.Must(t, 204, "DELETE", "/api/user/bob", nil, nil)
	wantApp(t, all, "user.deleted", func(d appEvent) bool { return d.UserID == "bob" })

	// The filtered streams saw only what they asked for.
	if name, d := nextApp(t, onlyAcks); name != "acknowledged" || d.MessageID != m.ID {
		t.Errorf("events=acknowledged got %s %+v first", name, d)
	}
	if name, d := nextApp(t, onlyBob); name != "sent" || d.MessageID != m.ID {
		t.Errorf("user=bob got %s %+v first", name, d)
	}
	wantQuiet(t, onlyBob, 300*time.Millisecond) // ann's ack and message are not bob's

	for _, q := range []string{"events=nope", "events=sent,", "user=a%20b"} {
		r := testkit.Request(t, "GET", h.API+"/api/events?"+q, nil, testkit.Bearer(h.AccessToken(t)))
		testkit.WantError(t, q, r, 400, "")
	}
	testkit.WantError(t, "no token", testkit.Request(t, "GET", h.API+"/api/events", nil, nil), 401, "")
}

func TestApplicationEventsResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := testkit.StartChild(t, dir, "--compact-min", "-1")
	h := c.Hub
	h.PutUser(t, "ann")
	m1 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 1})
	h.Ack(t, m1.ID, "ann")
	m2 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 2, "key": "k"})
	m3 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 3, "key": "k"}) // replaces m2
	appTok := h.AccessToken(t)

	// kill -9, restart: the durable events come back from the log.
	if err := c.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.Exited
	h2 := testkit.StartChild(t, dir, "--compact-min", "-1").Hub
	h2.UseAccessToken(appTok)
	s := dialEvents(t, h2, "", testkit.WithHeader("Last-Event-ID", strconv.FormatUint(m1.Seq-1, 10)))
	var got []string
	for range 5 {
		name, d := nextApp(t, s)
		got = append(got, fmt.Sprintf("%s:%s:%s", name, d.MessageID[:4], d.Reason))
	}
	want := []string{"sent:" + m1.ID[:4] + ":", "acknowledged:" + m1.ID[:4] + ":", "sent:" + m2.ID[:4] + ":",
		"recalled:" + m2.ID[:4] + ":replaced", "sent:" + m3.ID[:4] + ":"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resumed events %v, want %v", got, want)
	}
	// Then live ones.
	m4 := h2.Notify(t, map[string]any{"users": []string{"ann"}, "message": 4})
	wantApp(t, s, "sent", func(d appEvent) bool { return d.MessageID == m4.ID })
	s.Close()

	// Resuming from the middle skips what came before.
	s = dialEvents(t, h2, "events=sent", testkit.WithQuery("last_event_id", strconv.FormatUint(m3.Seq-1, 10)))
	wantApp(t, s, "sent", func(d appEvent) bool { return d.MessageID == m3.ID })
	wantApp(t, s, "sent", func(d appEvent) bool { return d.MessageID == m4.ID })
	s.Close()

	// A user's deletion comes back to a stream filtered to that user, as
	// it went out live.
	h2.PutUser(t, "bob")
	h2.Must(t, 204, "DELETE", "/api/user/bob", nil, nil)
	s = dialEvents(t, h2, "user=bob", testkit.WithQuery("last_event_id", strconv.FormatUint(m4.Seq, 10)))
	wantApp(t, s, "user.deleted", func(d appEvent) bool { return d.UserID == "bob" })
	s.Close()

	// After a compaction the log no longer reaches back: reset, then live.
	if out, code := runBinary(t, "compact", "--data-dir", dir); code != 0 {
		t.Fatalf("compact: exit %d: %s", code, out)
	}
	s = dialEvents(t, h2, "", testkit.WithHeader("Last-Event-ID", strconv.FormatUint(m1.Seq, 10)))
	if name, _ := nextApp(t, s); name != "reset" {
		t.Fatalf("after compaction: %s, want reset", name)
	}
	m5 := h2.Notify(t, map[string]any{"users": []string{"ann"}, "message": 5})
	wantApp(t, s, "sent", func(d appEvent) bool { return d.MessageID == m5.ID })
	if !strings.Contains(string(s.Raw()), "event: reset") {
		t.Error("no reset on the wire")
	}
}
