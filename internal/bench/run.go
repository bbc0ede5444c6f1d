//go:build !rtchub_nobench

package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Built says whether this binary has the load generator.
const Built = true

// Run performs one bench run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Scenario == "soak" && cfg.Rate == 0 {
		cfg.Rate = 50
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
		if cfg.Scenario == "soak" {
			cfg.Timeout += cfg.Duration
		}
	}
	if cfg.Sample <= 0 {
		cfg.Sample = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 10 * time.Second
	}
	if cfg.Publishers <= 0 {
		cfg.Publishers = 16
	}
	res := Result{Scenario: cfg.Scenario, Streams: cfg.Streams, Stalled: cfg.Stalled, Notifies: cfg.Notifies}
	if cfg.Scenario == "idle" {
		res.Notifies = 0 // an idle run sends none
	}
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	raiseFileLimit()
	c, err := newClient(ctx, cfg)
	if err != nil {
		return res, err
	}
	f, err := setUp(ctx, c, cfg)
	if f != nil && !cfg.Keep {
		defer f.tearDown(c)
	}
	if err != nil {
		return res, err
	}
	if cfg.BaseWait > 0 {
		select {
		case <-time.After(cfg.BaseWait):
		case <-ctx.Done():
		}
	}
	res.RSSBaseKB = rssKB(cfg.PID)
	if cfg.Scenario == "soak" {
		err := runSoak(ctx, cfg, c, f, &res, cfg.Log)
		res.RSSStreamsKB = rssKB(cfg.PID)
		perStream(&res, len(f.users))
		return res, err
	}

	var readers []*reader
	var stalled []net.Conn
	var acks *ackRun
	if cfg.Scenario == "ack" {
		acks = &ackRun{queue: make(chan ackReq, 4096)}
		readers, err = openAckStreams(ctx, cfg, f.tokens, acks)
		if err == nil {
			err = startReaders(ctx, readers)
		}
	} else {
		readers, stalled, err = openStreams(ctx, cfg, f.tokens, &res)
	}
	defer closeAll(readers)
	defer func() {
		for _, s := range stalled {
			s.Close()
		}
	}()
	if err != nil {
		return res, err
	}

	if cfg.Scenario == "idle" {
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
		}
		res.RSSStreamsKB = rssKB(cfg.PID)
		perStream(&res, len(f.users))
		return res, nil
	}
	if acks != nil {
		actx, stop := context.WithCancel(ctx)
		wg := acks.ackers(actx, cfg, cfg.Publishers)
		defer func() { stop(); wg.Wait() }()
	}
	p := publish(ctx, cfg, c, f)
	collect(ctx, cfg, readers, p, &res)
	if acks != nil {
		acks.collect(ctx, cfg, &res)
	}
	res.RSSStreamsKB = rssKB(cfg.PID)
	perStream(&res, len(f.users))
	return res, nil
}

// fixture is what setUp made on the hub.
type fixture struct {
	group  string   // broadcast: the group of every user
	users  []string // one per stream, the stalled ones last
	tokens []string
}

// setUp creates the run's users (and, for broadcast, their group) and
// gets a user token for each. The fixture it returns, even with an error,
// names what to delete.
func setUp(ctx context.Context, c *client, cfg Config) (*fixture, error) {
	run := randHex(4)
	f := &fixture{users: make([]string, cfg.Streams+cfg.Stalled)}
	for i := range f.users {
		f.users[i] = fmt.Sprintf("bench-%s-%d", run, i)
	}
	if cfg.Scenario == "broadcast" || cfg.Scenario == "soak" {
		f.group = "bench-" + run
		if err := c.call(ctx, "POST", "/api/group", map[string]any{"id": f.group}, nil); err != nil {
			return nil, err
		}
	}
	f.tokens = make([]string, len(f.users))
	err := parallel(ctx, 16, len(f.users), func(i int) error {
		body := map[string]any{"id": f.users[i]}
		if f.group != "" {
			body["groups"] = []string{f.group}
		}
		if err := c.call(ctx, "POST", "/api/user", body, nil); err != nil {
			return err
		}
		var tok struct{ Token string }
		if err := c.call(ctx, "GET", "/api/user/"+f.users[i]+"/token", nil, &tok); err != nil {
			return err
		}
		f.tokens[i] = tok.Token
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("bench: create users: %w", err)
	}
	return f, nil
}

// tearDown deletes the fixture's users (and their pending messages) and
// group.
func (f *fixture) tearDown(c *client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	parallel(ctx, 16, len(f.users), func(i int) error {
		return c.call(ctx, "DELETE", "/api/user/"+f.users[i], nil, nil)
	})
	if f.group != "" {
		c.call(ctx, "DELETE", "/api/group/"+f.group, nil, nil)
	}
}

// openStreams opens cfg.Streams reading streams and cfg.Stalled ones that
// never read, and waits until every reader has its stream's retry field.
func openStreams(ctx context.Context, cfg Config, tokens []string, res *Result) ([]*reader, []net.Conn, error) {
	readers := make([]*reader, cfg.Streams)
	var refused atomic.Int64
	err := parallel(ctx, 64, cfg.Streams, func(i int) error {
		r, err := openStream(ctx, cfg.SSE, tokens[i], "", cfg.Notifies)
		if err != nil {
			refused.Add(1)
			return err
		}
		readers[i] = r
		return nil
	})
	if err != nil {
		res.StreamsRefused = int(refused.Load())
		return readers, nil, fmt.Errorf("bench: open streams: %w", err)
	}
	var stalled []net.Conn
	for i := cfg.Streams; i < len(tokens); i++ {
		conn, err := dialStream(ctx, cfg.SSE, tokens[i])
		if err != nil {
			return readers, stalled, fmt.Errorf("bench: open stalled stream: %w", err)
		}
		stalled = append(stalled, conn)
	}
	return readers, stalled, startReaders(ctx, readers)
}

// startReaders starts each reader's loop and waits until every stream has
// its retry field.
func startReaders(ctx context.Context, readers []*reader) error {
	for _, r := range readers {
		go r.loop()
	}
	for _, r := range readers {
		select {
		case <-r.ready:
		case <-ctx.Done():
			return fmt.Errorf("bench: streams did not open: %w", ctx.Err())
		}
	}
	return nil
}

// published is what the publish phase did.
type published struct {
	start    time.Time
	took     time.Duration // from the first notify to the last answer
	ok, errs int
	expected int64 // events the reading streams should get
	firstErr string
	latency  []time.Duration // of each notify call
}

// publish sends cfg.Notifies notifies from cfg.Publishers publishers, at
// cfg.Rate in all if it is set. Each message carries its number and its
// send time, so the readers can tell loss, duplication and latency.
func publish(ctx context.Context, cfg Config, c *client, f *fixture) published {
	p := published{start: time.Now()}
	lat := make([][]time.Duration, cfg.Publishers)
	var next, ok, failed, expected atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range cfg.Publishers {
		wg.Go(func() {
			// Each publisher keeps one connection and writes its requests
			// by hand: the load tool shares the cores with the hub, so it
			// should spend as little of them as it can.
			pc := &poster{addr: c.host}
			defer pc.close()
			var body []byte
			for {
				n := int(next.Add(1)) - 1
				if n >= cfg.Notifies || ctx.Err() != nil {
					return
				}
				if cfg.Rate > 0 {
					due := p.start.Add(time.Duration(float64(n) / cfg.Rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				body = notifyBody(body[:0], n, f, cfg.Scenario)
				pc.auth = c.bearer()
				t0 := time.Now()
				err := pc.post("/api/message/notify", body)
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				if cfg.onNotify != nil {
					cfg.onNotify()
				}
				switch {
				case cfg.Scenario == "broadcast", cfg.Scenario == "soak" && n%soakBroadcast == 0:
					expected.Add(int64(cfg.Streams))
				case cfg.Scenario == "ack":
					expected.Add(2) // the phone's and the laptop's
				case n%len(f.users) < cfg.Streams:
					expected.Add(1)
				}
			}
		})
	}
	wg.Wait()
	p.took = time.Since(p.start)
	p.ok, p.errs, p.expected = int(ok.Load()), int(failed.Load()), expected.Load()
	if v := firstErr.Load(); v != nil {
		p.firstErr = v.(string)
	}
	for _, l := range lat {
		p.latency = append(p.latency, l...)
	}
	return p
}

// notifyBody appends notify n's body: to the group (broadcast, and one in
// soakBroadcast of the soak's), or to one user, round robin.
func notifyBody(b []byte, n int, f *fixture, scenario string) []byte {
	b = append(b, `{"message":{"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	if scenario == "broadcast" || scenario == "soak" && n%soakBroadcast == 0 {
		b = append(b, `},"groups":["`...)
		b = append(b, f.group...)
	} else {
		b = append(b, `},"users":["`...)
		b = append(b, f.users[n%len(f.users)]...)
	}
	return append(b, `"]}`...)
}

// collect waits up to cfg.Settle for the expected events, then adds up
// what the readers got.
func collect(ctx context.Context, cfg Config, readers []*reader, p published, res *Result) {
	res.NotifyOK, res.NotifyErrors, res.FirstError = p.ok, p.errs, p.firstErr
	res.Expected = p.expected
	deadline := time.Now().Add(cfg.Settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if sumDelivered(readers) >= res.Expected {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var last time.Time
	var lat []time.Duration
	for _, r := range readers {
		r.mu.Lock()
		res.Delivered += r.delivered
		res.Duplicated += r.dups
		if r.last.After(last) {
			last = r.last
		}
		lat = append(lat, r.lat...)
		if r.eof {
			res.StreamsEndedEOF++
		}
		r.mu.Unlock()
	}
	res.Lost = max(0, res.Expected-(res.Delivered-res.Duplicated))
	elapsed := last.Sub(p.start)
	if elapsed <= 0 {
		elapsed = p.took
	}
	res.Seconds = round(elapsed.Seconds())
	res.EventsPerSec = round(float64(res.Delivered) / elapsed.Seconds())
	res.NotifiesPerSec = round(float64(res.NotifyOK) / p.took.Seconds())
	res.LatP50, res.LatP90, res.LatP99, res.LatMax = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), pct(lat, 1)
	res.NotifyP50, res.NotifyP99 = pct(p.latency, 0.5), pct(p.latency, 0.99)
}
