package integration

// Strict at every door: hostile requests each get the status and body the
// contract says, and change nothing.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

func TestHostileRequests(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.MaxBody = 4096 })
	h.PutGroup(t, "kitchen")
	h.PutUser(t, "alice", "kitchen")
	h.PutUser(t, "bob")
	m := h.Notify(t, map[string]any{"users": []string{"alice"}, "message": "x"})
	before := snapshot(t, h)
	tok := "Bearer " + h.AccessToken(t)

	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		says                     string
	}{
		{"a key in another case", "POST", "/api/message/notify", `{"users":["alice"],"Users":["bob"],"message":"x"}`, nil, 400, `unknown field "Users"`},
		{"an upper-case field of acknowledge", "POST", "/api/message/acknowledge", `{"message_id":"` + m.ID + `","user_id":"bob","USER_ID":"alice"}`, nil, 400, `unknown field "USER_ID"`},
		{"all upper case", "POST", "/api/message/notify", `{"USERS":["alice"],"message":"x"}`, nil, 400, `unknown field "USERS"`},
		{"a duplicate key", "POST", "/api/message/notify", `{"users":["alice"],"users":["bob"],"message":"x"}`, nil, 400, `"users" is given twice`},
		{"a duplicate key, the same value", "POST", "/api/user", `{"id":"carol","id":"carol"}`, nil, 400, "given twice"},
		{"invalid UTF-8", "POST", "/api/message/notify", "{\"users\":[\"alice\"],\"message\":\"\xff\xfe\"}", nil, 400, "UTF-8"},
		{"an empty query value", "GET", "/api/user?group=", "", nil, 400, `"group" is empty`},
		{"a malformed escape", "GET", "/api/user?group=%zz", "", nil, 400, "malformed"},
		{"a query typo", "GET", "/api/user?grp=kitchen", "", nil, 400, `unknown query parameter "grp"`},
		{"a query on a route that takes none", "GET", "/api/group?x=1", "", nil, 400, `unknown query parameter "x"`},
		{"a repeated query parameter", "GET", "/api/user/alice/token?ttl=5&ttl=6", "", nil, 400, "more than once"},
		{"gzip", "POST", "/api/user", `{"id":"carol"}`, map[string]string{"Content-Encoding": "gzip"}, 415, "Content-Encoding"},
		{"gzip after identity in a list", "POST", "/api/user", `{"id":"carol"}`, map[string]string{"Content-Encoding": "identity, gzip"}, 415, `"gzip"`},
		{"null", "POST", "/api/user", `null`, nil, 400, "JSON object"},
		{"a rebinding name", "GET", "/metrics", "", map[string]string{"Host": "evil.example"}, 421, "evil.example"},
		{"a rebinding name with a port", "GET", "/api/user", "", map[string]string{"Host": "evil.example:4501"}, 421, "does not answer"},
		{"a LAN address", "GET", "/healthz", "", map[string]string{"Host": "192.168.1.2:4501"}, 421, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": tok}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			req, _ := http.NewRequest(tc.method, h.API+tc.path, strings.NewReader(tc.body))
			if body == nil {
				req.Body = http.NoBody
			}
			for k, v := range hdr {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			testkit.WantError(t, tc.name, testkit.Do(t, req), tc.status, tc.says)
		})
	}
	// Each Content-Encoding line counts, not only the first.
	req, _ := http.NewRequest("POST", h.API+"/api/group", strings.NewReader(`{"id":"carol"}`))
	req.Header.Set("Authorization", tok)
	req.Header.Add("Content-Encoding", "identity")
	req.Header.Add("Content-Encoding", "br")
	testkit.WantError(t, "a second Content-Encoding line", testkit.Do(t, req), 415, `"br"`)
	// Loopback names and addresses, and the bare name, are served.
	for _, host := range []string{"localhost", "localhost:4501", "127.0.0.1", "127.0.0.1:4501", "[::1]:4501", "LOCALHOST."} {
		req, _ := http.NewRequest("GET", h.API+"/healthz", nil)
		req.Host = host
		if r := testkit.Do(t, req); r.Status != 200 {
			t.Errorf("Host %s: %v", host, r)
		}
	}
	if after := snapshot(t, h); after != before {
		t.Errorf("hostile requests changed state:\nbefore %s\nafter  %s", before, after)
	}
}

// TestContentLengthOverTheLimit: a request that says it carries more than
// --max-body gets its 413 before it sends the body.
func TestContentLengthOverTheLimit(t *testing.T) {
	t.Parallel()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) { c.MaxBody = 4096 })
	tok := h.AccessToken(t)
	for _, base := range []string{h.API + "/api/message/notify", h.SSE + "/ack?token=x"} {
		addr := strings.TrimPrefix(base, "http://")
		addr, path, _ := strings.Cut(addr, "/")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n", path, tok)
		conn.SetReadDeadline(time.Now().Add(testkit.Guard)) // a failure guard: the body timeout is 30 s
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer before the body: %v", base, err)
		}
		res.Body.Close()
		if base == h.API+"/api/message/notify" && res.StatusCode != 413 {
			t.Errorf("%s: %d, want 413", base, res.StatusCode)
		}
	}
}

// TestLANFace: the SSE listener's /healthz says only that the hub cannot
// take writes (the API's says why), and /ack answers one 404 for a
// message that does not exist and another user's message.
func TestLANFace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, full := startFailingHub(t, dir, syscall.ENOSPC, nil)
	h.PutUsers(t, "alice", "bob")
	bobs := h.Notify(t, map[string]any{"users": []string{"bob"}, "message": "x"})
	tok := h.UserToken(t, "alice", "")
	unknown := testkit.Request(t, "POST", h.SSE+"/ack?token="+tok, map[string]string{"message_id": "000000000000000000000000"}, nil)
	other := testkit.Request(t, "POST", h.SSE+"/ack?token="+tok, map[string]string{"message_id": bobs.ID}, nil)
	testkit.WantError(t, "unknown message", unknown, 404, "unknown message")
	testkit.WantError(t, "another user's message", other, 404, "unknown message")
	if strings.ReplaceAll(string(other.Body), bobs.ID, "ID") != strings.ReplaceAll(string(unknown.Body), "000000000000000000000000", "ID") {
		t.Errorf("the two 404s differ: %s vs %s", unknown.Body, other.Body)
	}

	full.Store(true)
	r := h.Call(t, "POST", "/api/message/notify", map[string]any{"users": []string{"alice"}, "message": "y"})
	testkit.WantError(t, "a notify on a full disk", r, 507, "disk full")
	lan := testkit.Request(t, "GET", h.SSE+"/healthz", nil, nil)
	if msg := testkit.WantError(t, "SSE /healthz", lan, 503, ""); msg != "unavailable" || strings.Contains(string(lan.Body), dir) {
		t.Errorf("the LAN's /healthz says %s", lan.Body)
	}
	testkit.WantError(t, "API /healthz", testkit.Request(t, "GET", h.API+"/healthz", nil, nil), 503, "disk full")
	full.Store(false)
	h.Notify(t, map[string]any{"users": []string{"alice"}, "message": "z"})
	h.Stop(t)
	if b, _ := os.ReadFile(filepath.Join(dir, "lock")); string(b) != "stopped\n" {
		t.Errorf("a clean stop after a refused write left the lock saying %q", b)
	}
}
