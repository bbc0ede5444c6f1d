//go:build !rtchub_nobench

package bench

import (
	"bufio"
	"net"
	"testing"
)

// A connection that ends between an event's id: line and its end (the
// soak's churn, a cut, a read boundary) resumes from the event before: the
// id counts, as in EventSource, only once the event is dispatched.
func TestReaderTakesTheIDAtDispatch(t *testing.T) {
	c1, c2 := net.Pipe()
	r := &reader{conn: c1, br: bufio.NewReader(c1), ready: make(chan struct{}), seen: make([]uint64, 1)}
	done := make(chan struct{})
	go func() { r.loop(); close(done) }()
	c2.Write([]byte("retry: 2000\n\nid: 41\nevent: message\ndata: {\"id\":\"a\",\"seq\":41,\"message\":{\"n\":0}}\n\nid: 42\nevent: message\ndata: {\"id\":\"b\",\"seq\":42,\"message\":{\"n\":1}}\n"))
	c2.Close()
	<-done
	if r.delivered != 1 || r.lastEventID() != "41" {
		t.Fatalf("delivered %d, resume from %q; want 1 and 41", r.delivered, r.lastEventID())
	}
}
