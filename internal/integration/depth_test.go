package integration

import (
	"strings"
	"testing"

	"rtchub/internal/testkit"
)

// TestDeepMessage: a message is kept only if the hub can read its log
// back; a nesting past the limit is a 400 that writes nothing, and one at
// the limit survives a restart.
func TestDeepMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir)
	h.PutUser(t, "u1")
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"k":`, n) + "1" + strings.Repeat("}", n) }
	before := snapshot(t, h)
	for _, tc := range []struct{ name, message string }{
		{"arrays 101", arrays(101)},
		{"objects 101", objects(101)},
		{"arrays 9999", arrays(9999)},
		{"arrays 10000", arrays(10000)},
		{"objects 10001", objects(10001)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Call(t, "POST", "/api/message/notify", `{"users":["u1"],"message":`+tc.message+`}`)
			testkit.WantError(t, tc.name, r, 400, "levels deep")
			if after := snapshot(t, h); after != before {
				t.Fatalf("a refused deep message changed state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	kept := h.Notify(t, `{"users":["u1"],"message":`+objects(100)+`}`)
	h.Stop(t)
	h = testkit.StartHub(t, dir)
	var inbox []struct {
		ID string `json:"id"`
	}
	h.Must(t, 200, "GET", "/api/user/u1/messages", nil, &inbox)
	if len(inbox) != 1 || inbox[0].ID != kept.ID {
		t.Fatalf("after a restart u1's inbox is %+v, want the message nested 100 deep (%s)", inbox, kept.ID)
	}
}
