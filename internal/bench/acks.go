//go:build !rtchub_nobench

package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The ack scenario: each user holds two streams, a phone and a laptop.
// Every message goes to one user; the phone acknowledges it (POST /ack,
// as a browser does) as soon as it arrives, and the laptop waits for the
// rtchub.ack that the hub sends it. The latency measured is from sending
// the acknowledgement to the laptop receiving the rtchub.ack.

// ackRun is the state the ack scenario's streams share.
type ackRun struct {
	queue   chan ackReq
	sent    sync.Map // message id -> time the ack was sent
	untimed bool     // the soak: no latency, no map that grows
	mu      sync.Mutex
	lat     []time.Duration
	seen    atomic.Int64 // rtchub.ack events on the laptops
	acked   atomic.Int64 // acks answered 204
	failed  atomic.Int64
	errOnce sync.Once
	err     string
}

type ackReq struct {
	token, id string
}

var idKey = []byte(`"id":"`)

// messageID returns the "id" of a data line.
func messageID(line []byte) string {
	i := bytes.Index(line, idKey)
	if i < 0 {
		return ""
	}
	rest := line[i+len(idKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// openAckStreams opens a phone and a laptop stream per user and wires
// them to a.
func openAckStreams(ctx context.Context, cfg Config, tokens []string, a *ackRun) ([]*reader, error) {
	var readers []*reader
	for i, tok := range tokens {
		phone, err := openStream(ctx, cfg.SSE, tok, "", cfg.Notifies)
		if err != nil {
			return readers, fmt.Errorf("bench: open stream: %w", err)
		}
		laptop, err := openStream(ctx, cfg.SSE, tok, "", cfg.Notifies)
		if err != nil {
			phone.conn.Close()
			return readers, fmt.Errorf("bench: open stream: %w", err)
		}
		phone.onData = func(event, line []byte) {
			if bytes.HasPrefix(event, []byte("rtchub.")) {
				return
			}
			if id := messageID(line); id != "" {
				a.queue <- ackReq{tokens[i], id}
			}
		}
		laptop.onData = func(event, line []byte) {
			if string(event) != "rtchub.ack" {
				return
			}
			now := time.Now()
			if t0, ok := a.sent.Load(messageID(line)); ok {
				a.mu.Lock()
				a.lat = append(a.lat, now.Sub(t0.(time.Time)))
				a.mu.Unlock()
			}
			a.seen.Add(1)
		}
		readers = append(readers, phone, laptop)
	}
	return readers, nil
}

// ackers acknowledge what the phones receive, on keep-alive connections
// to the SSE listener, until ctx ends or the queue closes.
func (a *ackRun) ackers(ctx context.Context, cfg Config, n int) *sync.WaitGroup {
	u, _ := url.Parse(cfg.SSE)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			p := &poster{addr: u.Host}
			defer p.close()
			var body []byte
			for {
				var r ackReq
				select {
				case r = <-a.queue:
				case <-ctx.Done():
					return
				}
				if r.id == "" {
					return
				}
				p.auth = "Bearer " + r.token
				body = append(append(append(body[:0], `{"message_id":"`...), r.id...), `"}`...)
				if !a.untimed {
					a.sent.Store(r.id, time.Now())
				}
				if err := p.post("/ack", body); err != nil {
					a.failed.Add(1)
					a.errOnce.Do(func() { a.err = err.Error() })
					continue
				}
				a.acked.Add(1)
			}
		})
	}
	return &wg
}

// collect waits up to cfg.Settle for an rtchub.ack of every
// acknowledgement sent, then reports them.
func (a *ackRun) collect(ctx context.Context, cfg Config, res *Result) {
	deadline := time.Now().Add(cfg.Settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if a.seen.Load() >= int64(res.NotifyOK) && a.acked.Load()+a.failed.Load() >= int64(res.NotifyOK) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.AcksSent, res.AcksSeen, res.AckErrors = a.acked.Load(), a.seen.Load(), a.failed.Load()
	if res.FirstError == "" {
		res.FirstError = a.err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	res.AckLatP50, res.AckLatP99, res.AckLatMax = pct(a.lat, 0.5), pct(a.lat, 0.99), pct(a.lat, 1)
}
