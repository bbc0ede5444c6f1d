// Package bench is the load generator behind `rtchub bench`. It talks to a
// running hub over real HTTP like any client, with the standard library
// only, and reports one JSON line.
//
// A run has four phases: set up (a group and one user per stream, with
// their tokens), open the streams, publish (or, for idle, hold), and
// collect what each stream received. The bench's users are deleted at the
// end unless Keep is set.
package bench

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// Config is one bench run.
type Config struct {
	API, SSE     string // base URLs
	ClientID     string
	ClientSecret string
	Scenario     string        // broadcast, unicast, ack, idle or soak
	Streams      int           // streams to open (each its own user)
	Notifies     int           // notifies to send
	Rate         float64       // notifies per second in all; 0 = as fast as Publishers go
	Publishers   int           // concurrent notifiers
	Hold         time.Duration // idle: how long to hold the streams
	BaseWait     time.Duration // wait after setup before the RSS without streams
	Stalled      int           // extra streams that never read (broadcast, unicast)
	PID          int           // hub's pid, for RSS; 0 = not measured
	Timeout      time.Duration // cap on the whole run
	Settle       time.Duration // wait for stragglers after the last notify
	Keep         bool          // keep the bench users instead of deleting them
	Duration     time.Duration // soak: how long it runs
	Sample       time.Duration // soak: time between samples of the hub
	Log          io.Writer     // soak: a line per sample; nil for none

	onNotify func() // called for each notify answered 2xx
}

// Result is the JSON line a run reports.
type Result struct {
	Scenario        string  `json:"scenario"`
	Streams         int     `json:"streams"`
	Stalled         int     `json:"stalled,omitempty"`
	Notifies        int     `json:"notifies"`
	NotifyOK        int     `json:"notify_ok"`
	NotifyErrors    int     `json:"notify_errors"`
	Expected        int64   `json:"expected_events"`
	Delivered       int64   `json:"delivered_events"`
	Lost            int64   `json:"lost"`
	Duplicated      int64   `json:"duplicated"`
	Seconds         float64 `json:"seconds"`
	EventsPerSec    float64 `json:"delivered_per_s"`
	NotifiesPerSec  float64 `json:"notifies_per_s"`
	LatP50          float64 `json:"latency_ms_p50"`
	LatP90          float64 `json:"latency_ms_p90"`
	LatP99          float64 `json:"latency_ms_p99"`
	LatMax          float64 `json:"latency_ms_max"`
	NotifyP50       float64 `json:"notify_ms_p50"`
	NotifyP99       float64 `json:"notify_ms_p99"`
	RSSBaseKB       int64   `json:"hub_rss_kb_before,omitempty"`
	RSSStreamsKB    int64   `json:"hub_rss_kb_streams,omitempty"`
	RSSPerStreamKB  float64 `json:"hub_rss_kb_per_stream,omitempty"`
	FirstError      string  `json:"first_error,omitempty"`
	StreamsRefused  int     `json:"streams_refused,omitempty"`
	StreamsEndedEOF int64   `json:"streams_ended_early,omitempty"`
	// The ack scenario: acknowledgements sent by one stream of each user,
	// rtchub.ack events seen on the other, and the time between.
	AcksSent  int64   `json:"acks_sent,omitempty"`
	AcksSeen  int64   `json:"acks_seen,omitempty"`
	AckErrors int64   `json:"ack_errors,omitempty"`
	AckLatP50 float64 `json:"ack_ms_p50,omitempty"`
	AckLatP99 float64 `json:"ack_ms_p99,omitempty"`
	AckLatMax float64 `json:"ack_ms_max,omitempty"`

	// The soak scenario.
	AcksDropped int64    `json:"acks_dropped,omitempty"` // not sent: the ackers' queue was full
	Reconnects  int64    `json:"reconnects,omitempty"`
	Resets      int64    `json:"resets,omitempty"`
	Samples     []Sample `json:"samples,omitempty"`
}

// Validate reports what is wrong with cfg, naming the flag of `rtchub
// bench` that sets it.
func (cfg Config) Validate() error {
	switch cfg.Scenario {
	case "broadcast", "unicast", "ack", "idle", "soak":
	default:
		return fmt.Errorf("--scenario %q: want broadcast, unicast, ack, idle or soak", cfg.Scenario)
	}
	for _, u := range []struct{ flag, v string }{{"--api", cfg.API}, {"--sse", cfg.SSE}} {
		if p, err := url.Parse(u.v); err != nil || p.Scheme != "http" || p.Host == "" {
			return fmt.Errorf("%s %q: want an http:// URL", u.flag, u.v)
		}
	}
	switch {
	case cfg.Streams < 1:
		return errors.New("--streams must be at least 1")
	case cfg.Scenario != "idle" && cfg.Scenario != "soak" && cfg.Notifies < 1:
		return errors.New("--notifies must be at least 1")
	case cfg.Publishers < 1:
		return errors.New("--publishers must be at least 1")
	case cfg.Rate < 0:
		return errors.New("--rate must be 0 (as fast as the publishers go) or more")
	case cfg.Stalled < 0:
		return errors.New("--stalled must be 0 or more")
	case cfg.Scenario == "ack" && cfg.Stalled > 0:
		return errors.New("--stalled does not go with --scenario ack")
	case cfg.Scenario == "soak" && cfg.Stalled > 0:
		return errors.New("--stalled does not go with --scenario soak")
	case cfg.Scenario == "soak" && (cfg.Duration <= 0 || cfg.Sample <= 0):
		return errors.New("--duration and --sample must be longer than 0")
	case cfg.Hold <= 0, cfg.Timeout < 0, cfg.Settle <= 0:
		return errors.New("--hold and --settle must be longer than 0, --timeout 0 (the default) or more")
	case cfg.BaseWait < 0:
		return errors.New("--base-wait must be 0 (the default) or more")
	}
	return nil
}

// A Sample is the hub as the soak saw it at one moment.
type Sample struct {
	At         float64 `json:"t_s"`
	RSSKB      int64   `json:"rss_kb"`
	Goroutines int64   `json:"goroutines"`
	FDs        int64   `json:"open_fds"`
	Streams    int64   `json:"streams_open"`
	Pending    int64   `json:"pending_copies"`
	LogBytes   int64   `json:"log_bytes"`
	Notifies   int64   `json:"notifies_ok"`
}
