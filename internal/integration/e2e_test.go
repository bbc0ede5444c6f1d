package integration

// End-to-end tests of the API listener against SPEC.md: every route with
// its exact statuses and bodies, as an application sees them.

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestAPIRoutes walks every route of the API in order, on one hub.
func TestAPIRoutes(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.Hub.Heartbeat = time.Second })

	t.Run("token exchange", func(t *testing.T) {
		r := testkit.Request(t, "POST", h.API+"/api/auth/token",
			map[string]string{"client_id": testkit.ClientID, "client_secret": testkit.ClientSecret}, nil)
		if r.Status != 200 {
			t.Fatalf("got %v, want 200", r)
		}
		var m map[string]any
		testkit.MustJSON(t, r.Body, &m)
		tok, _ := m["access_token"].(string)
		if len(m) != 3 || tok == "" || m["type"] != "Bearer" || m["expires_in"] != float64(3600) {
			t.Errorf(`got %s, want {"access_token": "<token>", "type": "Bearer", "expires_in": 3600}`, r.Body)
		}
		// The fields come in SPEC.md's order: people read these with curl.
		if !regexp.MustCompile(`^\{"access_token":"[^"]+","type":"Bearer","expires_in":3600\}\n$`).Match(r.Body) {
			t.Errorf(`body %q, want the fields in SPEC.md's order: {"access_token":…,"type":"Bearer","expires_in":3600}`, r.Body)
		}
		// This token works.
		if r := testkit.Request(t, "GET", h.API+"/api/user", nil, testkit.Bearer(tok)); r.Status != 200 {
			t.Errorf("GET /api/user with the new token: %v", r)
		}
		for _, tc := range []struct{ name, id, secret string }{
			{"wrong id", "no-such-app", testkit.ClientSecret},
			{"wrong secret", testkit.ClientID, testkit.ClientSecret + "x"},
			{"empty secret", testkit.ClientID, ""},
		} {
			r := testkit.Request(t, "POST", h.API+"/api/auth/token", map[string]string{"client_id": tc.id, "client_secret": tc.secret}, nil)
			testkit.WantJSON(t, tc.name, r, 400, `{"error":"Invalid client credentials"}`)
		}
		for _, body := range []string{``, `{`, `{"client_id":1}`, `[]`, `{"client_id":"a","client_secret":"b","x":1}`} {
			r := testkit.Request(t, "POST", h.API+"/api/auth/token", body, nil)
			testkit.WantError(t, "token body "+body, r, 400, "")
		}
	})

	tok := h.AccessToken(t)

	t.Run("unauthorized", func(t *testing.T) {
		h.PutUser(t, "authz-user")
		userTok := h.UserToken(t, "authz-user", "")
		routes := []struct{ method, path, body string }{
			{"GET", "/api/user", ""},
			{"POST", "/api/user", `{"id":"intruder"}`},
			{"GET", "/api/user/authz-user", ""},
			{"DELETE", "/api/user/authz-user", ""},
			{"GET", "/api/user/authz-user/token", ""},
			{"POST", "/api/user/authz-user/revoke", ""},
			{"GET", "/api/group", ""},
			{"POST", "/api/group", `{"id":"intruders"}`},
			{"GET", "/api/group/g", ""},
			{"DELETE", "/api/group/g", ""},
			{"POST", "/api/message/notify", `{"users":["authz-user"],"message":"x"}`},
			{"POST", "/api/message/acknowledge", `{"message_id":"m","user_id":"authz-user"}`},
			{"GET", "/api/message/m", ""},
		}
		auths := []struct{ name, value string }{
			{"no header", ""},
			{"garbage bearer", "Bearer not-a-token"},
			{"bad signature", "Bearer " + flipMAC(tok)},
			{"user token", "Bearer " + userTok},
			{"basic auth", "Basic ZTJlLWFwcDplMmUtc2VjcmV0"},
			{"empty bearer", "Bearer "},
		}
		before := snapshot(t, h)
		for _, rt := range routes {
			for _, a := range auths {
				hdr := map[string]string{}
				if a.value != "" {
					hdr["Authorization"] = a.value
				}
				var body any
				if rt.body != "" {
					body = rt.body
				}
				r := testkit.Request(t, rt.method, h.API+rt.path, body, hdr)
				what := fmt.Sprintf("%s %s with %s", rt.method, rt.path, a.name)
				testkit.WantError(t, what, r, 401, "")
				if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", what, wa)
				}
			}
		}
		if after := snapshot(t, h); after != before {
			t.Errorf("unauthorized requests changed state:\nbefore %s\nafter  %s", before, after)
		}
		h.Must(t, 204, "DELETE", "/api/user/authz-user", nil, nil)
	})

	t.Run("users", func(t *testing.T) {
		testkit.WantJSON(t, "create g1", h.Call(t, "POST", "/api/group", map[string]any{"id": "g1"}), 201, `{"id":"g1","users":[]}`)
		testkit.WantJSON(t, "create g2", h.Call(t, "POST", "/api/group", map[string]any{"id": "g2"}), 201, `{"id":"g2","users":[]}`)
		// Created out of order: listings are sorted by id.
		testkit.WantJSON(t, "create carol", h.Call(t, "POST", "/api/user", map[string]any{"id": "carol", "groups": []string{"g1"}}), 201,
			`{"id":"carol","groups":["g1"],"online":0,"pending":0}`)
		testkit.WantJSON(t, "create alice", h.Call(t, "POST", "/api/user", map[string]any{"id": "alice"}), 201,
			`{"id":"alice","groups":[],"online":0,"pending":0}`)
		testkit.WantJSON(t, "create bob", h.Call(t, "POST", "/api/user", map[string]any{"id": "bob", "groups": []string{"g2", "g1"}}), 201,
			`{"id":"bob","groups":["g1","g2"],"online":0,"pending":0}`)
		// Replace: groups are replaced, not merged.
		testkit.WantJSON(t, "replace carol", h.Call(t, "POST", "/api/user", map[string]any{"id": "carol", "groups": []string{"g2"}}), 200,
			`{"id":"carol","groups":["g2"],"online":0,"pending":0}`)
		testkit.WantJSON(t, "g1 after replace", h.Call(t, "GET", "/api/group/g1", nil), 200, `{"id":"g1","users":["bob"]}`)
		testkit.WantJSON(t, "g2 after replace", h.Call(t, "GET", "/api/group/g2", nil), 200, `{"id":"g2","users":["bob","carol"]}`)

		// Unknown group: 404, nothing created or changed.
		testkit.WantJSON(t, "create with unknown group", h.Call(t, "POST", "/api/user", map[string]any{"id": "dave", "groups": []string{"nope"}}), 404,
			`{"error":"unknown group: nope"}`)
		testkit.WantError(t, "dave was not created", h.Call(t, "GET", "/api/user/dave", nil), 404, "")
		testkit.WantJSON(t, "replace with unknown group", h.Call(t, "POST", "/api/user", map[string]any{"id": "carol", "groups": []string{"g1", "nope"}}), 404,
			`{"error":"unknown group: nope"}`)
		testkit.WantJSON(t, "carol unchanged", h.Call(t, "GET", "/api/user/carol", nil), 200, `{"id":"carol","groups":["g2"],"online":0,"pending":0}`)

		testkit.WantJSON(t, "get alice", h.Call(t, "GET", "/api/user/alice", nil), 200, `{"id":"alice","groups":[],"online":0,"pending":0}`)
		testkit.WantJSON(t, "get unknown", h.Call(t, "GET", "/api/user/zed", nil), 404, `{"error":"unknown user: zed"}`)

		testkit.WantJSON(t, "list", h.Call(t, "GET", "/api/user", nil), 200, `[
			{"id":"alice","groups":[],"online":0,"pending":0},
			{"id":"bob","groups":["g1","g2"],"online":0,"pending":0},
			{"id":"carol","groups":["g2"],"online":0,"pending":0}]`)
		testkit.WantJSON(t, "list ?group=g2", h.Call(t, "GET", "/api/user?group=g2", nil), 200, `[
			{"id":"bob","groups":["g1","g2"],"online":0,"pending":0},
			{"id":"carol","groups":["g2"],"online":0,"pending":0}]`)
		testkit.WantJSON(t, "list ?group=g1", h.Call(t, "GET", "/api/user?group=g1", nil), 200, `[{"id":"bob","groups":["g1","g2"],"online":0,"pending":0}]`)

		// online and pending: a stream and a message.
		s := testkit.DialSSE(t, h.SSE, h.UserToken(t, "alice", ""))
		if s.Status != 200 {
			t.Fatalf("alice's stream: %d %s", s.Status, s.Body)
		}
		h.Notify(t, map[string]any{"users": []string{"alice", "bob"}, "message": "hi"})
		s.Next(t, testkit.Guard)
		testkit.WantJSON(t, "list with online and pending", h.Call(t, "GET", "/api/user", nil), 200, `[
			{"id":"alice","groups":[],"online":1,"pending":1},
			{"id":"bob","groups":["g1","g2"],"online":0,"pending":1},
			{"id":"carol","groups":["g2"],"online":0,"pending":0}]`)
		if v := h.Metric(t, "rtchub_streams_open"); v != 1 {
			t.Errorf("rtchub_streams_open = %v, want 1", v)
		}
		s2 := testkit.DialSSE(t, h.SSE, h.UserToken(t, "alice", ""))
		s2.Next(t, testkit.Guard) // the replay of "hi"
		if u := h.User(t, "alice"); u.Online != 2 {
			t.Errorf("alice online = %d with two streams, want 2", u.Online)
		}
		// A stream the client closes stops counting (the hub notices).
		s.Close()
		s2.Close()
		testkit.Eventually(t, "alice online back to 0 after her streams closed", func() bool { return h.User(t, "alice").Online == 0 })
		testkit.Eventually(t, "rtchub_streams_open back to 0", func() bool { return h.Metric(t, "rtchub_streams_open") == 0 })

		// Delete.
		h.PutUser(t, "doomed", "g1")
		r := h.Call(t, "DELETE", "/api/user/doomed", nil)
		if r.Status != 204 || len(r.Body) != 0 {
			t.Errorf("DELETE /api/user/doomed: got %v, want 204 and no body", r)
		}
		testkit.WantError(t, "get deleted", h.Call(t, "GET", "/api/user/doomed", nil), 404, "doomed")
		testkit.WantError(t, "delete again", h.Call(t, "DELETE", "/api/user/doomed", nil), 404, "doomed")
		testkit.WantJSON(t, "g1 lost the deleted member", h.Call(t, "GET", "/api/group/g1", nil), 200, `{"id":"g1","users":["bob"]}`)
		testkit.WantError(t, "token of deleted user", h.Call(t, "GET", "/api/user/doomed/token", nil), 404, "")
		testkit.WantError(t, "revoke unknown user", h.Call(t, "POST", "/api/user/doomed/revoke", nil), 404, "")
	})

	t.Run("groups", func(t *testing.T) {
		// Existing group: members are added, not replaced.
		testkit.WantJSON(t, "add alice to g1", h.Call(t, "POST", "/api/group", map[string]any{"id": "g1", "users": []string{"alice"}}), 200,
			`{"id":"g1","users":["alice","bob"]}`)
		testkit.WantJSON(t, "alice's groups", h.Call(t, "GET", "/api/user/alice", nil), 200, `{"id":"alice","groups":["g1"],"online":0,"pending":1}`)
		testkit.WantJSON(t, "create g0 with members", h.Call(t, "POST", "/api/group", map[string]any{"id": "g0", "users": []string{"carol", "alice", "carol"}}), 201,
			`{"id":"g0","users":["alice","carol"]}`)
		testkit.WantJSON(t, "unknown user", h.Call(t, "POST", "/api/group", map[string]any{"id": "g1", "users": []string{"carol", "ghost"}}), 404,
			`{"error":"unknown user: ghost"}`)
		testkit.WantJSON(t, "unknown user, new group", h.Call(t, "POST", "/api/group", map[string]any{"id": "g9", "users": []string{"ghost"}}), 404,
			`{"error":"unknown user: ghost"}`)
		testkit.WantJSON(t, "list", h.Call(t, "GET", "/api/group", nil), 200,
			`[{"id":"g0","members":2},{"id":"g1","members":2},{"id":"g2","members":2}]`)
		testkit.WantJSON(t, "get g1", h.Call(t, "GET", "/api/group/g1", nil), 200, `{"id":"g1","users":["alice","bob"]}`)
		testkit.WantError(t, "get unknown", h.Call(t, "GET", "/api/group/g9", nil), 404, "g9")

		r := h.Call(t, "DELETE", "/api/group/g0", nil)
		if r.Status != 204 || len(r.Body) != 0 {
			t.Errorf("DELETE /api/group/g0: got %v, want 204 and no body", r)
		}
		testkit.WantError(t, "get deleted group", h.Call(t, "GET", "/api/group/g0", nil), 404, "")
		testkit.WantError(t, "delete again", h.Call(t, "DELETE", "/api/group/g0", nil), 404, "")
		// Users stay and leave the group.
		testkit.WantJSON(t, "users after group delete", h.Call(t, "GET", "/api/user", nil), 200, `[
			{"id":"alice","groups":["g1"],"online":0,"pending":1},
			{"id":"bob","groups":["g1","g2"],"online":0,"pending":1},
			{"id":"carol","groups":["g2"],"online":0,"pending":0}]`)
		testkit.WantError(t, "list members of deleted group", h.Call(t, "GET", "/api/user?group=g0", nil), 404, "")
	})

	t.Run("user token", func(t *testing.T) {
		r := h.Call(t, "GET", "/api/user/alice/token", nil)
		var m map[string]any
		testkit.MustJSON(t, r.Body, &m)
		if tk, _ := m["token"].(string); r.Status != 200 || len(m) != 3 || tk == "" || m["type"] != "Bearer" || m["expires_in"] != float64(86400) {
			t.Errorf(`got %v, want 200 {"token": "<user token>", "type": "Bearer", "expires_in": 86400}`, r)
		}
		if !regexp.MustCompile(`^\{"token":"[^"]+","type":"Bearer","expires_in":86400\}\n$`).Match(r.Body) {
			t.Errorf(`body %q, want the fields in SPEC.md's order: {"token":…,"type":"Bearer","expires_in":86400}`, r.Body)
		}
		for _, ttl := range []int{1, 60, 30 * 24 * 3600} {
			var out struct {
				Token     string `json:"token"`
				ExpiresIn int    `json:"expires_in"`
			}
			h.Must(t, 200, "GET", fmt.Sprintf("/api/user/alice/token?ttl=%d", ttl), nil, &out)
			if out.ExpiresIn != ttl || out.Token == "" {
				t.Errorf("?ttl=%d: expires_in %d, want %d", ttl, out.ExpiresIn, ttl)
			}
		}
		for _, ttl := range []string{"0", "-5", "abc", "1.5", "2592001", "99999999999999999999", "%20"} {
			testkit.WantError(t, "?ttl="+ttl, h.Call(t, "GET", "/api/user/alice/token?ttl="+ttl, nil), 400, "")
		}
		testkit.WantError(t, "unknown user", h.Call(t, "GET", "/api/user/ghost/token", nil), 404, "ghost")
		// An app token is never a user token, and vice versa (tested in
		// "unauthorized" and the SSE tests).
	})

	var m1, m2 testkit.Receipt
	t.Run("notify", func(t *testing.T) {
		sa := testkit.DialSSE(t, h.SSE, h.UserToken(t, "alice", ""))
		sb := testkit.DialSSE(t, h.SSE, h.UserToken(t, "bob", ""))
		sc := testkit.DialSSE(t, h.SSE, h.UserToken(t, "carol", ""))
		for _, s := range []*testkit.Stream{sa, sb} {
			s.Next(t, testkit.Guard) // "hi", pending from the users test
		}
		// alice is in users and in g1: she gets it once. bob via g1.
		r := h.Call(t, "POST", "/api/message/notify", map[string]any{"users": []string{"alice", "alice"}, "groups": []string{"g1"}, "message": map[string]any{"k": 1}, "ttl": 60})
		if r.Status != 202 {
			t.Fatalf("notify: %v", r)
		}
		var raw map[string]any
		testkit.MustJSON(t, r.Body, &raw)
		if len(raw) != 3 {
			t.Errorf(`notify: %s, want exactly {"id","seq","recipients"}`, r.Body)
		}
		testkit.MustJSON(t, r.Body, &m1)
		if m1.Recipients != 2 || m1.ID == "" || m1.Seq == 0 {
			t.Errorf("notify testkit.Receipt %+v, want 2 recipients, an id and a seq", m1)
		}
		// Old spellings: ids and payload.
		m2 = h.Notify(t, `{"ids":["carol"],"groups":["g2"],"payload":[1,2,3],"event":"legacy"}`)
		if m2.Recipients != 2 || m2.Seq <= m1.Seq || m2.ID == m1.ID {
			t.Errorf("legacy notify testkit.Receipt %+v after %+v: want 2 recipients, a larger seq, a new id", m2, m1)
		}
		want := map[*testkit.Stream][]string{sa: {m1.ID}, sb: {m1.ID, m2.ID}, sc: {m2.ID}}
		for s, ids := range want {
			for _, id := range ids {
				ev := s.Next(t, testkit.Guard)
				if d := decodeData(t, ev); d.ID != id {
					t.Errorf("stream got message %s, want %s", d.ID, id)
				}
			}
		}

		// Unknown names: 404 and nothing is sent to anyone.
		before := snapshot(t, h)
		for _, tc := range []struct {
			name, body, want string
		}{
			{"unknown user", `{"users":["alice","ghost"],"message":"x"}`, `{"error":"unknown user: ghost"}`},
			{"unknown group", `{"users":["alice"],"groups":["g1","nog"],"message":"x"}`, `{"error":"unknown group: nog"}`},
			{"unknown group only", `{"groups":["nog"],"message":"x"}`, `{"error":"unknown group: nog"}`},
			{"unknown legacy id", `{"ids":["bob","ghost"],"payload":"x"}`, `{"error":"unknown user: ghost"}`},
		} {
			testkit.WantJSON(t, tc.name, h.Call(t, "POST", "/api/message/notify", tc.body), 404, tc.want)
		}
		if after := snapshot(t, h); after != before {
			t.Errorf("a refused notify changed state:\nbefore %s\nafter  %s", before, after)
		}
		// The next thing each stream sees is a marker sent after the
		// refused notifies: they sent nothing.
		marker := h.Notify(t, map[string]any{"groups": []string{"g1", "g2"}, "message": "marker"})
		for _, s := range []*testkit.Stream{sa, sb, sc} {
			if d := decodeData(t, s.Next(t, testkit.Guard)); d.ID != marker.ID {
				t.Errorf("after refused notifies a stream got %s (%s), want the marker", d.ID, d.Message)
			}
		}
		if marker.Recipients != 3 {
			t.Errorf("marker to g1 and g2: %d recipients, want 3", marker.Recipients)
		}
		for _, u := range []string{"alice", "bob", "carol"} {
			for _, s := range []string{marker.ID} {
				h.Ack(t, s, u)
			}
		}
	})

	t.Run("acknowledge and message state", func(t *testing.T) {
		var msg struct {
			ID         string          `json:"id"`
			Seq        uint64          `json:"seq"`
			Event      string          `json:"event"`
			Message    json.RawMessage `json:"message"`
			CreatedAt  string          `json:"created_at"`
			ExpiresAt  string          `json:"expires_at"`
			Recipients []struct {
				UserID       string `json:"user_id"`
				Delivered    bool   `json:"delivered"`
				Acknowledged bool   `json:"acknowledged"`
			} `json:"recipients"`
		}
		get := func() string {
			t.Helper()
			r := h.Must(t, 200, "GET", "/api/message/"+m1.ID, nil, &msg)
			var raw map[string]json.RawMessage
			testkit.MustJSON(t, r.Body, &raw)
			keys := slices.Sorted(maps.Keys(raw))
			if !slices.Equal(keys, []string{"created_at", "event", "expires_at", "id", "message", "recipients", "seq"}) {
				t.Errorf("GET /api/message: keys %v", keys)
			}
			slices.SortFunc(msg.Recipients, func(a, b struct {
				UserID       string `json:"user_id"`
				Delivered    bool   `json:"delivered"`
				Acknowledged bool   `json:"acknowledged"`
			}) int {
				return strings.Compare(a.UserID, b.UserID)
			})
			return fmt.Sprint(msg.Recipients)
		}
		// Both streams of the notify test received m1.
		if got := get(); got != "[{alice true false} {bob true false}]" {
			t.Errorf("recipients %s, want alice and bob delivered, not acknowledged", got)
		}
		if msg.ID != m1.ID || msg.Seq != m1.Seq || msg.Event != "message" || !testkit.JSONEq(msg.Message, []byte(`{"k":1}`)) {
			t.Errorf("message %+v, want id %s seq %d event message message {\"k\":1}", msg, m1.ID, m1.Seq)
		}
		c, err1 := time.Parse(time.RFC3339, msg.CreatedAt)
		e, err2 := time.Parse(time.RFC3339, msg.ExpiresAt)
		if err1 != nil || err2 != nil {
			t.Errorf("created_at %q / expires_at %q are not RFC 3339", msg.CreatedAt, msg.ExpiresAt)
		} else if d := e.Sub(c); d != 60*time.Second {
			t.Errorf("expires_at - created_at = %v, want the ttl of 60s", d)
		} else if time.Since(c) > time.Minute || time.Since(c) < 0 {
			t.Errorf("created_at %v is not now", c)
		}

		ack := func(body any) testkit.Resp { return h.Call(t, "POST", "/api/message/acknowledge", body) }
		r := ack(map[string]string{"message_id": m1.ID, "user_id": "alice"})
		if r.Status != 204 || len(r.Body) != 0 {
			t.Errorf("acknowledge: got %v, want 204 and no body", r)
		}
		if r := ack(map[string]string{"message_id": m1.ID, "user_id": "alice"}); r.Status != 204 {
			t.Errorf("acknowledge twice: got %v, want 204", r)
		}
		if got := get(); got != "[{alice true true} {bob true false}]" {
			t.Errorf("after alice's ack: recipients %s, want alice acknowledged", got)
		}
		testkit.WantError(t, "ack unknown message", ack(map[string]string{"message_id": "nope", "user_id": "alice"}), 404, "")
		testkit.WantError(t, "ack by a user who is not a recipient", ack(map[string]string{"message_id": m1.ID, "user_id": "carol"}), 404, "")
		testkit.WantError(t, "ack by an unknown user", ack(map[string]string{"message_id": m1.ID, "user_id": "ghost"}), 404, "")
		h.Ack(t, m1.ID, "bob")
		if got := get(); got != "[{alice true true} {bob true true}]" {
			t.Errorf("after both acks: recipients %s", got)
		}
		if u := h.User(t, "bob"); u.Pending != 2 { // "hi" and m2
			t.Errorf("bob pending = %d, want 2", u.Pending)
		}
		testkit.WantError(t, "unknown message", h.Call(t, "GET", "/api/message/nope", nil), 404, "")
		// m2 had no ttl: the default is 7 days.
		var m2info struct {
			CreatedAt string `json:"created_at"`
			ExpiresAt string `json:"expires_at"`
		}
		h.Must(t, 200, "GET", "/api/message/"+m2.ID, nil, &m2info)
		c2, _ := time.Parse(time.RFC3339, m2info.CreatedAt)
		e2, _ := time.Parse(time.RFC3339, m2info.ExpiresAt)
		if d := e2.Sub(c2); d != 7*24*time.Hour {
			t.Errorf("default message ttl: expires_at - created_at = %v, want 168h", d)
		}

		// A message to a user with no stream is not delivered.
		h.PutUser(t, "offline")
		m := h.Notify(t, map[string]any{"users": []string{"offline"}, "message": "quiet", "event": "x.y"})
		r = h.Must(t, 200, "GET", "/api/message/"+m.ID, nil, nil)
		if !strings.Contains(string(r.Body), `"recipients":[{"user_id":"offline","delivered":false,"acknowledged":false,"state":"pending"}]`) {
			t.Errorf("message to an offline user: %s", r.Body)
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		for _, base := range []string{h.API, h.SSE} {
			testkit.WantJSON(t, base+"/healthz", testkit.Request(t, "GET", base+"/healthz", nil, nil), 200, `{"status":"ok"}`)
		}
		r := testkit.Request(t, "GET", h.API+"/metrics", nil, nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET /metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		for _, name := range []string{"rtchub_streams_open", "rtchub_log_seq"} {
			if !strings.Contains(string(r.Body), "\n"+name+" ") {
				t.Errorf("/metrics has no %s", name)
			}
		}
		if seq := h.Metric(t, "rtchub_log_seq"); seq < float64(m2.Seq) {
			t.Errorf("rtchub_log_seq %v < a committed seq %d", seq, m2.Seq)
		}
	})

	t.Run("metrics count messages and acknowledgements", func(t *testing.T) {
		// SPEC: /metrics has "streams open, messages sent, events
		// delivered, acknowledgements, fsync latency, log size". Names are
		// not given, so look for counters that moved by exactly what was
		// done: 5 messages sent, 3 acknowledgements (no stream open).
		h.PutUser(t, "counted")
		before := counters(t, h)
		var rcs []testkit.Receipt
		for i := 0; i < 5; i++ {
			rcs = append(rcs, h.Notify(t, map[string]any{"users": []string{"counted"}, "message": i}))
		}
		for _, rc := range rcs[:3] {
			h.Ack(t, rc.ID, "counted")
		}
		after := counters(t, h)
		moved := map[float64][]string{}
		for name, v := range after {
			if strings.Contains(name, "append") || strings.Contains(name, "batch") || strings.Contains(name, "fsync") || strings.Contains(name, "ping") {
				continue // log records and keep-alives, not messages
			}
			if d := v - before[name]; d != 0 {
				moved[d] = append(moved[d], name)
			}
		}
		if len(moved[5]) == 0 {
			t.Errorf("no counter of messages sent in /metrics: after 5 notifies, counters moved %v", moved)
		}
		if len(moved[3]) == 0 {
			t.Errorf("no counter of acknowledgements in /metrics: after 3 acks, counters moved %v", moved)
		}
		if _, ok := after["rtchub_events_delivered_total"]; !ok {
			t.Errorf("no rtchub_events_delivered_total counter")
		}
	})

	t.Run("live page", func(t *testing.T) {
		r := testkit.Request(t, "GET", h.SSE+"/", nil, nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET / on the SSE listener: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
	})

	t.Run("default limits", func(t *testing.T) {
		// --max-body 1 MiB, --max-message 64 KiB by default.
		before := snapshot(t, h)
		testkit.WantError(t, "body over 1 MiB", h.Call(t, "POST", "/api/message/notify",
			`{"users":["alice"],"message":"`+strings.Repeat("x", 1<<20)+`"}`), 413, "")
		testkit.WantError(t, "message over 64 KiB", h.Call(t, "POST", "/api/message/notify",
			`{"users":["alice"],"message":"`+strings.Repeat("x", 64<<10-1)+`"}`), 400, "")
		if after := snapshot(t, h); after != before {
			t.Errorf("refused notifies changed state:\nbefore %s\nafter  %s", before, after)
		}
		h.Notify(t, `{"users":["alice"],"message":"`+strings.Repeat("x", 64<<10-2)+`"}`)
	})

	t.Run("unknown routes and methods are JSON", func(t *testing.T) {
		testkit.WantError(t, "unknown API route", h.Call(t, "GET", "/api/nope", nil), 404, "")
		testkit.WantError(t, "wrong method", h.Call(t, "PUT", "/api/user", nil), 405, "")
		testkit.WantError(t, "unknown SSE route", testkit.Request(t, "GET", h.SSE+"/nope", nil, nil), 404, "")
		testkit.WantError(t, "POST /sse", testkit.Request(t, "POST", h.SSE+"/sse", "{}", nil), 405, "")
	})
}
