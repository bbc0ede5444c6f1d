package main

// A subscriber's record of what it received, and which messages are
// addressed to it.

// subState is one subscriber's record, written only by its reader goroutine until the run ends.
type subState struct {
	got      []uint8 // receipts per message addressed to it (local index)
	extra    int64   // events of this run addressed to another subscriber, or n out of range
	events   int64   // message events of this run
	other    int64   // non-message events (open, keepalive...), message events without our marker
	noID     int64   // message events with an empty last event ID
	foreign  int64   // markers from another run
	comments int64
	opened   bool // response 200 and headers in
	ended    bool // stream ended before the run did
}

// local maps message n to this subscriber's index in got, or -1 if n is not addressed to it.
func (c *Config) local(sub, n int) int {
	if n < 0 || n >= c.Msgs {
		return -1
	}
	if c.Mode == "unicast" {
		if n%c.Subs != sub {
			return -1
		}
		return n / c.Subs
	}
	return n
}

func (c *Config) addressedTo(sub int) int {
	if c.Mode == "unicast" {
		if sub >= c.Msgs {
			return 0
		}
		return (c.Msgs-1-sub)/c.Subs + 1
	}
	return c.Msgs
}
