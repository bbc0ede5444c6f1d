package hub

import "sync/atomic"

// Send queues a pre-encoded frame on every stream of user. b is shared and
// must not change; mark, if not nil, is set when the frame reaches a socket.
func (h *Hub) Send(user string, b []byte, mark *atomic.Bool) {
	h.SendTo([]Target{{User: user, Mark: mark}}, &Frame{B: b})
}
