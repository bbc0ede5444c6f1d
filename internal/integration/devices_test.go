package integration

// Every device in step: acknowledgements, recalls and replacements reach
// every stream of a user, live and on reconnect, as SPEC.md's "Every
// device in step" says; the message status and the inbox show each copy's
// state.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// hubEvent is the data of an rtchub.ack or rtchub.recall event.
type hubEvent struct {
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// wantHubEvent fails unless ev is the hub event name about message id, with
// its id: line equal to its seq, and returns its data.
func wantHubEvent(t testing.TB, ev testkit.Item, name, id string) hubEvent {
	t.Helper()
	var d hubEvent
	testkit.MustJSON(t, []byte(ev.Data), &d)
	if ev.Event != name || d.ID != id || !ev.HasID || ev.ID != strconv.FormatUint(d.Seq, 10) {
		t.Fatalf("got event %q id %q data %s, want %s about %s with id: its seq", ev.Event, ev.ID, ev.Data, name, id)
	}
	return d
}

// wantMessage fails unless ev is the message id.
func wantMessage(t testing.TB, ev testkit.Item, id string) {
	t.Helper()
	var d struct {
		ID string `json:"id"`
	}
	testkit.MustJSON(t, []byte(ev.Data), &d)
	if d.ID != id || ev.Event == "rtchub.ack" || ev.Event == "rtchub.recall" {
		t.Fatalf("got event %q %s, want message %s", ev.Event, ev.Data, id)
	}
}

// wantQuiet fails if c gets an event within d.
func wantQuiet(t testing.TB, c *testkit.Stream, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		p := c.Parsed()
		select {
		case <-deadline:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if q := c.Parsed(); len(q.Events) > len(p.Events) {
			t.Fatalf("unexpected event: %+v", q.Events[len(q.Events)-1])
		}
	}
}

func TestAcksReachEveryDevice(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir())
	h.PutUser(t, "ann")
	tok := h.UserToken(t, "ann", "")
	phone, laptop := testkit.DialSSE(t, h.SSE, tok), testkit.DialSSE(t, h.SSE, tok)
	m1 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "one"})
	m2 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "two"})
	for _, c := range []*testkit.Stream{phone, laptop} {
		wantMessage(t, c.Next(t, testkit.Guard), m1.ID)
		wantMessage(t, c.Next(t, testkit.Guard), m2.ID)
	}

	t.Run("acknowledged on the phone", func(t *testing.T) {
		r := testkit.Request(t, "POST", h.SSE+"/ack?token="+tok, map[string]string{"message_id": m1.ID}, nil)
		if r.Status != 204 {
			t.Fatalf("POST /ack: %v", r)
		}
		for name, c := range map[string]*testkit.Stream{"phone": phone, "laptop": laptop} {
			d := wantHubEvent(t, c.Next(t, testkit.Guard), "rtchub.ack", m1.ID)
			if d.Seq <= m2.Seq || d.Reason != "" || d.By != "" {
				t.Errorf("%s: ack %+v, want a seq after the messages and no reason", name, d)
			}
		}
	})
	t.Run("acknowledged by the application", func(t *testing.T) {
		h.Ack(t, m2.ID, "ann")
		for _, c := range []*testkit.Stream{phone, laptop} {
			wantHubEvent(t, c.Next(t, testkit.Guard), "rtchub.ack", m2.ID)
		}
	})
	t.Run("acknowledging twice tells nobody", func(t *testing.T) {
		seq := h.Metric(t, "rtchub_log_seq")
		h.Ack(t, m2.ID, "ann")
		if got := h.Metric(t, "rtchub_log_seq"); got != seq {
			t.Errorf("a second ack wrote a record: seq %v -> %v", seq, got)
		}
		wantQuiet(t, laptop, 200*time.Millisecond)
	})
}

func TestReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir())
	h.PutUsers(t, "ann", "bob")
	tok := h.UserToken(t, "ann", "")
	laptop := testkit.DialSSE(t, h.SSE, tok)
	m1 := h.Notify(t, map[string]any{"users": []string{"ann", "bob"}, "message": "one"})
	m2 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "two"})
	m3 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "three"})
	wantMessage(t, laptop.Next(t, testkit.Guard), m1.ID)
	wantMessage(t, laptop.Next(t, testkit.Guard), m2.ID)
	last := laptop.Next(t, testkit.Guard)
	wantMessage(t, last, m3.ID)
	laptop.Close()

	// While the laptop is away: the phone acknowledges m1, the application
	// recalls m2, bob acknowledges his own copy of m1 (not ann's news), and
	// m4 comes.
	if r := testkit.Request(t, "POST", h.SSE+"/ack?token="+tok, map[string]string{"message_id": m1.ID}, nil); r.Status != 204 {
		t.Fatal(r)
	}
	h.Must(t, 204, "DELETE", "/api/message/"+m2.ID, nil, nil)
	h.Ack(t, m1.ID, "bob")
	m4 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "four"})

	back := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", last.ID))
	wantHubEvent(t, back.Next(t, testkit.Guard), "rtchub.ack", m1.ID)
	if d := wantHubEvent(t, back.Next(t, testkit.Guard), "rtchub.recall", m2.ID); d.Reason != "recalled" {
		t.Errorf("recall reason %q", d.Reason)
	}
	wantMessage(t, back.Next(t, testkit.Guard), m4.ID)
	wantQuiet(t, back, 200*time.Millisecond)

	// Without Last-Event-ID only the pending messages come, as before.
	fresh := testkit.DialSSE(t, h.SSE, tok)
	wantMessage(t, fresh.Next(t, testkit.Guard), m3.ID)
	wantMessage(t, fresh.Next(t, testkit.Guard), m4.ID)
	wantQuiet(t, fresh, 200*time.Millisecond)
}

func TestRecall(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir())
	for _, u := range []string{"ann", "bob", "cyd"} {
		h.PutUser(t, u)
	}
	m := h.Notify(t, map[string]any{"users": []string{"ann", "bob", "cyd"}, "message": "oops"})
	h.Ack(t, m.ID, "cyd")
	tok := h.UserToken(t, "ann", "")
	c1, c2 := testkit.DialSSE(t, h.SSE, tok), testkit.DialSSE(t, h.SSE, tok)
	wantMessage(t, c1.Next(t, testkit.Guard), m.ID)
	wantMessage(t, c2.Next(t, testkit.Guard), m.ID)

	h.Must(t, 204, "DELETE", "/api/message/"+m.ID, nil, nil)
	for _, c := range []*testkit.Stream{c1, c2} {
		if d := wantHubEvent(t, c.Next(t, testkit.Guard), "rtchub.recall", m.ID); d.Reason != "recalled" || d.By != "" {
			t.Errorf("recall %+v", d)
		}
	}
	seq := h.Metric(t, "rtchub_log_seq")
	h.Must(t, 204, "DELETE", "/api/message/"+m.ID, nil, nil) // twice: 204
	h.Ack(t, m.ID, "ann")                                    // a recalled copy: 204
	if got := h.Metric(t, "rtchub_log_seq"); got != seq {
		t.Errorf("recalling twice or acknowledging a recalled copy wrote: seq %v -> %v", seq, got)
	}
	testkit.WantJSON(t, "status", h.Call(t, "GET", "/api/message/"+m.ID, nil), 200, fmt.Sprintf(`{"id":%q,"seq":%d,"event":"message","message":"oops",
		"created_at":%q,"expires_at":%q,"recipients":[
		{"user_id":"ann","delivered":true,"acknowledged":false,"state":"recalled"},
		{"user_id":"bob","delivered":false,"acknowledged":false,"state":"recalled"},
		{"user_id":"cyd","delivered":true,"acknowledged":true,"state":"acknowledged"}]}`,
		m.ID, m.Seq, createdAt(t, h, m.ID), expiresAt(t, h, m.ID)))
	// Not replayed any more.
	if u := h.User(t, "bob"); u.Pending != 0 {
		t.Errorf("bob still has %d pending", u.Pending)
	}
	wantQuiet(t, testkit.DialSSE(t, h.SSE, h.UserToken(t, "bob", "")), 200*time.Millisecond)
	testkit.WantError(t, "recall of an unknown message", h.Call(t, "DELETE", "/api/message/000000000000000000000000", nil), 404, "unknown message")
}

func createdAt(t testing.TB, h *testkit.Hub, id string) string { return field(t, h, id, "created_at") }
func expiresAt(t testing.TB, h *testkit.Hub, id string) string { return field(t, h, id, "expires_at") }

func field(t testing.TB, h *testkit.Hub, id, name string) string {
	t.Helper()
	var m map[string]any
	h.Must(t, 200, "GET", "/api/message/"+id, nil, &m)
	return m[name].(string)
}

func TestKeyReplaces(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir())
	h.PutUsers(t, "ann", "bob")
	tok := h.UserToken(t, "ann", "")
	battery := func(pct int, users ...string) testkit.Receipt {
		return h.Notify(t, map[string]any{"users": users, "message": map[string]int{"battery": pct}, "key": "battery"})
	}

	t.Run("offline: one copy left", func(t *testing.T) {
		var last testkit.Receipt
		for pct := 50; pct > 40; pct-- {
			last = battery(pct, "ann")
		}
		if u := h.User(t, "ann"); u.Pending != 1 {
			t.Fatalf("ann has %d pending after ten with one key, want 1", u.Pending)
		}
		c := testkit.DialSSE(t, h.SSE, tok)
		ev := c.Next(t, testkit.Guard)
		wantMessage(t, ev, last.ID)
		var d map[string]any
		testkit.MustJSON(t, []byte(ev.Data), &d)
		if d["key"] != "battery" {
			t.Errorf("the message's data %s lacks its key", ev.Data)
		}
		wantQuiet(t, c, 200*time.Millisecond)
		c.Close()
	})

	t.Run("live: recall, then the new one", func(t *testing.T) {
		c := testkit.DialSSE(t, h.SSE, tok)
		old := c.Next(t, testkit.Guard)
		var od hubEvent
		testkit.MustJSON(t, []byte(old.Data), &od)
		next := battery(40, "ann", "bob")
		d := wantHubEvent(t, c.Next(t, testkit.Guard), "rtchub.recall", od.ID)
		if d.Reason != "replaced" || d.By != next.ID || d.Seq >= next.Seq {
			t.Errorf("replacement %+v, want reason replaced by %s before seq %d", d, next.ID, next.Seq)
		}
		wantMessage(t, c.Next(t, testkit.Guard), next.ID)

		// Keys are per user: bob's copy of a replaced message stays.
		m := battery(39, "ann")
		if u := h.User(t, "bob"); u.Pending != 1 {
			t.Errorf("bob's copy was replaced by a message to ann only: pending %d", u.Pending)
		}
		var st struct {
			Key        string `json:"key"`
			Recipients []struct {
				UserID string `json:"user_id"`
				State  string `json:"state"`
			} `json:"recipients"`
		}
		h.Must(t, 200, "GET", "/api/message/"+next.ID, nil, &st)
		if st.Key != "battery" || len(st.Recipients) != 2 || st.Recipients[0].State != "replaced" || st.Recipients[1].State != "pending" {
			t.Errorf("status of a half-replaced message: %+v", st)
		}
		wantHubEvent(t, c.Next(t, testkit.Guard), "rtchub.recall", next.ID)
		wantMessage(t, c.Next(t, testkit.Guard), m.ID)
	})

	t.Run("offline with Last-Event-ID: the recall and the new one", func(t *testing.T) {
		c := testkit.DialSSE(t, h.SSE, tok)
		ev := c.Next(t, testkit.Guard)
		c.Close()
		var od hubEvent
		testkit.MustJSON(t, []byte(ev.Data), &od)
		m := battery(38, "ann")
		back := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", ev.ID))
		wantHubEvent(t, back.Next(t, testkit.Guard), "rtchub.recall", od.ID)
		wantMessage(t, back.Next(t, testkit.Guard), m.ID)
	})

	t.Run("a bad key or a hub event name is refused", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"users": []string{"ann"}, "message": 1, "key": "a b"},
			{"users": []string{"ann"}, "message": 1, "key": ""},
			{"users": []string{"ann"}, "message": 1, "event": "rtchub.ack"},
			{"users": []string{"ann"}, "message": 1, "event": "rtchub.anything"},
		} {
			// A key is 1-64 characters (SPEC): "" is refused, not taken for none.
			testkit.WantError(t, fmt.Sprint(body), h.Call(t, "POST", "/api/message/notify", body), 400, "")
		}
	})
}

func TestResetAfterCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir, func(c *server.Config) { c.Store.CompactMin = -1 })
	h.PutUser(t, "ann")
	tok := h.UserToken(t, "ann", "")
	c := testkit.DialSSE(t, h.SSE, tok)
	m1 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 1})
	ev := c.Next(t, testkit.Guard)
	c.Close()
	h.Ack(t, m1.ID, "ann")
	m2 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 2})
	if out, code := runBinary(t, "compact", "--data-dir", dir); code != 0 {
		t.Fatalf("compact: exit %d: %s", code, out)
	}
	seq := strconv.FormatFloat(h.Metric(t, "rtchub_log_seq"), 'f', 0, 64)
	back := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", ev.ID))
	if r := back.Next(t, testkit.Guard); r.Event != "rtchub.reset" || r.Data != "{}" {
		t.Fatalf("after compaction: %+v, want rtchub.reset", r)
	}
	wantMessage(t, back.Next(t, testkit.Guard), m2.ID)
	back.WaitFor(t, "the log's seq as last event id", func(p testkit.Parsed, _ bool) bool { return p.LastEventID == seq })
	back.Close()
	// Resuming from there works without another reset.
	again := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", seq))
	m3 := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": 3})
	wantMessage(t, again.Next(t, testkit.Guard), m3.ID)

	// The same after a restart, which replays the compacted log.
	h.Stop(t)
	h2 := testkit.StartHub(t, dir)
	old := testkit.DialSSE(t, h2.SSE, tok, testkit.WithHeader("Last-Event-ID", ev.ID))
	if r := old.Next(t, testkit.Guard); r.Event != "rtchub.reset" {
		t.Fatalf("after restart: %+v, want rtchub.reset", r)
	}
}

func TestHistoryLimit(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.Store.History = 2 })
	h.PutUser(t, "ann")
	tok := h.UserToken(t, "ann", "")
	c := testkit.DialSSE(t, h.SSE, tok)
	var ms []testkit.Receipt
	for i := range 4 {
		ms = append(ms, h.Notify(t, map[string]any{"users": []string{"ann"}, "message": i}))
	}
	var last testkit.Item
	for range ms {
		last = c.Next(t, testkit.Guard)
	}
	c.Close()
	h.Ack(t, ms[0].ID, "ann")
	h.Ack(t, ms[1].ID, "ann")
	// Two acknowledgements fit: no reset.
	back := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", last.ID))
	wantHubEvent(t, back.Next(t, testkit.Guard), "rtchub.ack", ms[0].ID)
	wantHubEvent(t, back.Next(t, testkit.Guard), "rtchub.ack", ms[1].ID)
	back.Close()
	// A third pushes the first out: the history no longer reaches back.
	h.Ack(t, ms[2].ID, "ann")
	reset := testkit.DialSSE(t, h.SSE, tok, testkit.WithHeader("Last-Event-ID", last.ID))
	if r := reset.Next(t, testkit.Guard); r.Event != "rtchub.reset" {
		t.Fatalf("past the history: %+v, want rtchub.reset", r)
	}
	wantMessage(t, reset.Next(t, testkit.Guard), ms[3].ID)
}

func TestInbox(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir())
	h.PutUser(t, "ann")
	var ms []testkit.Receipt
	for i := range 5 {
		body := map[string]any{"users": []string{"ann"}, "message": i, "event": "note"}
		if i == 4 {
			body["key"] = "k"
		}
		ms = append(ms, h.Notify(t, body))
	}
	h.Ack(t, ms[0].ID, "ann")
	h.Must(t, 204, "DELETE", "/api/message/"+ms[1].ID, nil, nil)
	type entry struct {
		ID    string          `json:"id"`
		Seq   uint64          `json:"seq"`
		Event string          `json:"event"`
		Key   string          `json:"key"`
		Msg   json.RawMessage `json:"message"`
		State string          `json:"state"`
	}
	list := func(query string) []entry {
		t.Helper()
		var out []entry
		h.Must(t, 200, "GET", "/api/user/ann/messages"+query, nil, &out)
		return out
	}
	ids := func(es []entry) (out []string) {
		for _, e := range es {
			out = append(out, e.ID[:4]+":"+e.State)
		}
		return out
	}
	short := func(i int, st string) string { return ms[i].ID[:4] + ":" + st }
	if got, want := fmt.Sprint(ids(list(""))), fmt.Sprint([]string{short(2, "pending"), short(3, "pending"), short(4, "pending")}); got != want {
		t.Errorf("pending inbox %s, want %s", got, want)
	}
	all := list("?state=all")
	if got, want := fmt.Sprint(ids(all)), fmt.Sprint([]string{short(0, "acknowledged"), short(1, "recalled"), short(2, "pending"), short(3, "pending"), short(4, "pending")}); got != want {
		t.Errorf("whole inbox %s, want %s", got, want)
	}
	if all[4].Key != "k" || all[0].Key != "" || all[0].Event != "note" || string(all[2].Msg) != "2" {
		t.Errorf("entries %+v", all)
	}
	if got, want := fmt.Sprint(ids(list(fmt.Sprintf("?state=all&after=%d&limit=2", ms[1].Seq)))), fmt.Sprint([]string{short(2, "pending"), short(3, "pending")}); got != want {
		t.Errorf("page %s, want %s", got, want)
	}
	testkit.WantError(t, "limit over 1000", h.Call(t, "GET", "/api/user/ann/messages?limit=1001", nil), 400, "limit")
	testkit.WantError(t, "bad state", h.Call(t, "GET", "/api/user/ann/messages?state=done", nil), 400, "state")
	testkit.WantError(t, "unknown user", h.Call(t, "GET", "/api/user/nobody/messages", nil), 404, "unknown user")
}

// TestResetAfterRecreate: deleting a user drops its copies; a device of
// that user that comes back, with a token of the re-created user and the
// last event id it had, is told to reset (its view holds what is gone),
// before and after a restart; a device of the new user resumes.
func TestResetAfterRecreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir)
	h.PutUser(t, "ann")
	c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "ann", ""))
	h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "old"})
	old := c.Next(t, testkit.Guard)
	h.Must(t, 204, "DELETE", "/api/user/ann", nil, nil)
	c.WaitEOF(t, testkit.Guard)
	h.PutUser(t, "ann")
	m := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "new"})

	last := m.Seq // what a device of the new ann saw last
	for round, hub := range []*testkit.Hub{h, nil} {
		if hub == nil {
			h.Stop(t)
			hub = testkit.StartHub(t, dir)
		}
		tok := hub.UserToken(t, "ann", "")
		back := testkit.DialSSE(t, hub.SSE, tok, testkit.WithHeader("Last-Event-ID", old.ID))
		if r := back.Next(t, testkit.Guard); r.Event != "rtchub.reset" {
			t.Fatalf("round %d: a device of the deleted ann (last id %s) got %+v, want rtchub.reset", round, old.ID, r)
		}
		wantMessage(t, back.Next(t, testkit.Guard), m.ID)
		back.Close()
		// A device that saw the new message resumes after it.
		fresh := testkit.DialSSE(t, hub.SSE, tok, testkit.WithHeader("Last-Event-ID", strconv.FormatUint(last, 10)))
		m2 := hub.Notify(t, map[string]any{"users": []string{"ann"}, "message": round})
		wantMessage(t, fresh.Next(t, testkit.Guard), m2.ID)
		fresh.Close()
		last = m2.Seq
	}
}
