package sse

import (
	"strconv"
	"time"

	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// MessageCommitted encodes the message's frame once and queues the same
// bytes on every open stream of every recipient.
func (s *Server) MessageCommitted(m *store.Message) {
	frame := AppendFrame(nil, m)
	// The store calls observers one at a time, so the scratch list can be
	// reused from message to message.
	s.targets = s.targets[:0]
	for user, delivered := range m.OpenCopies() {
		s.targets = append(s.targets, hub.Target{User: user, Mark: delivered})
	}
	s.cfg.Hub.SendTo(s.targets, frame)
	clear(s.targets)
}

// UserClosed ends a deleted or revoked user's streams.
func (s *Server) UserClosed(user string) { s.cfg.Hub.CloseUser(user) }

// AppendFrame appends m as one SSE event:
//
//	id: <seq>
//	event: <event>
//	data: {"id":"<id>","seq":<seq>,"message":<json>,"created_at":"<RFC 3339>"}
//
// The body is compact JSON, so data is one line.
func AppendFrame(dst []byte, m *store.Message) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, m.Event...)
	dst = append(dst, "\ndata: {\"id\":\""...)
	dst = append(dst, m.ID...)
	dst = append(dst, "\",\"seq\":"...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, ",\"message\":"...)
	dst = append(dst, m.Body...)
	dst = append(dst, ",\"created_at\":\""...)
	dst = time.UnixMilli(m.Created).UTC().AppendFormat(dst, httpx.TimeFormat)
	dst = append(dst, "\"}\n\n"...)
	return dst
}
