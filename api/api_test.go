package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

func TestDecodeJSONErrors(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxBody = 512 })
	big := `{"id":"g","users":["` + strings.Repeat("u", 600) + `"]}`
	tests := []struct {
		name, body string
		code       int
		msg        string // substring of the error
	}{
		{"ok", `{"id":"g1"}`, 201, ""},
		{"ok trailing whitespace", "{\"id\":\"g2\"} \r\n\t ", 201, ""},
		{"empty body", ``, 400, "empty"},
		{"whitespace only", " \n ", 400, "empty"},
		{"malformed", `{"id":`, 400, "not valid JSON"},
		{"malformed token", `{"id":"g",}`, 400, "not valid JSON"},
		{"not json", `id=g`, 400, "not valid JSON"},
		{"trailing object", `{"id":"g3"}{"id":"g4"}`, 400, "trailing data"},
		{"trailing garbage", `{"id":"g3"} x`, 400, "trailing data"},
		{"trailing bracket", `{"id":"g3"}]`, 400, "trailing data"},
		{"unknown field", `{"id":"g3","colour":"red"}`, 400, `unknown field "colour"`},
		{"wrong type string", `{"id":5}`, 400, `"id" must be a string`},
		{"wrong type array", `{"id":"g3","users":"u1"}`, 400, `"users" must be an array`},
		{"array body", `["g3"]`, 400, "must be a JSON object"},
		{"string body", `"g3"`, 400, "must be a JSON object"},
		{"number body", `3`, 400, "must be a JSON object"},
		{"oversize", big, 413, "larger than 512 bytes"},
		{"oversize whitespace", `{"id":"g3"` + strings.Repeat(" ", 600) + `}`, 413, "larger than 512"},
		// Valid JSON whose only fault is its size: SPEC "413 for a body over
		// the request limit".
		{"oversize trailing whitespace", `{"id":"g3"}` + strings.Repeat(" ", 600), 413, "larger than 512"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/group", tc.body, "Content-Type", "application/json")
			if r.Status != tc.code {
				t.Fatalf("status %d, want %d; body %q", r.Status, tc.code, r.Body)
			}
			if tc.msg == "" {
				return
			}
			if msg := errorMsg(t, r); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
	// Nothing was created by a refused body.
	if _, ok := e.st.Group("g3"); ok {
		t.Error("a refused body created group g3")
	}
	if _, ok := e.st.Group("g4"); ok {
		t.Error("a refused body created group g4")
	}
}

func TestValidEvent(t *testing.T) {
	tests := []struct {
		ev   string
		want bool
	}{
		{"message", true},
		{"chat.new", true},
		{"ns:event-1_x", true},
		{strings.Repeat("e", 64), true},
		{"", false},
		{strings.Repeat("e", 65), false},
		{"a b", false},
		{"a\nb", false},
		{"a\rb", false},
		{"a@b", false},
		{"a/b", false},
		{"é", false},
		{"data:\n", false},
	}
	for _, tc := range tests {
		if got := api.ValidEvent(tc.ev); got != tc.want {
			t.Errorf("ValidEvent(%q) = %v, want %v", tc.ev, got, tc.want)
		}
	}
}

func TestNotifyRequestValidate(t *testing.T) {
	const maxMsg = 32
	defTTL, maxTTL := 7*24*time.Hour, 30*24*time.Hour
	maxSec := int64(maxTTL / time.Second)
	tests := []struct {
		name   string
		body   string
		errSub string // "" means valid
		users  []string
		groups []string
		msg    string
		event  string
		ttl    time.Duration
	}{
		{name: "users", body: `{"users":["u1","u2"],"message":{"a":1}}`, users: []string{"u1", "u2"}, msg: `{"a":1}`, event: "message", ttl: defTTL},
		{name: "ids spelling", body: `{"ids":["u1"],"message":"hi"}`, users: []string{"u1"}, msg: `"hi"`, event: "message", ttl: defTTL},
		{name: "users and ids", body: `{"users":["u1"],"ids":["u2"],"message":1}`, users: []string{"u1", "u2"}, msg: `1`, event: "message", ttl: defTTL},
		{name: "payload spelling", body: `{"users":["u1"],"payload":[1,2]}`, users: []string{"u1"}, msg: `[1,2]`, event: "message", ttl: defTTL},
		{name: "groups only", body: `{"groups":["g1"],"message":true}`, groups: []string{"g1"}, msg: `true`, event: "message", ttl: defTTL},
		{name: "null message", body: `{"users":["u1"],"message":null}`, users: []string{"u1"}, msg: `null`, event: "message", ttl: defTTL},
		{name: "compacted", body: `{"users":["u1"],"message":{ "a" : [ 1 , 2 ] ,
			"b" : "x y" }}`, users: []string{"u1"}, msg: `{"a":[1,2],"b":"x y"}`, event: "message", ttl: defTTL},
		{name: "compacts under the limit", body: `{"users":["u1"],"message":{  "k"  :  "` + strings.Repeat("v", 20) + `"  }}`, users: []string{"u1"}, msg: `{"k":"` + strings.Repeat("v", 20) + `"}`, event: "message", ttl: defTTL},
		{name: "exactly the limit", body: `{"users":["u1"],"message":"` + strings.Repeat("v", maxMsg-2) + `"}`, users: []string{"u1"}, msg: `"` + strings.Repeat("v", maxMsg-2) + `"`, event: "message", ttl: defTTL},
		{name: "event", body: `{"users":["u1"],"message":1,"event":"chat.new"}`, users: []string{"u1"}, msg: `1`, event: "chat.new", ttl: defTTL},
		{name: "empty event is message", body: `{"users":["u1"],"message":1,"event":""}`, users: []string{"u1"}, msg: `1`, event: "message", ttl: defTTL},
		{name: "ttl 1", body: `{"users":["u1"],"message":1,"ttl":1}`, users: []string{"u1"}, msg: `1`, event: "message", ttl: time.Second},
		{name: "ttl max", body: fmt.Sprintf(`{"users":["u1"],"message":1,"ttl":%d}`, maxSec), users: []string{"u1"}, msg: `1`, event: "message", ttl: maxTTL},
		{name: "ttl null is default", body: `{"users":["u1"],"message":1,"ttl":null}`, users: []string{"u1"}, msg: `1`, event: "message", ttl: defTTL},

		{name: "no recipients", body: `{"message":1}`, errSub: "no recipients"},
		{name: "empty lists", body: `{"users":[],"groups":[],"ids":[],"message":1}`, errSub: "no recipients"},
		{name: "bad user id", body: `{"users":["u 1"],"message":1}`, errSub: "invalid user id"},
		{name: "bad ids id", body: `{"ids":["u1",""],"message":1}`, errSub: "invalid user id"},
		{name: "bad group id", body: `{"groups":["g/1"],"message":1}`, errSub: "invalid group id"},
		{name: "message missing", body: `{"users":["u1"]}`, errSub: `"message" is required`},
		{name: "message and payload", body: `{"users":["u1"],"message":1,"payload":2}`, errSub: "not both"},
		{name: "too big", body: `{"users":["u1"],"message":"` + strings.Repeat("v", maxMsg-1) + `"}`, errSub: "larger than 32 bytes"},
		{name: "bad event", body: `{"users":["u1"],"message":1,"event":"a b"}`, errSub: "invalid event name"},
		{name: "event with newline", body: `{"users":["u1"],"message":1,"event":"a\ndata: x"}`, errSub: "invalid event name"},
		{name: "long event", body: `{"users":["u1"],"message":1,"event":"` + strings.Repeat("e", 65) + `"}`, errSub: "invalid event name"},
		{name: "ttl 0", body: `{"users":["u1"],"message":1,"ttl":0}`, errSub: "ttl must be from 1"},
		{name: "ttl negative", body: `{"users":["u1"],"message":1,"ttl":-5}`, errSub: "ttl must be from 1"},
		{name: "ttl over max", body: fmt.Sprintf(`{"users":["u1"],"message":1,"ttl":%d}`, maxSec+1), errSub: "ttl must be from 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req api.NotifyRequest
			if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
				t.Fatalf("test body: %v", err)
			}
			n, msg := req.Validate(maxMsg, defTTL, maxTTL)
			if tc.errSub != "" {
				if msg == "" || !strings.Contains(msg, tc.errSub) {
					t.Fatalf("Validate = %q, want an error containing %q", msg, tc.errSub)
				}
				return
			}
			if msg != "" {
				t.Fatalf("Validate refused a valid request: %q", msg)
			}
			if !slices.Equal(n.Users, tc.users) && !(len(n.Users) == 0 && len(tc.users) == 0) {
				t.Errorf("Users = %q, want %q", n.Users, tc.users)
			}
			if !slices.Equal(n.Groups, tc.groups) && !(len(n.Groups) == 0 && len(tc.groups) == 0) {
				t.Errorf("Groups = %q, want %q", n.Groups, tc.groups)
			}
			if string(n.Body) != tc.msg {
				t.Errorf("Body = %s, want %s", n.Body, tc.msg)
			}
			if n.Event != tc.event {
				t.Errorf("Event = %q, want %q", n.Event, tc.event)
			}
			if n.TTL != tc.ttl {
				t.Errorf("TTL = %v, want %v", n.TTL, tc.ttl)
			}
		})
	}

	// Invalid JSON handed in directly (not through the decoder).
	req := api.NotifyRequest{Users: []string{"u1"}, Message: json.RawMessage(`{"a":`)}
	if _, msg := req.Validate(maxMsg, defTTL, maxTTL); !strings.Contains(msg, "not valid JSON") {
		t.Errorf("Validate of broken JSON = %q", msg)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		method, path string
		code         int
		allow        []string
	}{
		{"GET", "/", 404, nil},
		{"GET", "/nope", 404, nil},
		{"GET", "/api/nope", 404, nil},
		{"GET", "/api/user/u1/nope", 404, nil},
		{"POST", "/api/message", 404, nil},
		{"DELETE", "/api/group", 405, []string{"GET", "POST"}},
		{"PUT", "/api/user/u1", 405, []string{"GET", "DELETE"}},
		{"GET", "/api/auth/token", 405, []string{"POST"}},
		{"POST", "/healthz", 405, []string{"GET"}},
		{"DELETE", "/metrics", 405, []string{"GET"}},
		// These paths also match GET /api/message/{message_id}; no message
		// id is "notify" or "acknowledge", so they are routes of POST only.
		{"GET", "/api/message/notify", 405, []string{"POST"}},
		{"GET", "/api/message/acknowledge", 405, []string{"POST"}},
		{"HEAD", "/api/message/notify", 405, []string{"POST"}},
		{"DELETE", "/api/message/notify", 405, []string{"POST"}},
		{"PUT", "/api/message/acknowledge", 405, []string{"POST"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "")
			if r.Status != tc.code {
				t.Fatalf("status %d, want %d; body %q", r.Status, tc.code, r.Body)
			}
			if tc.method == "HEAD" {
				// No body to read; the status and Allow are the answer.
				if allow := r.Header.Get("Allow"); allow != strings.Join(tc.allow, ", ") {
					t.Errorf("Allow %q, want %q", allow, strings.Join(tc.allow, ", "))
				}
				return
			}
			msg := errorMsg(t, r)
			if want := fmt.Sprintf("method %s is not allowed on %s", tc.method, tc.path); tc.code == 405 && msg != want {
				t.Errorf("405 message %q, want %q", msg, want)
			}
			if tc.code == 404 && !strings.Contains(msg, "no such route") {
				t.Errorf("404 message %q", msg)
			}
			if tc.code == 405 {
				allow := r.Header.Get("Allow")
				for _, m := range tc.allow {
					if !strings.Contains(allow, m) {
						t.Errorf("Allow %q lacks %s", allow, m)
					}
				}
				if strings.Contains(allow, tc.method) {
					t.Errorf("Allow %q contains the refused method", allow)
				}
				if strings.HasPrefix(tc.path, "/api/message/") && allow != "POST" {
					t.Errorf("Allow %q, want POST", allow)
				}
			}
		})
	}
}

func TestAuthTokenExchangeAndBearer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	// A real bcrypt hash at the lowest cost keeps the test quick under
	// -race; the handler's comparison is the real one. (Unknown ids are
	// compared against a dummy hash at the default cost.)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-s3cret-s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PutClient(ctx, "shop", "Shop", string(hash)); err != nil {
		t.Fatal(err)
	}
	post := func(body string) testkit.Resp {
		req, _ := http.NewRequest("POST", e.url+"/api/auth/token", strings.NewReader(body))
		return testkit.Do(t, req)
	}
	r := post(`{"client_id":"shop","client_secret":"s3cret-s3cret-s3cret"}`)
	e.mustStatus(r, 200, "token exchange")
	var tok api.AccessTokenJSON
	testkit.MustJSON(t, r.Body, &tok)
	if tok.AccessToken == "" || tok.Type != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token response %s", r.Body)
	}
	wrong := post(`{"client_id":"shop","client_secret":"nope"}`)
	unknown := post(`{"client_id":"nobody","client_secret":"s3cret-s3cret-s3cret"}`)
	for _, r := range []testkit.Resp{wrong, unknown} {
		if r.Status != 400 || errorMsg(t, r) != "Invalid client credentials" {
			t.Errorf("bad credentials: %d %q", r.Status, r.Body)
		}
	}
	if r := post(`{"client_id":"shop"`); r.Status != 400 {
		t.Errorf("malformed body: %d", r.Status)
	}

	// The access token works as a Bearer token (any case of "Bearer").
	e.token = tok.AccessToken
	e.mustStatus(e.do("GET", "/api/user", ""), 200, "GET /api/user with the new token")
	r = e.do("GET", "/api/user", "", "Authorization", "bearer "+tok.AccessToken)
	e.mustStatus(r, 200, "lower-case bearer")

	now := time.Now()
	_, gen, _ := e.st.Client("shop")
	unauthorized := map[string]string{
		"no header":  "",
		"basic":      "Basic c2hvcDpzM2NyZXQ=",
		"malformed":  "Bearer not-a-token",
		"wrong kind": "Bearer " + e.signer.Sign(auth.Claims{Kind: auth.KindUser, Subject: "shop", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}),
		"expired":    "Bearer " + e.signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: "shop", Gen: gen, IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}),
		"other key":  "Bearer " + testkit.NewSigner(t).Sign(auth.Claims{Kind: auth.KindClient, Subject: "shop", Gen: gen, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}),
		"unknown":    "Bearer " + e.signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: "ghost", Gen: 0, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}),
	}
	for name, h := range unauthorized {
		r := e.do("GET", "/api/user", "", "Authorization", h)
		if r.Status != 401 {
			t.Errorf("%s: status %d, want 401", name, r.Status)
			continue
		}
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, r.Header.Get("WWW-Authenticate"))
		}
		errorMsg(t, r)
	}

	// Removing the client ends its tokens, also after it is created again.
	if err := e.st.RemoveClient(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/user", ""); r.Status != 401 {
		t.Errorf("token of a removed client: %d", r.Status)
	}
	if _, err := e.st.PutClient(ctx, "shop", "Shop", "x"); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/user", ""); r.Status != 401 {
		t.Errorf("token of a removed and re-created client: %d", r.Status)
	}
}

func TestNotifyAndAcknowledge(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.API.MaxMessage = 64; c.MaxBody = 1024 })
	ctx := context.Background()
	for _, u := range []string{"u1", "u2", "u3"} {
		e.st.PutUser(ctx, u, nil)
	}
	e.st.PutGroup(ctx, "g1", []string{"u2", "u3"})
	e.st.PutGroup(ctx, "empty", nil)

	type receipt struct {
		ID         string `json:"id"`
		Seq        uint64 `json:"seq"`
		Recipients int    `json:"recipients"`
	}
	r := e.do("POST", "/api/message/notify", `{"users":["u1","u2","u1"],"groups":["g1"],"message":{ "text" : "hi" },"event":"chat","ttl":60}`)
	e.mustStatus(r, 202, "notify")
	var rc receipt
	testkit.MustJSON(t, r.Body, &rc)
	if rc.ID == "" || rc.Seq == 0 || rc.Recipients != 3 {
		t.Fatalf("receipt %s: want 3 recipients (union, each once)", r.Body)
	}
	r = e.do("POST", "/api/message/notify", `{"ids":["u1"],"payload":[1]}`)
	e.mustStatus(r, 202, "notify with ids/payload")
	var rc2 receipt
	testkit.MustJSON(t, r.Body, &rc2)
	if rc2.Seq <= rc.Seq || rc2.Recipients != 1 {
		t.Errorf("second receipt %s after seq %d", r.Body, rc.Seq)
	}

	seq := e.st.Stats().Seq
	for _, tc := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"users":["u1","ghost"],"message":1}`, 404, "unknown user: ghost"},
		{`{"users":["u1"],"groups":["nog"],"message":1}`, 404, "unknown group: nog"},
		{`{"groups":["empty"],"message":1}`, 400, "no recipients"},
		{`{"message":1}`, 400, "no recipients"},
		{`{"users":["u1"]}`, 400, "required"},
		{`{"users":["u1"],"message":1,"payload":1}`, 400, "not both"},
		{`{"users":["u1"],"message":"` + strings.Repeat("m", 70) + `"}`, 400, "larger than 64 bytes"},
		{`{"users":["u1"],"message":"` + strings.Repeat("m", 1100) + `"}`, 413, "larger than 1024 bytes"},
		{`{"users":["u1"],"message":1,"ttl":0}`, 400, "ttl"},
		{`{"users":["u1"],"message":1,"ttl":"60"}`, 400, "ttl"},
		{`{"users":["u1"],"message":1,"event":"a b"}`, 400, "event"},
		{`{"users":["u1"],"message":1,"extra":1}`, 400, "unknown field"},
		{`{"users":["u1"],"message":{"a":}}`, 400, "not valid JSON"},
	} {
		r := e.do("POST", "/api/message/notify", tc.body)
		if r.Status != tc.code || !strings.Contains(errorMsg(t, r), tc.msg) {
			t.Errorf("notify %.60s: %d %q, want %d with %q", tc.body, r.Status, r.Body, tc.code, tc.msg)
		}
	}
	if got := e.st.Stats().Seq; got != seq {
		t.Errorf("refused notifies wrote %d records", got-seq)
	}

	r = e.do("GET", "/api/message/"+rc.ID, "")
	e.mustStatus(r, 200, "get message")
	var m api.MessageJSON
	testkit.MustJSON(t, r.Body, &m)
	if m.ID != rc.ID || m.Seq != rc.Seq || m.Event != "chat" || string(m.Message) != `{"text":"hi"}` || len(m.Recipients) != 3 {
		t.Fatalf("message %s", r.Body)
	}
	created, err1 := time.Parse(time.RFC3339, m.CreatedAt)
	expires, err2 := time.Parse(time.RFC3339, m.ExpiresAt)
	if err1 != nil || err2 != nil || expires.Sub(created) != time.Minute {
		t.Errorf("created_at %q expires_at %q (%v %v): want RFC 3339, 60 s apart", m.CreatedAt, m.ExpiresAt, err1, err2)
	}
	for _, rcp := range m.Recipients {
		if rcp.Delivered || rcp.Acknowledged {
			t.Errorf("fresh copy %+v", rcp)
		}
	}

	ack := func(body string) testkit.Resp { return e.do("POST", "/api/message/acknowledge", body) }
	e.mustStatus(ack(`{"message_id":"`+rc.ID+`","user_id":"u2"}`), 204, "ack")
	e.mustStatus(ack(`{"message_id":"`+rc.ID+`","user_id":"u2"}`), 204, "ack twice")
	// A 404 says which is missing: the user, the message, or the user's copy.
	for _, tc := range []struct{ what, msgID, user, want string }{
		{"a copy the user does not have", rc2.ID, "u2", "user u2 has no copy of message " + rc2.ID},
		{"an unknown message", "nope", "u2", "unknown message: nope"},
		{"an unknown user", rc.ID, "ghost", "unknown user: ghost"},
		{"an unknown user and message", "nope", "ghost", "unknown user: ghost"},
	} {
		r := ack(`{"message_id":"` + tc.msgID + `","user_id":"` + tc.user + `"}`)
		if r.Status != 404 {
			t.Errorf("ack of %s: %d %q, want 404", tc.what, r.Status, r.Body)
		} else if msg := errorMsg(t, r); msg != tc.want {
			t.Errorf("ack of %s: error %q, want %q", tc.what, msg, tc.want)
		}
	}
	e.mustStatus(ack(`{"message_id":"","user_id":"u2"}`), 400, "ack without id")
	e.mustStatus(ack(`{"message_id":"`+rc.ID+`","user_id":"bad id"}`), 400, "ack with bad user id")
	r = e.do("GET", "/api/message/"+rc.ID, "")
	testkit.MustJSON(t, r.Body, &m)
	for _, rcp := range m.Recipients {
		if rcp.Acknowledged != (rcp.UserID == "u2") {
			t.Errorf("after ack by u2: %+v", rcp)
		}
	}
	r = e.do("GET", "/api/user/u1", "")
	if !strings.Contains(string(r.Body), `"pending":2`) {
		t.Errorf("u1 pending: %s", r.Body)
	}
	e.mustStatus(e.do("GET", "/api/message/nope", ""), 404, "unknown message")
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/healthz", "", "Authorization", "")
	if r.Status != 200 || compact(t, string(r.Body)) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", r.Status, r.Body)
	}
	e.st.Close()
	r = e.do("GET", "/healthz", "", "Authorization", "")
	if r.Status != 503 || !strings.Contains(errorMsg(t, r), "not writable") {
		t.Errorf("healthz after the store closed: %d %s, want 503", r.Status, r.Body)
	}
	r = e.do("POST", "/api/user", `{"id":"late"}`)
	if r.Status != 503 {
		t.Errorf("write after the store closed: %d %s, want 503", r.Status, r.Body)
	}
	errorMsg(t, r)
}

// Errors are one clear sentence of JSON whatever the route.
func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range [][3]string{
		{"GET", "/api/user/bad%20id", ""},
		{"POST", "/api/user", "{"},
		{"POST", "/api/message/acknowledge", `{"message_id":"x","user_id":"u"}`},
		{"GET", "/api/group/%2e%2e", ""},
	} {
		r := e.do(c[0], c[1], c[2])
		if r.Status < 400 {
			t.Errorf("%s %s: %d", c[0], c[1], r.Status)
			continue
		}
		errorMsg(t, r)
	}
}
