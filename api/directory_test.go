package api_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/internal/testkit"
)

func TestUsersAndGroups(t *testing.T) {
	e := newEnv(t, nil)
	e.mustStatus(e.do("POST", "/api/user", `{"id":"u1","groups":["nope"]}`), 404, "user in unknown group")
	e.mustStatus(e.do("POST", "/api/group", `{"id":"g1"}`), 201, "create g1")
	e.mustStatus(e.do("POST", "/api/group", `{"id":"g1"}`), 200, "create g1 again")
	r := e.do("POST", "/api/user", `{"id":"u2","groups":["g1"]}`)
	e.mustStatus(r, 201, "create u2")
	var u struct {
		ID      string   `json:"id"`
		Groups  []string `json:"groups"`
		Online  *int     `json:"online"`
		Pending *int     `json:"pending"`
	}
	testkit.MustJSON(t, r.Body, &u)
	if u.ID != "u2" || !slices.Equal(u.Groups, []string{"g1"}) || u.Online == nil || u.Pending == nil {
		t.Errorf("created user %s", r.Body)
	}
	e.mustStatus(e.do("POST", "/api/user", `{"id":"u1"}`), 201, "create u1")
	r = e.do("POST", "/api/user", `{"id":"u1"}`)
	e.mustStatus(r, 200, "create u1 again")
	if !strings.Contains(string(r.Body), `"groups":[]`) {
		t.Errorf("groups of a user in none: %s (want [])", r.Body)
	}
	e.mustStatus(e.do("POST", "/api/user", `{"id":"bad id"}`), 400, "invalid user id")
	e.mustStatus(e.do("POST", "/api/group", `{"id":"g2","users":["u1","ghost"]}`), 404, "group with unknown user")
	if _, ok := e.st.Group("g2"); ok {
		t.Error("g2 created although a member was unknown")
	}

	// Groups are replaced on a second POST; members are added to a group.
	e.mustStatus(e.do("POST", "/api/group", `{"id":"g9","users":["u1"]}`), 201, "create g9")
	r = e.do("POST", "/api/user", `{"id":"u1","groups":["g1"]}`)
	e.mustStatus(r, 200, "move u1 to g1")
	if !strings.Contains(string(r.Body), `"groups":["g1"]`) {
		t.Errorf("u1's groups not replaced: %s", r.Body)
	}
	e.mustStatus(e.do("POST", "/api/group", `{"id":"g1","users":["u1"]}`), 200, "add to g1")
	if got := compact(t, string(e.do("GET", "/api/group/g1", "").Body)); got != `{"id":"g1","users":["u1","u2"]}` {
		t.Errorf("g1 after adding u1: %s", got)
	}
	e.mustStatus(e.do("POST", "/api/user", `{"id":"u1"}`), 200, "u1 in no group")
	e.mustStatus(e.do("DELETE", "/api/group/g9", ""), 204, "delete g9")

	// online counts the user's open streams.
	st1, err := e.hub.Attach("u2")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/user/u2", ""); !strings.Contains(string(r.Body), `"online":1`) {
		t.Errorf("u2 with a stream: %s", r.Body)
	}
	st1.Close()

	r = e.do("GET", "/api/user", "")
	e.mustStatus(r, 200, "list users")
	var list []struct {
		ID string `json:"id"`
	}
	testkit.MustJSON(t, r.Body, &list)
	if len(list) != 2 || list[0].ID != "u1" || list[1].ID != "u2" {
		t.Errorf("users not sorted by id: %s", r.Body)
	}
	r = e.do("GET", "/api/user?group=g1", "")
	testkit.MustJSON(t, r.Body, &list)
	if len(list) != 1 || list[0].ID != "u2" {
		t.Errorf("?group=g1: %s", r.Body)
	}
	e.mustStatus(e.do("GET", "/api/user?group=ghost", ""), 404, "?group=unknown")
	e.mustStatus(e.do("GET", "/api/user?group=a%20b", ""), 400, "?group=invalid")

	r = e.do("GET", "/api/group", "")
	e.mustStatus(r, 200, "list groups")
	if got := compact(t, string(r.Body)); got != `[{"id":"g1","members":1}]` {
		t.Errorf("groups: %s", got)
	}
	r = e.do("GET", "/api/group/g1", "")
	if got := compact(t, string(r.Body)); got != `{"id":"g1","users":["u2"]}` {
		t.Errorf("group g1: %s", got)
	}
	e.mustStatus(e.do("GET", "/api/group/ghost", ""), 404, "unknown group")
	e.mustStatus(e.do("GET", "/api/user/ghost", ""), 404, "unknown user")
	if msg := errorMsg(t, e.do("GET", "/api/user/ghost", "")); msg != "unknown user: ghost" {
		t.Errorf("404 message %q", msg)
	}

	e.mustStatus(e.do("DELETE", "/api/group/g1", ""), 204, "delete g1")
	r = e.do("GET", "/api/user/u2", "")
	e.mustStatus(r, 200, "u2 after its group went")
	if !strings.Contains(string(r.Body), `"groups":[]`) {
		t.Errorf("u2 still in a deleted group: %s", r.Body)
	}
	e.mustStatus(e.do("DELETE", "/api/group/g1", ""), 404, "delete g1 again")
	e.mustStatus(e.do("DELETE", "/api/user/u2", ""), 204, "delete u2")
	e.mustStatus(e.do("DELETE", "/api/user/u2", ""), 404, "delete u2 again")
	e.mustStatus(e.do("POST", "/api/user/u2/revoke", ""), 404, "revoke unknown")
	e.mustStatus(e.do("POST", "/api/user/u1/revoke", ""), 204, "revoke u1")
}

func TestUserToken(t *testing.T) {
	e := newEnv(t, nil)
	e.st.PutUser(context.Background(), "u1", nil)
	r := e.do("GET", "/api/user/u1/token", "")
	e.mustStatus(r, 200, "user token")
	var tok api.UserTokenJSON
	testkit.MustJSON(t, r.Body, &tok)
	if tok.Type != "Bearer" || tok.ExpiresIn != 86400 {
		t.Errorf("token response %s", r.Body)
	}
	c, err := e.signer.Verify(tok.Token, auth.KindUser, time.Now())
	if err != nil || c.Subject != "u1" {
		t.Fatalf("user token: %+v %v", c, err)
	}
	r = e.do("GET", "/api/user/u1/token?ttl=60", "")
	testkit.MustJSON(t, r.Body, &tok)
	if tok.ExpiresIn != 60 {
		t.Errorf("?ttl=60: %s", r.Body)
	}
	for _, ttl := range []string{"0", "-1", "abc", "1.5", strconv.Itoa(30*24*3600 + 1)} {
		e.mustStatus(e.do("GET", "/api/user/u1/token?ttl="+ttl, ""), 400, "ttl="+ttl)
	}
	e.mustStatus(e.do("GET", "/api/user/u1/token?ttl="+strconv.Itoa(30*24*3600), ""), 200, "max ttl")
	e.mustStatus(e.do("GET", "/api/user/ghost/token", ""), 404, "token of unknown user")
}
