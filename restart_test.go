package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestRestartKeepsEverything stops a hub (the SIGTERM path) and starts a
// new one on the same data directory: users, groups, tokens, revocations
// and pending messages all survive.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := startHub(t, dir)
	h.putGroup(t, "team")
	h.putGroup(t, "gone")
	h.putUser(t, "ann", "team")
	h.putUser(t, "ben", "team", "gone")
	h.putUser(t, "cyd")
	h.putUser(t, "del")
	h.must(t, 204, "DELETE", "/api/group/gone", nil, nil)

	annTok := h.userToken(t, "ann", "")
	benRevoked := h.userToken(t, "ben", "")
	h.must(t, 204, "POST", "/api/user/ben/revoke", nil, nil)
	benTok := h.userToken(t, "ben", "")
	delTok := h.userToken(t, "del", "")
	h.must(t, 204, "DELETE", "/api/user/del", nil, nil)

	m1 := h.notify(t, map[string]any{"groups": []string{"team"}, "message": map[string]any{"n": 1}, "event": "first"})
	m2 := h.notify(t, map[string]any{"users": []string{"ann"}, "message": "two"})
	m3 := h.notify(t, map[string]any{"users": []string{"ann", "ben"}, "message": "three"})
	h.ack(t, m2.ID, "ann")
	h.ack(t, m3.ID, "ben")
	expired := h.notify(t, map[string]any{"users": []string{"cyd"}, "message": "short-lived", "ttl": 1})

	// What a client sees before the restart.
	users := h.must(t, 200, "GET", "/api/user", nil, nil).Body
	groups := h.must(t, 200, "GET", "/api/group", nil, nil).Body
	team := h.must(t, 200, "GET", "/api/group/team", nil, nil).Body
	msg1 := h.must(t, 200, "GET", "/api/message/"+m1.ID, nil, nil).Body
	msg3 := h.must(t, 200, "GET", "/api/message/"+m3.ID, nil, nil).Body
	// ben acknowledged m3 without a stream open: acknowledged implies
	// delivered, before and after the restart.
	wantRecipients3 := `[{"user_id":"ann","delivered":false,"acknowledged":false},{"user_id":"ben","delivered":true,"acknowledged":true}]`
	if got := recipientsOf(t, msg3); got != wantRecipients3 {
		t.Errorf("m3 recipients: got %s, want %s", got, wantRecipients3)
	}
	appTok := h.accessToken(t)
	h.stop(t)
	if b, err := os.ReadFile(filepath.Join(dir, "rtchub.log")); err != nil || bytes.Contains(b, []byte(testClientSecret)) {
		t.Errorf("the client secret from the environment is in the log in clear text (or no log: %v)", err)
	}

	h2 := startHub(t, dir)
	// The access token issued before the restart still works: the key and
	// the client are in the data directory.
	h2.tokOnce.Do(func() { h2.tok = appTok })
	if r := h2.api(t, "GET", "/api/user", nil); r.Status != 200 {
		t.Fatalf("access token from before the restart: %v", r)
	}
	if got := h2.must(t, 200, "GET", "/api/group", nil, nil).Body; !jsonEq(got, groups) {
		t.Errorf("groups after restart:\n got %s\nwant %s", got, groups)
	}
	if got := h2.must(t, 200, "GET", "/api/group/team", nil, nil).Body; !jsonEq(got, team) {
		t.Errorf("team after restart:\n got %s\nwant %s", got, team)
	}
	// cyd's message has expired meanwhile (ttl 1s; the restart took time
	// or we wait for it): compare users once it is gone.
	eventually(t, "cyd's ttl=1 message expires", func() bool { return h2.user(t, "cyd").Pending == 0 })
	wantUsers := `[{"id":"ann","groups":["team"],"online":0,"pending":2},{"id":"ben","groups":["team"],"online":0,"pending":1},{"id":"cyd","groups":[],"online":0,"pending":0}]`
	if got := h2.must(t, 200, "GET", "/api/user", nil, nil).Body; !jsonEq(got, []byte(wantUsers)) {
		t.Errorf("users after restart:\n got %s\nwant %s\n(before restart: %s)", got, wantUsers, users)
	}
	if got := h2.must(t, 200, "GET", "/api/message/"+m1.ID, nil, nil).Body; !jsonEq(got, msg1) {
		t.Errorf("message after restart:\n got %s\nwant %s", got, msg1)
	}
	if got := h2.must(t, 200, "GET", "/api/message/"+m3.ID, nil, nil).Body; !jsonEq(got, msg3) {
		t.Errorf("acknowledged message after restart:\n got %s\nwant %s", got, msg3)
	}

	// Tokens: issued before the restart still work; revoked stay revoked;
	// a deleted user's token stays dead.
	ann := dialSSE(t, h2.SSE, annTok)
	if ann.Status != 200 {
		t.Fatalf("ann's token from before the restart: %d %s", ann.Status, ann.Body)
	}
	for _, rc := range []receipt{m1, m3} { // m2 was acknowledged
		ev := ann.next(t, guard)
		if d := decodeData(t, ev); d.ID != rc.ID || d.Seq != rc.Seq {
			t.Errorf("ann's replay after restart: got %s seq %d, want %s seq %d", d.ID, d.Seq, rc.ID, rc.Seq)
		}
	}
	c := dialSSE(t, h2.SSE, benRevoked)
	wantError(t, "revoked token after restart", resp{c.Status, c.Header, c.Body}, 401, "")
	c = dialSSE(t, h2.SSE, delTok)
	wantError(t, "deleted user's token after restart", resp{c.Status, c.Header, c.Body}, 401, "")
	h2.putUser(t, "del")
	c = dialSSE(t, h2.SSE, delTok)
	wantError(t, "old token of a user recreated after restart", resp{c.Status, c.Header, c.Body}, 401, "")
	ben := dialSSE(t, h2.SSE, benTok)
	if ev := ben.next(t, guard); ev.Event != "first" || decodeData(t, ev).ID != m1.ID {
		t.Errorf("ben's replay after restart: %+v, want m1 with event first", ev)
	}

	// New messages continue the sequence, live.
	m4 := h2.notify(t, map[string]any{"users": []string{"ann", "ben"}, "message": "after"})
	if m4.Seq <= expired.Seq {
		t.Errorf("seq after restart %d, want more than %d", m4.Seq, expired.Seq)
	}
	for _, s := range []*sseClient{ann, ben} {
		if d := decodeData(t, s.next(t, guard)); d.ID != m4.ID {
			t.Errorf("live after restart: got %s, want %s", d.ID, m4.ID)
		}
	}
}

// TestGracefulShutdown: cancelling run's context (SIGTERM) ends open
// streams cleanly after the messages already committed are written, and
// run returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := startHub(t, dir)
	h.putUser(t, "u")
	tok := h.userToken(t, "u", "")
	streams := []*sseClient{dialSSE(t, h.SSE, tok), dialSSE(t, h.SSE, tok)}
	eventually(t, "two streams open", func() bool { return h.user(t, "u").Online == 2 })
	rc := h.notify(t, map[string]any{"users": []string{"u"}, "message": "last words"})
	h.stop(t) // asserts run returned nil
	for i, s := range streams {
		rest := s.waitEOF(t, guard)
		if len(rest) != 1 || decodeData(t, rest[0]).ID != rc.ID {
			t.Errorf("stream %d: before EOF got %+v, want the message committed before shutdown", i, rest)
		}
	}
	// The listeners are closed.
	if _, err := httpc.Get(h.API + "/healthz"); err == nil {
		t.Errorf("API listener still answers after shutdown")
	}
	if _, err := httpc.Get(h.SSE + "/healthz"); err == nil {
		t.Errorf("SSE listener still answers after shutdown")
	}
	// Nothing is lost: a new hub replays the unacknowledged message.
	h2 := startHub(t, dir)
	c := dialSSE(t, h2.SSE, tok)
	if d := decodeData(t, c.next(t, guard)); d.ID != rc.ID {
		t.Errorf("after restart got %s, want %s", d.ID, rc.ID)
	}
	h2.stop(t)

	// rtchub verify: a clean log is ok; a damaged record in the middle is
	// reported as an error.
	if out, err := runCmd(t, "verify", dir); err != nil {
		t.Errorf("verify of a cleanly stopped hub's log: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "rtchub.log")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n")) // the last element is empty
	if len(lines) < 4 {
		t.Fatalf("log has %d records, want at least 3", len(lines)-1)
	}
	mid := lines[1] // intact records follow it
	if i := bytes.Index(mid, []byte(`"op":"`)); i >= 0 {
		mid[i+6] ^= 0x01 // one flipped bit inside a record
	}
	if err := os.WriteFile(logPath, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, "verify", dir); err == nil {
		t.Errorf("verify of a log with a damaged record in the middle says ok:\n%s\nlog:\n%s", out, bytes.Join(lines, nil))
	}
}

// recipientsOf returns the "recipients" of a message status body, compact.
func recipientsOf(t *testing.T, body []byte) string {
	t.Helper()
	var m struct{ Recipients json.RawMessage }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("message status %s: %v", body, err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m.Recipients); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
