package integration

// End-to-end tests of delivery (GET /sse, POST /ack) against SPEC.md, as a
// browser's EventSource sees them on the wire.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestSSE runs the delivery tests on one hub; each subtest has users of
// its own, so they run in parallel.
func TestSSE(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.SSE.Retry, c.Hub.Heartbeat = 1500*time.Millisecond, 700*time.Millisecond })
	h.AccessToken(t)

	t.Run("headers and framing", func(t *testing.T) {
		t.Parallel()
		h.PutUser(t, "frame")
		type sent struct {
			rc    testkit.Receipt
			event string
			msg   string // compact JSON
		}
		var want []sent
		send := func(body, event, compact string) {
			rc := h.Notify(t, body)
			want = append(want, sent{rc, event, compact})
		}
		// Pending before the stream opens; the first is pretty-printed
		// JSON, which must still go out as one data line.
		send("{\"users\":[\"frame\"],\"message\":{\n  \"a\": [1, 2],\n  \"b\": {\"c\": null}\n}}", "message", `{"a":[1,2],"b":{"c":null}}`)
		send(`{"users":["frame"],"message":"line1\nline2\r\nline3","event":"custom.evt-1:x"}`, "custom.evt-1:x", `"line1\nline2\r\nline3"`)
		send(`{"users":["frame"],"message":"h\u00e9llo \u2028 ✓ 🎉","event":"message"}`, "message", `"h\u00e9llo \u2028 ✓ 🎉"`)
		send(`{"users":["frame"],"message":12.5e3}`, "message", `12.5e3`)
		// An empty event is the default (client libraries send "" for an
		// unset field), as README's decisions say.
		send(`{"users":["frame"],"message":0,"event":""}`, "message", `0`)

		c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "frame", ""))
		if c.Status != 200 {
			t.Fatalf("GET /sse: %d %s", c.Status, c.Body)
		}
		if mt, _, err := mime.ParseMediaType(c.Header.Get("Content-Type")); err != nil || mt != "text/event-stream" {
			t.Errorf("Content-Type %q, want text/event-stream", c.Header.Get("Content-Type"))
		}
		if cc := c.Header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
			t.Errorf("Cache-Control %q, want no-cache", cc)
		}
		if v := c.Header.Get("X-Accel-Buffering"); v != "no" {
			t.Errorf("X-Accel-Buffering %q, want no", v)
		}
		if v := c.Header.Get("Access-Control-Allow-Origin"); v != "*" {
			t.Errorf("Access-Control-Allow-Origin %q, want * (the default --cors-origins)", v)
		}
		if first := c.NextItem(t, testkit.Guard); first.Kind != testkit.KindRetry || first.Retry != 1500 {
			t.Errorf("first item %+v, want retry: 1500 (--retry 1500ms)", first)
		}
		check := func(ev testkit.Item, w sent) {
			t.Helper()
			if ev.Event != w.event {
				t.Errorf("event %q, want %q", ev.Event, w.event)
			}
			d := decodeData(t, ev)
			if d.ID != w.rc.ID || d.Seq != w.rc.Seq {
				t.Errorf("got message %s seq %d, want %s seq %d (oldest first)", d.ID, d.Seq, w.rc.ID, w.rc.Seq)
			}
			// The exact line of the contract.
			wantData := fmt.Sprintf(`{"id":"%s","seq":%d,"message":%s,"created_at":"%s"}`, w.rc.ID, w.rc.Seq, w.msg, d.CreatedAt)
			if ev.Data != wantData {
				t.Errorf("data\n got %s\nwant %s", ev.Data, wantData)
			}
			var m struct {
				CreatedAt string `json:"created_at"`
			}
			h.Must(t, 200, "GET", "/api/message/"+w.rc.ID, nil, &m)
			t1, _ := time.Parse(time.RFC3339, d.CreatedAt)
			t2, _ := time.Parse(time.RFC3339, m.CreatedAt)
			if !t1.Equal(t2) {
				t.Errorf("created_at on the stream %s, in the API %s", d.CreatedAt, m.CreatedAt)
			}
		}
		for _, w := range want {
			check(c.Next(t, testkit.Guard), w)
		}
		// Then live.
		want = want[:0]
		send(`{"users":["frame"],"message":{"live":true},"event":"live"}`, "live", `{"live":true}`)
		send(`{"users":["frame"],"message":[]}`, "message", `[]`)
		for _, w := range want {
			check(c.Next(t, testkit.Guard), w)
		}
		// Frames on the wire are exactly id, event, data, blank line.
		raw := c.Raw()
		if !bytes.HasPrefix(raw, []byte("retry: 1500\n\n")) {
			t.Errorf("stream starts %q, want retry: 1500 then a blank line", raw[:min(len(raw), 40)])
		}
		last := want[len(want)-1]
		frame := fmt.Sprintf("id: %d\nevent: message\ndata: {\"id\":\"%s\",\"seq\":%d,\"message\":[],\"created_at\":", last.rc.Seq, last.rc.ID, last.rc.Seq)
		if !bytes.Contains(raw, []byte(frame)) {
			t.Errorf("raw stream lacks the frame %q:\n%s", frame, raw)
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		t.Parallel()
		h.PutUser(t, "pinged")
		c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "pinged", ""))
		for {
			it := c.NextItem(t, testkit.Guard)
			if it.Kind == testkit.KindComment {
				if it.Comment != " ping" {
					t.Errorf("comment %q, want \" ping\"", it.Comment)
				}
				break
			}
		}
	})

	t.Run("group fan-out reaches each member once", func(t *testing.T) {
		t.Parallel()
		h.PutGroup(t, "fan")
		h.PutUser(t, "fan-a", "fan")
		h.PutUser(t, "fan-b", "fan")
		h.PutUser(t, "fan-out") // not in the group
		streams := map[string]*testkit.Stream{}
		for _, u := range []string{"fan-a", "fan-b", "fan-out"} {
			streams[u] = testkit.DialSSE(t, h.SSE, h.UserToken(t, u, ""))
		}
		rc := h.Notify(t, map[string]any{"users": []string{"fan-a", "fan-b", "fan-a"}, "groups": []string{"fan", "fan"}, "message": "once"})
		if rc.Recipients != 2 {
			t.Errorf("recipients %d, want 2", rc.Recipients)
		}
		marker := h.Notify(t, map[string]any{"users": []string{"fan-a", "fan-b", "fan-out"}, "message": "marker"})
		for u, want := range map[string][]string{"fan-a": {rc.ID, marker.ID}, "fan-b": {rc.ID, marker.ID}, "fan-out": {marker.ID}} {
			for _, id := range want {
				if d := decodeData(t, streams[u].Next(t, testkit.Guard)); d.ID != id {
					t.Errorf("%s got %s (%s), want %s", u, d.ID, d.Message, id)
				}
			}
		}
		// Recipients are the members at the time of the call: a member
		// added later gets nothing old.
		h.PutUser(t, "fan-late", "fan")
		late := testkit.DialSSE(t, h.SSE, h.UserToken(t, "fan-late", ""))
		m3 := h.Notify(t, map[string]any{"users": []string{"fan-late"}, "message": "first for late"})
		if d := decodeData(t, late.Next(t, testkit.Guard)); d.ID != m3.ID {
			t.Errorf("a member added later got %s (%s), want only %s", d.ID, d.Message, m3.ID)
		}
		if u := h.User(t, "fan-a"); u.Pending != 2 {
			t.Errorf("fan-a pending %d, want 2 (one copy per message)", u.Pending)
		}
	})

	t.Run("several streams of one user all receive", func(t *testing.T) {
		t.Parallel()
		h.PutUser(t, "multi")
		tok := h.UserToken(t, "multi", "")
		var cs []*testkit.Stream
		for i := 0; i < 3; i++ {
			cs = append(cs, testkit.DialSSE(t, h.SSE, tok))
		}
		// The token may come as Authorization: Bearer.
		cs = append(cs, testkit.DialSSE(t, h.SSE, "", testkit.WithHeader("Authorization", "Bearer "+tok)))
		for i, c := range cs {
			if c.Status != 200 {
				t.Fatalf("stream %d: %d %s", i, c.Status, c.Body)
			}
		}
		testkit.Eventually(t, "4 streams online", func() bool { return h.User(t, "multi").Online == 4 })
		rcs := []testkit.Receipt{
			h.Notify(t, map[string]any{"users": []string{"multi"}, "message": 1}),
			h.Notify(t, map[string]any{"users": []string{"multi"}, "message": 2}),
		}
		for i, c := range cs {
			for _, rc := range rcs {
				if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
					t.Errorf("stream %d got %s, want %s", i, d.ID, rc.ID)
				}
			}
		}
	})

	t.Run("live order under concurrent senders", func(t *testing.T) {
		t.Parallel()
		h.PutGroup(t, "conc")
		h.PutUser(t, "conc-a", "conc")
		h.PutUser(t, "conc-b", "conc")
		cs := []*testkit.Stream{
			testkit.DialSSE(t, h.SSE, h.UserToken(t, "conc-a", "")),
			testkit.DialSSE(t, h.SSE, h.UserToken(t, "conc-a", "")),
			testkit.DialSSE(t, h.SSE, h.UserToken(t, "conc-b", "")),
		}
		testkit.Eventually(t, "streams open", func() bool { return h.User(t, "conc-a").Online == 2 && h.User(t, "conc-b").Online == 1 })
		const senders, each = 4, 25
		var mu sync.Mutex
		sent := map[string]uint64{}
		var wg sync.WaitGroup
		for g := 0; g < senders; g++ {
			wg.Go(func() {
				for i := 0; i < each; i++ {
					r := testkit.Request(t, "POST", h.API+"/api/message/notify", map[string]any{"groups": []string{"conc"}, "message": []int{g, i}}, testkit.Bearer(h.AccessToken(t)))
					var rc testkit.Receipt
					if r.Status != 202 || json.Unmarshal(r.Body, &rc) != nil {
						t.Errorf("notify: %v", r)
						return
					}
					mu.Lock()
					sent[rc.ID] = rc.Seq
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for i, c := range cs {
			var last uint64
			for n := 0; n < len(sent); n++ {
				d := decodeData(t, c.Next(t, testkit.Guard))
				if seq, ok := sent[d.ID]; !ok || seq != d.Seq {
					t.Fatalf("stream %d: unexpected message %s seq %d", i, d.ID, d.Seq)
				}
				if d.Seq <= last {
					t.Errorf("stream %d: seq %d after %d: live events out of order", i, d.Seq, last)
				}
				last = d.Seq
			}
		}
	})

	t.Run("Last-Event-ID", func(t *testing.T) {
		t.Parallel()
		for i, tc := range []struct {
			name  string
			after int // index of the last message the client has; -1: none
			how   string
		}{
			{"header after the first", 0, "header"},
			{"header after the second", 1, "header"},
			{"query after the first", 0, "query"},
			{"header after all", 2, "header"},
			{"header 0", -1, "header"},
			{"query 0", -1, "query"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := fmt.Sprintf("resume-%d", i)
				h.PutUser(t, u)
				var rcs []testkit.Receipt
				for j := 0; j < 3; j++ {
					rcs = append(rcs, h.Notify(t, map[string]any{"users": []string{u}, "message": j}))
				}
				last := "0"
				if tc.after >= 0 {
					last = strconv.FormatUint(rcs[tc.after].Seq, 10)
				}
				opt := testkit.WithHeader("Last-Event-ID", last)
				if tc.how == "query" {
					opt = testkit.WithQuery("last_event_id", last)
				}
				c := testkit.DialSSE(t, h.SSE, h.UserToken(t, u, ""), opt)
				live := h.Notify(t, map[string]any{"users": []string{u}, "message": "live"})
				want := append(rcs[tc.after+1:], live)
				for _, rc := range want {
					if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
						t.Errorf("got %s seq %d, want %s seq %d", d.ID, d.Seq, rc.ID, rc.Seq)
					}
				}
				// Without it, everything pending comes again.
				c2 := testkit.DialSSE(t, h.SSE, h.UserToken(t, u, ""))
				for _, rc := range append(rcs, live) {
					if d := decodeData(t, c2.Next(t, testkit.Guard)); d.ID != rc.ID {
						t.Errorf("fresh stream got %s, want %s", d.ID, rc.ID)
					}
				}
			})
		}
	})

	t.Run("ack stops replay", func(t *testing.T) {
		t.Parallel()
		for i, tc := range []struct {
			name string
			ack  func(t *testing.T, user, tok, msgID string) testkit.Resp
		}{
			{"API", func(t *testing.T, user, tok, msgID string) testkit.Resp {
				return h.Call(t, "POST", "/api/message/acknowledge", map[string]string{"message_id": msgID, "user_id": user})
			}},
			{"POST /ack?token=", func(t *testing.T, user, tok, msgID string) testkit.Resp {
				return testkit.Request(t, "POST", h.SSE+"/ack?token="+url.QueryEscape(tok), map[string]string{"message_id": msgID}, map[string]string{"Origin": "https://app.example"})
			}},
			{"POST /ack with Authorization", func(t *testing.T, user, tok, msgID string) testkit.Resp {
				return testkit.Request(t, "POST", h.SSE+"/ack", map[string]string{"message_id": msgID}, map[string]string{"Authorization": "Bearer " + tok, "Origin": "https://app.example"})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := fmt.Sprintf("acker-%d", i)
				h.PutUser(t, u)
				tok := h.UserToken(t, u, "")
				m1 := h.Notify(t, map[string]any{"users": []string{u}, "message": "one"})
				m2 := h.Notify(t, map[string]any{"users": []string{u}, "message": "two"})
				c := testkit.DialSSE(t, h.SSE, tok)
				for _, rc := range []testkit.Receipt{m1, m2} {
					if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
						t.Fatalf("got %s, want %s", d.ID, rc.ID)
					}
				}
				r := tc.ack(t, u, tok, m1.ID)
				if r.Status != 204 || len(r.Body) != 0 {
					t.Errorf("ack: got %v, want 204", r)
				}
				if strings.HasPrefix(tc.name, "POST /ack") && r.Header.Get("Access-Control-Allow-Origin") == "" {
					t.Errorf("POST /ack has no Access-Control-Allow-Origin")
				}
				if r := tc.ack(t, u, tok, m1.ID); r.Status != 204 {
					t.Errorf("ack twice: got %v, want 204", r)
				}
				if r := tc.ack(t, u, tok, "no-such-message"); r.Status != 404 {
					t.Errorf("ack of an unknown message: got %v, want 404", r)
				}
				c.Close()
				c2 := testkit.DialSSE(t, h.SSE, tok)
				live := h.Notify(t, map[string]any{"users": []string{u}, "message": "live"})
				for _, rc := range []testkit.Receipt{m2, live} {
					if d := decodeData(t, c2.Next(t, testkit.Guard)); d.ID != rc.ID {
						t.Errorf("after acking %s: got %s (%s), want %s", m1.ID, d.ID, d.Message, rc.ID)
					}
				}
				if p := h.User(t, u).Pending; p != 2 {
					t.Errorf("pending %d, want 2", p)
				}
			})
		}
	})

	t.Run("POST /ack errors", func(t *testing.T) {
		t.Parallel()
		h.PutUsers(t, "ack-err", "ack-other")
		tok := h.UserToken(t, "ack-err", "")
		other := h.Notify(t, map[string]any{"users": []string{"ack-other"}, "message": "not yours"})
		mine := h.Notify(t, map[string]any{"users": []string{"ack-err"}, "message": "yours"})
		ack := func(query string, hdr map[string]string, body any) testkit.Resp {
			return testkit.Request(t, "POST", h.SSE+"/ack"+query, body, hdr)
		}
		body := map[string]string{"message_id": mine.ID}
		testkit.WantError(t, "no token", ack("", nil, body), 400, "")
		testkit.WantError(t, "malformed token", ack("?token=abc", nil, body), 400, "")
		testkit.WantError(t, "app token", ack("", testkit.Bearer(h.AccessToken(t)), body), 401, "")
		testkit.WantError(t, "bad signature", ack("?token="+url.QueryEscape(flipMAC(tok)), nil, body), 401, "")
		testkit.WantError(t, "another user's message", ack("", testkit.Bearer(tok), map[string]string{"message_id": other.ID}), 404, "")
		testkit.WantError(t, "no message_id", ack("", testkit.Bearer(tok), map[string]string{}), 400, "")
		testkit.WantError(t, "user_id is not a field of /ack", ack("", testkit.Bearer(tok), map[string]string{"message_id": mine.ID, "user_id": "ack-other"}), 400, "")
		testkit.WantError(t, "not JSON", ack("", testkit.Bearer(tok), "nope"), 400, "")
		if p := h.User(t, "ack-err").Pending; p != 1 {
			t.Errorf("pending %d after refused acks, want 1", p)
		}
		if p := h.User(t, "ack-other").Pending; p != 1 {
			t.Errorf("ack-other pending %d after another user acked its message, want 1", p)
		}
	})

	t.Run("token errors", func(t *testing.T) {
		t.Parallel()
		h.PutUsers(t, "tk-revoked", "tk-deleted", "tk-ok")
		revoked := h.UserToken(t, "tk-revoked", "")
		h.Must(t, 204, "POST", "/api/user/tk-revoked/revoke", nil, nil)
		deleted := h.UserToken(t, "tk-deleted", "")
		h.Must(t, 204, "DELETE", "/api/user/tk-deleted", nil, nil)
		recreated := h.UserToken(t, "tk-ok", "")
		h.Must(t, 204, "DELETE", "/api/user/tk-ok", nil, nil)
		h.PutUser(t, "tk-ok")
		expiring := h.UserToken(t, "tk-ok", "?ttl=1")
		otherKey := foreignUserToken(t, "tk-ok") // well-formed, signed by another hub's key
		time.Sleep(2100 * time.Millisecond)      // ttl=1 has run out (expiry is rounded up to a whole second)
		for _, tc := range []struct {
			name   string
			tok    string
			status int
			bearer bool
		}{
			{"missing", "", 400, false},
			{"malformed", "not-a-token", 400, false},
			{"malformed prefix", "rt1.!!!.???", 400, false},
			{"malformed as bearer", "not-a-token", 400, true},
			{"app token", h.AccessToken(t), 401, false},
			{"app token as bearer", h.AccessToken(t), 401, true},
			{"bad signature", flipMAC(h.UserToken(t, "tk-ok", "")), 401, false},
			{"signed by another key", otherKey, 401, false},
			{"expired", expiring, 401, false},
			{"revoked", revoked, 401, false},
			{"revoked as bearer", revoked, 401, true},
			{"deleted user", deleted, 401, false},
			{"recreated user, old token", recreated, 401, false},
		} {
			var c *testkit.Stream
			if tc.bearer {
				c = testkit.DialSSE(t, h.SSE, "", testkit.WithHeader("Authorization", "Bearer "+tc.tok))
			} else {
				c = testkit.DialSSE(t, h.SSE, tc.tok)
			}
			testkit.WantError(t, tc.name, c.Resp(), tc.status, "")
		}
		// The recreated user's new token works, and its old pending
		// messages are gone.
		c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "tk-ok", ""))
		if c.Status != 200 {
			t.Errorf("new token of a recreated user: %d %s", c.Status, c.Body)
		}
	})

	t.Run("revoke closes open streams", func(t *testing.T) {
		t.Parallel()
		h.PutUsers(t, "rv", "rv-bystander")
		old := h.UserToken(t, "rv", "")
		pend := h.Notify(t, map[string]any{"users": []string{"rv"}, "message": "kept"})
		c1, c2 := testkit.DialSSE(t, h.SSE, old), testkit.DialSSE(t, h.SSE, old)
		by := testkit.DialSSE(t, h.SSE, h.UserToken(t, "rv-bystander", ""))
		c1.Next(t, testkit.Guard)
		c2.Next(t, testkit.Guard)
		h.Must(t, 204, "POST", "/api/user/rv/revoke", nil, nil)
		c1.WaitEOF(t, testkit.Guard)
		c2.WaitEOF(t, testkit.Guard)
		testkit.WantError(t, "revoked token", func() testkit.Resp {
			c := testkit.DialSSE(t, h.SSE, old)
			return c.Resp()
		}(), 401, "")
		// A token issued after the revocation works; pending messages stay.
		c3 := testkit.DialSSE(t, h.SSE, h.UserToken(t, "rv", ""))
		if d := decodeData(t, c3.Next(t, testkit.Guard)); d.ID != pend.ID {
			t.Errorf("after revoke, a new stream got %s, want the pending %s", d.ID, pend.ID)
		}
		// Other users' streams are untouched.
		m := h.Notify(t, map[string]any{"users": []string{"rv-bystander"}, "message": "still here"})
		if d := decodeData(t, by.Next(t, testkit.Guard)); d.ID != m.ID {
			t.Errorf("bystander got %s, want %s", d.ID, m.ID)
		}
	})

	t.Run("delete closes open streams and drops pending", func(t *testing.T) {
		t.Parallel()
		h.PutUser(t, "dl")
		old := h.UserToken(t, "dl", "")
		pend := h.Notify(t, map[string]any{"users": []string{"dl"}, "message": "dropped"})
		c := testkit.DialSSE(t, h.SSE, old)
		c.Next(t, testkit.Guard)
		h.Must(t, 204, "DELETE", "/api/user/dl", nil, nil)
		c.WaitEOF(t, testkit.Guard)
		testkit.WantError(t, "token of deleted user", func() testkit.Resp {
			c := testkit.DialSSE(t, h.SSE, old)
			return c.Resp()
		}(), 401, "")
		h.PutUser(t, "dl")
		testkit.WantError(t, "old token of recreated user", func() testkit.Resp {
			c := testkit.DialSSE(t, h.SSE, old)
			return c.Resp()
		}(), 401, "")
		if p := h.User(t, "dl").Pending; p != 0 {
			t.Errorf("recreated user has %d pending, want 0", p)
		}
		c2 := testkit.DialSSE(t, h.SSE, h.UserToken(t, "dl", ""))
		live := h.Notify(t, map[string]any{"users": []string{"dl"}, "message": "new life"})
		if d := decodeData(t, c2.Next(t, testkit.Guard)); d.ID != live.ID {
			t.Errorf("recreated user's stream got %s, want only the new %s (not the dropped %s)", d.ID, live.ID, pend.ID)
		}
		testkit.WantError(t, "ack of a dropped copy", h.Call(t, "POST", "/api/message/acknowledge", map[string]string{"message_id": pend.ID, "user_id": "dl"}), 404, "")
	})

	t.Run("CORS preflight", func(t *testing.T) {
		t.Parallel()
		checkSSEPreflight(t, h)

	})
}
