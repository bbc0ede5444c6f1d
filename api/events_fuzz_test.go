package api

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"rtchub/auth"
)

// FuzzEventFilter feeds arbitrary queries to the /api/events filter: it
// never panics; it refuses (with a message) or takes exactly the named
// events and users, all valid.
func FuzzEventFilter(f *testing.F) {
	for _, s := range []string{"", "events=sent", "events=acknowledged,online&user=ann", "events=nope", "events=sent,",
		"user=a%20b", "user=ann&user=bob", "events=sent&events=expired", "events=%zz", "user=", "events="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/events", nil)
		r.URL.RawQuery = raw
		q, _ := url.ParseQuery(raw)
		flt, msg := parseFilter(r)
		if msg != "" {
			if flt != nil {
				t.Fatalf("refused %q (%s) with a filter", raw, msg)
			}
			return
		}
		if flt.events&^evAll != 0 || (!q.Has("events") && flt.events != evAll) {
			t.Fatalf("%q: events %b", raw, flt.events)
		}
		for _, v := range q["events"] {
			for name := range strings.SplitSeq(v, ",") {
				if i := slices.Index(eventNames[:], strings.TrimSpace(name)); i < 0 || flt.events&(1<<i) == 0 {
					t.Fatalf("%q: %q accepted but not taken", raw, name)
				}
			}
		}
		if q.Has("user") != (flt.users != nil) || len(flt.users) != len(q["user"]) {
			t.Fatalf("%q: users %v", raw, flt.users)
		}
		for _, u := range flt.users {
			if !auth.ValidID(u) {
				t.Fatalf("%q: invalid user %q taken", raw, u)
			}
		}
	})
}
