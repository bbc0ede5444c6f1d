//go:build !rtchub_nobench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The soak scenario holds Streams streams (each its own user, all in one
// group) for Duration while notifies go out at Rate: one in soakBroadcast
// to the group, the others to one user each, round robin. Every stream
// acknowledges each message it gets (POST /ack, as a device does), and
// one stream a second drops its connection and comes back with
// Last-Event-ID, so stream set-up and tear-down, resuming, history and
// compaction all turn over for the whole run. Every Sample it reads the
// hub's RSS, goroutines, open files, streams and pending copies from
// /metrics; at the end, what was lost or came twice.

// soakBroadcast: one notify in this many goes to the group.
const soakBroadcast = 50

// soakStream is one stream of the soak: a reader that reconnects.
type soakStream struct {
	r     *reader
	token string
}

func runSoak(ctx context.Context, cfg Config, c *client, f *fixture, res *Result, log io.Writer) error {
	total := int(cfg.Rate*cfg.Duration.Seconds()) + 1
	acks := &ackRun{queue: make(chan ackReq, 1<<16), untimed: true}
	var resets, reconnects, ackDropped atomic.Int64
	streams := make([]*soakStream, cfg.Streams)
	err := parallel(ctx, 64, cfg.Streams, func(i int) error {
		r, err := openStream(ctx, cfg.SSE, f.tokens[i], "", total)
		if err != nil {
			return err
		}
		r.onData = func(event, line []byte) {
			switch {
			case string(event) == "rtchub.reset":
				resets.Add(1)
			case bytes.HasPrefix(event, []byte("rtchub.")):
			default:
				if id := messageID(line); id != "" {
					select {
					case acks.queue <- ackReq{f.tokens[i], id}:
					default:
						ackDropped.Add(1) // the copy stays pending: no loss
					}
				}
			}
		}
		streams[i] = &soakStream{r: r, token: f.tokens[i]}
		return nil
	})
	readers := make([]*reader, 0, len(streams))
	for _, s := range streams {
		if s != nil {
			readers = append(readers, s.r)
		}
	}
	defer closeAll(readers)
	if err != nil {
		return fmt.Errorf("bench: open streams: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() { s.run(sctx, cfg, &reconnects) })
	}
	for _, s := range streams {
		select {
		case <-s.r.ready:
		case <-ctx.Done():
			stop()
			wg.Wait()
			return fmt.Errorf("bench: streams did not open: %w", ctx.Err())
		}
	}
	ackers := acks.ackers(sctx, cfg, 8)
	// Churn: one stream a second reconnects.
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				streams[rand.IntN(len(streams))].r.drop()
			case <-sctx.Done():
				return
			}
		}
	})
	start := time.Now()
	var notified atomic.Int64
	wg.Go(func() { sampleSoak(sctx, cfg, c, start, &notified, res, log) })

	pcfg := cfg
	pcfg.Notifies = total
	res.Notifies = total
	p := publishCounted(ctx, pcfg, c, f, &notified)
	collect(ctx, cfg, readers, p, res)
	stop()
	closeAll(readers)
	wg.Wait()
	ackers.Wait()
	res.Samples = append(res.Samples, takeSample(ctx, c, cfg.PID, start, notified.Load()))
	res.AcksSent, res.AckErrors = acks.acked.Load(), acks.failed.Load()
	res.AcksDropped = ackDropped.Load()
	res.Reconnects, res.Resets = reconnects.Load(), resets.Load()
	if res.FirstError == "" {
		res.FirstError = acks.err
	}
	return nil
}

// run reads s until ctx ends, reconnecting with Last-Event-ID whenever
// the connection ends (dropped by the churn, or cut by the hub).
func (s *soakStream) run(ctx context.Context, cfg Config, reconnects *atomic.Int64) {
	for {
		s.r.loop()
		if ctx.Err() != nil {
			return
		}
		for ctx.Err() == nil {
			conn, br, err := dialReady(ctx, cfg.SSE, s.token, s.r.lastEventID())
			if err == nil {
				s.r.reopen(conn, br)
				reconnects.Add(1)
				if ctx.Err() != nil {
					s.r.drop() // the run ended while it dialed
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// publishCounted is publish with a count of answered notifies as it goes,
// for the samples.
func publishCounted(ctx context.Context, cfg Config, c *client, f *fixture, n *atomic.Int64) published {
	cfg.onNotify = func() { n.Add(1) }
	return publish(ctx, cfg, c, f)
}

func sampleSoak(ctx context.Context, cfg Config, c *client, start time.Time, notified *atomic.Int64, res *Result, log io.Writer) {
	take := func() {
		s := takeSample(ctx, c, cfg.PID, start, notified.Load())
		res.Samples = append(res.Samples, s)
		fmt.Fprintf(log, "soak: %6.0fs rss %d KB, %d goroutines, %d fds, %d streams, %d pending, log %d KB, %d notifies\n",
			s.At, s.RSSKB, s.Goroutines, s.FDs, s.Streams, s.Pending, s.LogBytes>>10, s.Notifies)
	}
	take()
	t := time.NewTicker(cfg.Sample)
	defer t.Stop()
	// Access tokens live an hour by default (--access-token-ttl); the soak
	// may run longer. (User tokens live a day: a soak is shorter.)
	renew := time.NewTicker(time.Minute)
	defer renew.Stop()
	for {
		select {
		case <-t.C:
			take()
		case <-renew.C:
			if err := c.renew(ctx, 10*time.Minute); err != nil {
				fmt.Fprintln(log, "soak:", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// takeSample reads the hub's /metrics (and its RSS from /proc when pid
// is set and /metrics has none).
func takeSample(ctx context.Context, c *client, pid int, start time.Time, notifies int64) Sample {
	s := Sample{At: round(time.Since(start).Seconds()), Notifies: notifies, RSSKB: rssKB(pid)}
	body, err := c.get(ctx, "/metrics")
	if err != nil {
		return s
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "process_resident_memory_bytes":
			if s.RSSKB == 0 {
				s.RSSKB = int64(n) >> 10
			}
		case "go_goroutines":
			s.Goroutines = int64(n)
		case "process_open_fds":
			s.FDs = int64(n)
		case "rtchub_streams_open":
			s.Streams = int64(n)
		case "rtchub_pending_copies":
			s.Pending = int64(n)
		case "rtchub_log_bytes":
			s.LogBytes = int64(n)
		}
	}
	return s
}
