package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// TestBadInput sends malformed and out-of-limit requests; each must get a
// JSON error with the right status and change nothing a client can see.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.API.MaxMessage, c.MaxBody = 64, 4096 })
	h.PutGroup(t, "g1")
	h.PutGroup(t, "empty")
	h.PutUser(t, "u1", "g1")
	h.PutUser(t, "u2")
	h.Notify(t, map[string]any{"users": []string{"u1"}, "message": "pending"})
	userTok := h.UserToken(t, "u1", "")

	long := strings.Repeat("a", 129)
	badIDs := []string{"", long, "a b", "a/b", "ü", "a\x00b", "a\nb", "a+b", "a%2F", "é", ".", ".."}

	type tc struct {
		name     string
		method   string
		path     string
		body     string
		status   int
		contains string // in the error message, if set
	}
	var cases []tc
	add := func(status int, method, path, name, body string) {
		cases = append(cases, tc{name, method, path, body, status, ""})
	}
	// addSays is add for a case whose error message must contain contains.
	addSays := func(status int, method, path, name, body, contains string) {
		cases = append(cases, tc{name, method, path, body, status, contains})
	}
	js := func(v string) string { b, _ := json.Marshal(v); return string(b) }

	// The same JSON mistakes on every body-taking route.
	for _, p := range []string{"/api/user", "/api/group", "/api/message/notify", "/api/message/acknowledge"} {
		add(400, "POST", p, "empty body", ``)
		add(400, "POST", p, "not JSON", `hello`)
		add(400, "POST", p, "truncated", `{"id":`)
		add(400, "POST", p, "array", `[]`)
		add(400, "POST", p, "string", `"x"`)
		add(400, "POST", p, "number", `5`)
		add(413, "POST", p, "body over --max-body", `{"id":"`+strings.Repeat("x", 5000)+`"}`)
	}
	// users
	add(400, "POST", "/api/user", "trailing garbage", `{"id":"x"} trailing`)
	add(400, "POST", "/api/user", "two objects", `{"id":"x"}{"id":"y"}`)
	add(400, "POST", "/api/user", "unknown field", `{"id":"x","extra":1}`)
	add(400, "POST", "/api/user", "unknown field only", `{"name":"x"}`)
	add(400, "POST", "/api/user", "id is a number", `{"id":5}`)
	add(400, "POST", "/api/user", "groups is a string", `{"id":"x","groups":"g1"}`)
	add(400, "POST", "/api/user", "groups of numbers", `{"id":"x","groups":[1]}`)
	add(400, "POST", "/api/user", "null", `null`)
	add(400, "POST", "/api/user", "no id", `{"groups":["g1"]}`)
	for _, id := range badIDs {
		add(400, "POST", "/api/user", "bad id "+js(id), `{"id":`+js(id)+`}`)
		add(400, "POST", "/api/user", "bad group id "+js(id), `{"id":"x","groups":["g1",`+js(id)+`]}`)
	}
	// groups
	add(400, "POST", "/api/group", "trailing garbage", `{"id":"gx"},`)
	add(400, "POST", "/api/group", "unknown field", `{"id":"gx","members":["u1"]}`)
	add(400, "POST", "/api/group", "users is a string", `{"id":"gx","users":"u1"}`)
	add(400, "POST", "/api/group", "id is an object", `{"id":{}}`)
	for _, id := range badIDs {
		add(400, "POST", "/api/group", "bad id "+js(id), `{"id":`+js(id)+`}`)
		add(400, "POST", "/api/group", "bad user id "+js(id), `{"id":"g1","users":["u1",`+js(id)+`]}`)
	}
	// notify
	n := "/api/message/notify"
	add(400, "POST", n, "trailing garbage", `{"users":["u1"],"message":1}x`)
	add(400, "POST", n, "unknown field", `{"users":["u1"],"message":1,"priority":"high"}`)
	add(400, "POST", n, "users is a string", `{"users":"u1","message":1}`)
	add(400, "POST", n, "groups is a string", `{"groups":"g1","message":1}`)
	add(400, "POST", n, "ttl is a string", `{"users":["u1"],"message":1,"ttl":"60"}`)
	add(400, "POST", n, "ttl is a fraction", `{"users":["u1"],"message":1,"ttl":1.5}`)
	add(400, "POST", n, "event is a number", `{"users":["u1"],"message":1,"event":5}`)
	add(400, "POST", n, "message is not JSON", `{"users":["u1"],"message":tru}`)
	add(400, "POST", n, "no recipients", `{"message":1}`)
	add(400, "POST", n, "empty recipients", `{"users":[],"groups":[],"ids":[],"message":1}`)
	add(400, "POST", n, "only an empty group", `{"groups":["empty"],"message":1}`)
	add(400, "POST", n, "message missing", `{"users":["u1"]}`)
	add(400, "POST", n, "payload missing", `{"ids":["u1"],"event":"x"}`)
	add(400, "POST", n, "message over --max-message", `{"users":["u1"],"message":"`+strings.Repeat("m", 63)+`"}`)
	add(400, "POST", n, "payload over --max-message", `{"ids":["u1"],"payload":[`+strings.Repeat("1,", 32)+`1]}`)
	add(413, "POST", n, "message over --max-body", `{"users":["u1"],"message":"`+strings.Repeat("m", 5000)+`"}`)
	for _, ev := range []string{"bad event", "a\nb", "a\rb", strings.Repeat("e", 65), "é", "data\u2028x", "<x>"} {
		add(400, "POST", n, "event "+js(ev), `{"users":["u1"],"message":1,"event":`+js(ev)+`}`)
	}
	for _, key := range []string{"", "a b", strings.Repeat("k", 65), "é", "a\nb"} {
		addSays(400, "POST", n, "key "+js(key), `{"users":["u1"],"message":1,"key":`+js(key)+`}`, "invalid key")
	}
	for _, ttl := range []string{"0", "-1", "-3600", "2592001", "1e30", "1e400", "0.0", "2592000.5", "-1e400"} {
		add(400, "POST", n, "ttl "+ttl, `{"users":["u1"],"message":1,"ttl":`+ttl+`}`)
	}
	for _, id := range badIDs {
		add(400, "POST", n, "bad user id "+js(id), `{"users":["u1",`+js(id)+`],"message":1}`)
		add(400, "POST", n, "bad group id "+js(id), `{"groups":[`+js(id)+`],"message":1}`)
		add(400, "POST", n, "bad legacy id "+js(id), `{"ids":[`+js(id)+`],"payload":1}`)
	}
	// acknowledge
	a := "/api/message/acknowledge"
	add(400, "POST", a, "unknown field", `{"message_id":"m","user_id":"u1","at":1}`)
	add(400, "POST", a, "message_id missing", `{"user_id":"u1"}`)
	add(400, "POST", a, "message_id is a number", `{"message_id":1,"user_id":"u1"}`)
	for _, id := range badIDs {
		add(400, "POST", a, "bad user_id "+js(id), `{"message_id":"m","user_id":`+js(id)+`}`)
	}
	// Ids in paths break the same rule as in bodies, with the same words,
	// and the error repeats at most the first 64 bytes of them. ("", "."
	// and ".." cannot be path segments: see the unclean paths below.)
	huge := strings.Repeat("h", 5000)
	for _, id := range append(badIDs, huge) {
		if id == "" || id == "." || id == ".." {
			continue
		}
		p := url.PathEscape(id)
		if len(id) > 128 {
			id = fmt.Sprintf("<%d bytes>", len(id)) // for the case's name
		}
		addSays(400, "GET", "/api/user/"+p, "bad user id in the path "+js(id), "", "invalid user id")
		addSays(400, "DELETE", "/api/user/"+p, "bad user id in the path "+js(id), "", "invalid user id")
		addSays(400, "GET", "/api/user/"+p+"/token", "bad user id in the path "+js(id), "", "invalid user id")
		addSays(400, "POST", "/api/user/"+p+"/revoke", "bad user id in the path "+js(id), "", "invalid user id")
		addSays(400, "GET", "/api/group/"+p, "bad group id in the path "+js(id), "", "invalid group id")
		addSays(400, "DELETE", "/api/group/"+p, "bad group id in the path "+js(id), "", "invalid group id")
	}
	// Message ids are only held to their length (see api.CheckMessageID).
	addSays(400, "GET", "/api/message/"+long, "message id over 128 bytes", "", "invalid message_id")
	addSays(400, "GET", "/api/message/"+huge, "message id of 5000 bytes", "", "invalid message_id")
	addSays(400, "POST", a, "message_id of 3000 bytes", `{"message_id":"`+strings.Repeat("m", 3000)+`","user_id":"u1"}`, "invalid message_id")
	// Long input in a body, and in an unknown path, is clipped too.
	addSays(400, "POST", "/api/user", "id of 3000 bytes", `{"id":"`+strings.Repeat("i", 3000)+`"}`, "invalid id")
	addSays(400, "POST", n, "user id of 3000 bytes", `{"users":["`+strings.Repeat("u", 3000)+`"],"message":1}`, "invalid user id")
	addSays(400, "POST", "/api/user", "unknown field of 3000 bytes", `{"id":"x","`+strings.Repeat("f", 3000)+`":1}`, "unknown field")
	addSays(404, "GET", "/api/"+huge, "unknown route of 5000 bytes", "", "no such route")
	addSays(405, "PUT", "/api/message/notify?"+huge, "wrong method", "", "method PUT is not allowed")
	// queries
	for _, id := range []string{"a b", "a/b", long} {
		add(400, "GET", "/api/user?group="+url.QueryEscape(id), "bad ?group= "+js(id), "")
	}
	for _, ttl := range []string{"0", "-1", "x", "1.5", "2592001", ""} {
		if ttl != "" {
			add(400, "GET", "/api/user/u1/token?ttl="+url.QueryEscape(ttl), "token ttl "+js(ttl), "")
		}
	}
	// Unclean paths: the mux would redirect to the cleaned path (a POST
	// turning into a GET in many clients); the hub says no such route.
	add(404, "POST", "/api//message/notify", "empty segment", `{"users":["u1"],"message":1}`)
	add(404, "POST", "/api/message/./notify", "dot segment", `{"users":["u1"],"message":1}`)
	add(404, "POST", "/api/user/x/../../user", "dot-dot segments", `{"id":"x"}`)
	add(404, "GET", "/api/user//u1", "empty segment in GET", "")
	add(404, "GET", "/api/user/..", "id \"..\" in the path", "")
	add(404, "GET", "sse://sse?token="+url.QueryEscape(userTok), "sse: empty segment", "")
	// /ack on the SSE listener
	ackPath := "sse:/ack?token=" + url.QueryEscape(userTok)
	add(400, "POST", ackPath, "ack: not JSON", `nope`)
	add(400, "POST", ackPath, "ack: unknown field", `{"message_id":"m","extra":true}`)
	add(400, "POST", ackPath, "ack: message_id missing", `{}`)
	add(413, "POST", ackPath, "ack: body over --max-body", `{"message_id":"`+strings.Repeat("x", 5000)+`"}`)
	// The SSE listener passes over parameters it does not define, but not
	// one of its own given twice.
	tq := "token=" + url.QueryEscape(userTok)
	addSays(400, "GET", "sse:/sse?"+tq+"&"+tq, "sse: token twice", "", "token is given more than once")
	addSays(400, "GET", "sse:/sse?token=x&"+tq, "sse: a second token", "", "token is given more than once")
	addSays(400, "GET", "sse:/sse?"+tq+"&last_event_id=1&last_event_id=2", "sse: last_event_id twice", "", "last_event_id is given more than once")
	addSays(400, "POST", "sse:/ack?"+tq+"&"+tq, "ack: token twice", `{"message_id":"m"}`, "token is given more than once")

	before := snapshot(t, h)
	for _, c := range cases {
		url := h.API + c.path
		hdr := testkit.Bearer(h.AccessToken(t))
		if rest, ok := strings.CutPrefix(c.path, "sse:"); ok {
			url, hdr = h.SSE+rest, nil
		}
		var body any
		if c.method == "POST" {
			body = c.body
		}
		r := testkit.Request(t, c.method, url, body, hdr)
		what := fmt.Sprintf("%s %.80s: %s", c.method, strings.SplitN(c.path, "?", 2)[0], c.name)
		testkit.WantError(t, what, r, c.status, c.contains)
		// Whatever the input, the answer stays small: echoed input is
		// clipped to 64 bytes (at most 4 bytes each once quoted).
		if len(r.Body) > 512 {
			t.Errorf("%s: error body of %d bytes: %.200s…", what, len(r.Body), r.Body)
		}
		if after := snapshot(t, h); after != before {
			t.Fatalf("%s %s (%s) changed state:\nbefore %s\nafter  %s", c.method, c.path, c.name, before, after)
		}
	}

	// The limits are limits, not off by one: these pass.
	t.Run("at the limits", func(t *testing.T) {
		h.PutUser(t, strings.Repeat("a", 128))
		h.PutUser(t, "A.z_0-9@x")
		h.Notify(t, `{"users":["u1"],"message":"`+strings.Repeat("m", 62)+`"}`) // 64 bytes with its quotes
		// Whitespace in the body is not part of the message's size.
		h.Notify(t, "{\"users\":[\"u1\"],\"message\":[1,       2,         3,        4,        5,        6,        7]}")
		h.Notify(t, `{"users":["u1"],"message":1,"ttl":2592000,"event":"`+strings.Repeat("e", 64)+`"}`)
		// A whole ttl however a JSON library spells it (the schema's "integer").
		for _, ttl := range []string{"3600.0", "3.6e3", "36E2"} {
			rc := h.Notify(t, `{"users":["u1"],"message":1,"ttl":`+ttl+`,"key":"`+strings.Repeat("k", 64)+`"}`)
			var m struct {
				Created time.Time `json:"created_at"`
				Expires time.Time `json:"expires_at"`
			}
			h.Must(t, 200, "GET", "/api/message/"+rc.ID, nil, &m)
			if got := m.Expires.Sub(m.Created); got != time.Hour {
				t.Errorf("ttl %s: the message lives %v, want 1h", ttl, got)
			}
		}
		h.UserToken(t, "u1", "?ttl=2592000")
	})
}
