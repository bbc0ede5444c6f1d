package sse

import (
	"encoding/json"
	"math"
	"testing"

	"rtchub/store"
)

// TestFrameLenBounds holds frameLen to what AppendFrame writes, so a frame
// is built in the one allocation it sizes.
func TestFrameLenBounds(t *testing.T) {
	for _, m := range []*store.Message{
		{ID: "a", Seq: 1, Event: "e", Body: json.RawMessage(`1`)},
		{ID: "5f0c1e2d3a4b5c6d7e8f9012", Seq: math.MaxUint64, Event: "chat.new", Key: "k-0123456789",
			Body: json.RawMessage(`{"text":"hi"}`), Created: 253402300799999},
	} {
		if n, max := len(AppendFrame(nil, m)), frameLen(m); n > max {
			t.Errorf("AppendFrame wrote %d bytes for seq %d, frameLen said at most %d", n, m.Seq, max)
		}
	}
}
