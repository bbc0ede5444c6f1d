package sse

import (
	"strconv"

	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// The server is the store's observer for the users' streams: each change
// becomes one frame, encoded once and shared by every stream it goes to,
// queued in commit (seq) order with the messages.

// MessageCommitted queues the message's frame on every open stream of each
// recipient whose copy is open.
func (s *Server) MessageCommitted(m *store.Message) {
	// The store calls observers one at a time, so the scratch list can be
	// reused from message to message.
	s.targets = s.targets[:0]
	for user, delivered := range m.OpenCopies() {
		s.targets = append(s.targets, hub.Target{User: user, Mark: delivered})
	}
	if len(s.targets) > 0 {
		s.burst.SendTo(s.targets, &hub.Frame{B: AppendFrame(make([]byte, 0, frameLen(m)), m), Msg: m.ID})
	}
	clear(s.targets)
}

// CopiesWithdrawn tells the users' other devices: rtchub.ack or
// rtchub.recall.
func (s *Server) CopiesWithdrawn(w store.Withdrawal) {
	s.targets = s.targets[:0]
	for _, u := range w.Users {
		s.targets = append(s.targets, hub.Target{User: u})
	}
	s.burst.SendTo(s.targets, &hub.Frame{B: AppendRetraction(nil, w.Retraction)})
	clear(s.targets)
}

// Committed lets the writers have the batch's frames: each stream writes
// the messages of one group commit at once.
func (s *Server) Committed() { s.burst.Flush() }

// CopiesExpired tells devices nothing: they drop expired messages
// themselves (expires_at is in the message status).
func (s *Server) CopiesExpired(*store.Message, []string, int64) {}

// UserClosed ends a deleted or revoked user's streams.
func (s *Server) UserClosed(user string, _ uint64) { s.cfg.Hub.CloseUser(user) }

// AppendFrame appends m as one SSE event:
//
//	id: <seq>
//	event: <event>
//	data: {"id":"<id>","seq":<seq>,"key":"<key>","message":<json>,"created_at":"<RFC 3339>"}
//
// "key" only when the message has one. The body is compact JSON, so data
// is one line.
func AppendFrame(dst []byte, m *store.Message) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, m.Event...)
	dst = append(dst, "\ndata: {\"id\":\""...)
	dst = append(dst, m.ID...)
	dst = append(dst, "\",\"seq\":"...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	if m.Key != "" {
		// The key's alphabet needs no escaping.
		dst = append(dst, ",\"key\":\""...)
		dst = append(dst, m.Key...)
		dst = append(dst, '"')
	}
	dst = append(dst, ",\"message\":"...)
	dst = append(dst, m.Body...)
	dst = append(dst, ",\"created_at\":\""...)
	dst = httpx.AppendTime(dst, m.Created)
	dst = append(dst, "\"}\n\n"...)
	return dst
}

// frameLen is a bound on the bytes AppendFrame appends for m, so that each
// frame is one allocation: 97 bytes of fixed text and time (more only for
// a year past 9999), two seqs of up to 20 digits, and the strings.
func frameLen(m *store.Message) int {
	return 128 + 2*20 + len(m.Event) + len(m.ID) + len(m.Key) + len(m.Body)
}

// AppendRetraction appends t as a hub event of the user's stream:
//
//	id: <seq of the record>
//	event: rtchub.ack | rtchub.recall
//	data: {"id":"<message id>","seq":<seq>[,"reason":"recalled"|"replaced"[,"by":"<id>"]]}
func AppendRetraction(dst []byte, t store.Retraction) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	if t.Reason == store.Acked {
		dst = append(dst, "\nevent: rtchub.ack"...)
	} else {
		dst = append(dst, "\nevent: rtchub.recall"...)
	}
	dst = append(dst, "\ndata: {\"id\":"...)
	dst = httpx.AppendString(dst, t.ID)
	dst = append(dst, ",\"seq\":"...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	if t.Reason != store.Acked {
		dst = append(dst, ",\"reason\":\""...)
		dst = append(dst, t.Reason.String()...)
		dst = append(dst, '"')
		if t.By != "" {
			dst = append(dst, ",\"by\":"...)
			dst = httpx.AppendString(dst, t.By)
		}
	}
	return append(dst, "}\n\n"...)
}

// resetFrame opens the replay of a device whose last event id the hub
// cannot resume from.
var resetFrame = []byte("event: rtchub.reset\ndata: {}\n\n")

// appendLastID appends an event with only an id: EventSource takes it as
// its last event id and dispatches nothing.
func appendLastID(dst []byte, seq uint64) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, "\n\n"...)
}
