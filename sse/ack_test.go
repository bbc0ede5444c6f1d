package sse_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"rtchub/internal/testkit"
)

func TestAck(t *testing.T) {
	e := newEnv(t, nil)
	e.user("u1")
	e.user("u2")
	m1 := e.notify("message", "1", "u1")
	m2 := e.notify("message", "2", "u1")
	other := e.notify("message", "3", "u2")
	tok := e.token("u1")

	ack := func(id string, byHeader bool) testkit.Resp {
		if byHeader {
			return e.do("POST", "/ack", `{"message_id":"`+id+`"}`, "Authorization", "Bearer "+tok, "Content-Type", "application/json")
		}
		return e.do("POST", "/ack?token="+tok, `{"message_id":"`+id+`"}`)
	}
	if r := ack(m1.ID, false); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("ack: %d %q", r.Status, r.Body)
	}
	if r := ack(m1.ID, true); r.Status != 204 {
		t.Fatalf("ack twice: %d %q", r.Status, r.Body)
	}
	if r := ack("000000000000000000000000", false); r.Status != 404 || errorMsg(t, r) != "unknown message: 000000000000000000000000" {
		t.Errorf("ack unknown: %d %q", r.Status, r.Body)
	}
	// Another user's message reads as an unknown one: the LAN side does
	// not tell them apart.
	if r := ack(other.ID, true); r.Status != 404 || errorMsg(t, r) != "unknown message: "+other.ID {
		t.Errorf("ack of another user's message: %d %q, want the 404 of an unknown message", r.Status, r.Body)
	}
	m, _ := e.st.Message(other.ID)
	if m.Recipients[0].Acked {
		t.Errorf("u1 acknowledged u2's copy")
	}
	for _, body := range []string{``, `{}`, `{"message_id":""}`, `{"message_id":"` + strings.Repeat("a", 129) + `"}`, `{"message_id":1}`, `{"message_id":"x","user_id":"u2"}`, `{"message_id":"x"} {}`} {
		r := e.do("POST", "/ack?token="+tok, body)
		if r.Status != 400 {
			t.Errorf("ack body %q: %d %q, want 400", body, r.Status, r.Body)
		} else {
			errorMsg(t, r)
		}
	}
	m, _ = e.st.Message(m1.ID)
	if !m.Recipients[0].Acked {
		t.Fatal("copy not acknowledged in the store")
	}
	// A reconnect replays only what is still unacknowledged.
	s := e.open("/sse?token=" + tok)
	evs := s.WaitEvents(t, 1)
	time.Sleep(50 * time.Millisecond)
	evs = testkit.Parse([]byte(string(s.Raw()))).Events
	if len(evs) != 1 || evs[0].ID != strconv.FormatUint(m2.Seq, 10) {
		t.Errorf("replay after ack: %+v, want only seq %d", evs, m2.Seq)
	}
	if r := e.do("GET", "/ack", ""); r.Status != 405 {
		t.Errorf("GET /ack: %d", r.Status)
	} else {
		errorMsg(t, r)
	}
}
