package integration

// Helpers shared by tests in several files: checking an event's data,
// the state a client can see, a forged token signature, the counters of
// /metrics and a token signed with another key.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rtchub/auth"
	"rtchub/internal/testkit"
)

// dataJSON is the data line of a message event.
type dataJSON struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Message   json.RawMessage `json:"message"`
	CreatedAt string          `json:"created_at"`
}

// decodeData checks that an event's data is exactly one line of JSON with
// exactly the keys of the contract, and that id: is the seq.
func decodeData(t testing.TB, ev testkit.Item) dataJSON {
	t.Helper()
	if strings.ContainsAny(ev.Data, "\r\n") {
		t.Errorf("data is more than one line: %q", ev.Data)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ev.Data), &raw); err != nil {
		t.Fatalf("data is not JSON: %v: %q", err, ev.Data)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"created_at", "id", "message", "seq"}) {
		t.Errorf("data keys %v, want created_at id message seq", keys)
	}
	var d dataJSON
	testkit.MustJSON(t, []byte(ev.Data), &d)
	if !ev.HasID || ev.ID != fmt.Sprint(d.Seq) {
		t.Errorf("event id %q (present %v), want the seq %d", ev.ID, ev.HasID, d.Seq)
	}
	if _, err := time.Parse(time.RFC3339, d.CreatedAt); err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", d.CreatedAt, err)
	}
	return d
}

// snapshot is the state a client can see: users (with pending counts),
// groups, and the log's seq. Online counts are left out: streams that
// clients close are noticed by the hub in its own time.
func snapshot(t testing.TB, h *testkit.Hub) string {
	t.Helper()
	u := h.Must(t, 200, "GET", "/api/user", nil, nil)
	g := h.Must(t, 200, "GET", "/api/group", nil, nil)
	users := reOnline.ReplaceAllString(strings.TrimSpace(string(u.Body)), `"online":_`)
	return fmt.Sprintf("users=%s groups=%s seq=%v", users, strings.TrimSpace(string(g.Body)), h.Metric(t, "rtchub_log_seq"))
}

var reOnline = regexp.MustCompile(`"online":\d+`)

// flipMAC returns tok with its signature changed but still well-formed:
// the first character of the last dot-separated part is replaced.
func flipMAC(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || i+1 >= len(tok) {
		return tok + "x"
	}
	c := byte('A')
	if tok[i+1] == 'A' {
		c = 'B'
	}
	return tok[:i+1] + string(c) + tok[i+2:]
}

// counters returns every unlabelled counter of /metrics.
func counters(t testing.TB, h *testkit.Hub) map[string]float64 {
	t.Helper()
	r := testkit.Request(t, "GET", h.API+"/metrics", nil, nil)
	isCounter := map[string]bool{}
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && f[3] == "counter" {
			isCounter[f[2]] = true
		}
		if len(f) == 2 && isCounter[f[0]] {
			var v float64
			fmt.Sscan(f[1], &v)
			out[f[0]] = v
		}
	}
	return out
}

// foreignUserToken is a valid-looking user token for user, signed with a
// key no test hub has.
func foreignUserToken(t testing.TB, user string) string {
	t.Helper()
	s, err := auth.NewSigner(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return s.Sign(auth.Claims{Kind: auth.KindUser, Subject: user, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
}
