// Package bench is the load generator behind `rtchub bench`. It talks to a
// running hub over real HTTP like any client, with the standard library
// only, and reports one JSON line.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is one bench run.
type Config struct {
	API, SSE     string // base URLs
	ClientID     string
	ClientSecret string
	Scenario     string        // broadcast, unicast or idle
	Streams      int           // streams to open (each its own user)
	Notifies     int           // notifies to send
	Rate         float64       // notifies per second in all; 0 = as fast as Publishers go
	Publishers   int           // concurrent notifiers
	Hold         time.Duration // idle: how long to hold the streams
	Stalled      int           // extra streams that never read (broadcast, unicast)
	PID          int           // hub's pid, for RSS; 0 = not measured
	Timeout      time.Duration // cap on the whole run
	Settle       time.Duration // wait for stragglers after the last notify
	Keep         bool          // keep the bench users instead of deleting them
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
}

// Run performs one bench run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	if cfg.Publishers <= 0 {
		cfg.Publishers = 16
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	raiseFileLimit()
	res := Result{Scenario: cfg.Scenario, Streams: cfg.Streams, Stalled: cfg.Stalled, Notifies: cfg.Notifies}
	switch cfg.Scenario {
	case "broadcast", "unicast", "idle":
	default:
		return res, fmt.Errorf("bench: scenario %q: want broadcast, unicast or idle", cfg.Scenario)
	}
	if cfg.Streams < 1 {
		return res, errors.New("bench: --streams must be at least 1")
	}
	c, err := newClient(ctx, cfg)
	if err != nil {
		return res, err
	}
	run := randHex(4)
	group := "bench-" + run
	total := cfg.Streams + cfg.Stalled
	users := make([]string, total)
	for i := range users {
		users[i] = fmt.Sprintf("bench-%s-%d", run, i)
	}
	if cfg.Scenario == "broadcast" {
		if err := c.call(ctx, "POST", "/api/group", map[string]any{"id": group}, nil); err != nil {
			return res, err
		}
	}
	defer func() {
		if cfg.Keep {
			return
		}
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		parallel(cctx, 16, len(users), func(i int) error {
			return c.call(cctx, "DELETE", "/api/user/"+users[i], nil, nil)
		})
		if cfg.Scenario == "broadcast" {
			c.call(cctx, "DELETE", "/api/group/"+group, nil, nil)
		}
	}()
	tokens := make([]string, total)
	err = parallel(ctx, 16, total, func(i int) error {
		body := map[string]any{"id": users[i]}
		if cfg.Scenario == "broadcast" {
			body["groups"] = []string{group}
		}
		if err := c.call(ctx, "POST", "/api/user", body, nil); err != nil {
			return err
		}
		var tok struct{ Token string }
		if err := c.call(ctx, "GET", "/api/user/"+users[i]+"/token", nil, &tok); err != nil {
			return err
		}
		tokens[i] = tok.Token
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("bench: create users: %w", err)
	}
	res.RSSBaseKB = rssKB(cfg.PID)

	// Open the streams; each counts what it receives.
	readers := make([]*reader, cfg.Streams)
	var refused atomic.Int64
	err = parallel(ctx, 64, cfg.Streams, func(i int) error {
		r, err := openStream(ctx, cfg.SSE, tokens[i], cfg.Notifies)
		if err != nil {
			refused.Add(1)
			return err
		}
		readers[i] = r
		return nil
	})
	if err != nil {
		closeAll(readers)
		res.StreamsRefused = int(refused.Load())
		return res, fmt.Errorf("bench: open streams: %w", err)
	}
	defer closeAll(readers)
	var stalled []net.Conn
	for i := cfg.Streams; i < total; i++ {
		conn, err := dialStream(ctx, cfg.SSE, tokens[i])
		if err != nil {
			return res, fmt.Errorf("bench: open stalled stream: %w", err)
		}
		stalled = append(stalled, conn)
	}
	defer func() {
		for _, s := range stalled {
			s.Close()
		}
	}()
	for _, r := range readers {
		go r.loop()
	}
	for _, r := range readers {
		select {
		case <-r.ready:
		case <-ctx.Done():
			return res, fmt.Errorf("bench: streams did not open: %w", ctx.Err())
		}
	}

	if cfg.Scenario == "idle" {
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
		}
		res.RSSStreamsKB = rssKB(cfg.PID)
		perStream(&res, total)
		return res, nil
	}

	// Publish.
	start := time.Now()
	notifyLat := make([][]time.Duration, cfg.Publishers)
	var next atomic.Int64
	var ok, failed, expected atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for p := range cfg.Publishers {
		wg.Go(func() {
			// Each publisher keeps one connection and writes its requests
			// by hand: the load tool shares the cores with the hub, so it
			// should spend as little of them as it can.
			pc := &poster{addr: c.host, auth: "Bearer " + c.token}
			defer pc.close()
			var body []byte
			for {
				n := int(next.Add(1)) - 1
				if n >= cfg.Notifies || ctx.Err() != nil {
					return
				}
				if cfg.Rate > 0 {
					due := start.Add(time.Duration(float64(n) / cfg.Rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				body = append(body[:0], `{"message":{"n":`...)
				body = strconv.AppendInt(body, int64(n), 10)
				body = append(body, `,"t":`...)
				body = strconv.AppendInt(body, time.Now().UnixNano(), 10)
				if cfg.Scenario == "broadcast" {
					body = append(body, `},"groups":["`...)
					body = append(body, group...)
				} else {
					body = append(body, `},"users":["`...)
					body = append(body, users[n%total]...)
				}
				body = append(body, `"]}`...)
				t0 := time.Now()
				err := pc.post("/api/message/notify", body)
				notifyLat[p] = append(notifyLat[p], time.Since(t0))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				if cfg.Scenario == "broadcast" {
					expected.Add(int64(cfg.Streams))
				} else if n%total < cfg.Streams {
					expected.Add(1)
				}
			}
		})
	}
	wg.Wait()
	sendDone := time.Since(start)
	res.NotifyOK, res.NotifyErrors = int(ok.Load()), int(failed.Load())
	if v := firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	res.NotifiesPerSec = float64(res.NotifyOK) / sendDone.Seconds()
	// Every successful notify reaches every reading stream (broadcast) or
	// its one user's stream (unicast), stalled streams excluded.
	res.Expected = expected.Load()
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
	elapsed := last.Sub(start)
	if elapsed <= 0 {
		elapsed = sendDone
	}
	res.Seconds = round(elapsed.Seconds())
	res.EventsPerSec = round(float64(res.Delivered) / elapsed.Seconds())
	res.NotifiesPerSec = round(res.NotifiesPerSec)
	res.LatP50, res.LatP90, res.LatP99, res.LatMax = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), pct(lat, 1)
	var nl []time.Duration
	for _, l := range notifyLat {
		nl = append(nl, l...)
	}
	res.NotifyP50, res.NotifyP99 = pct(nl, 0.5), pct(nl, 0.99)
	res.RSSStreamsKB = rssKB(cfg.PID)
	perStream(&res, total)
	return res, nil
}

func perStream(res *Result, n int) {
	if res.RSSBaseKB > 0 && res.RSSStreamsKB > 0 {
		res.RSSPerStreamKB = round(float64(res.RSSStreamsKB-res.RSSBaseKB) / float64(n))
	}
}

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(p*float64(len(d)-1) + 0.5)
	return round(float64(d[i]) / float64(time.Millisecond))
}

func sumDelivered(rs []*reader) int64 {
	var n int64
	for _, r := range rs {
		r.mu.Lock()
		n += r.delivered - r.dups
		r.mu.Unlock()
	}
	return n
}

// ---- API client ----

type client struct {
	api   string
	host  string // host:port of api
	token string
	hc    *http.Client
}

func newClient(ctx context.Context, cfg Config) (*client, error) {
	u, err := url.Parse(cfg.API)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bench: --api %q is not a URL", cfg.API)
	}
	c := &client{api: strings.TrimRight(cfg.API, "/"), host: u.Host, hc: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, DisableCompression: true},
		Timeout:   30 * time.Second,
	}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.call(ctx, "POST", "/api/auth/token", map[string]string{"client_id": cfg.ClientID, "client_secret": cfg.ClientSecret}, &tok); err != nil {
		return nil, fmt.Errorf("bench: get access token (set RTCHUB_CLIENT_ID and RTCHUB_CLIENT_SECRET): %w", err)
	}
	c.token = tok.AccessToken
	return c, nil
}

func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// poster sends POSTs over one keep-alive HTTP/1.1 connection.
type poster struct {
	addr, auth string
	conn       net.Conn
	br         *bufio.Reader
	req        []byte
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// post sends body and reads the answer; any status but 2xx is an error.
func (p *poster) post(path string, body []byte) error {
	if p.conn == nil {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		p.conn, p.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	p.req = append(p.req[:0], "POST "...)
	p.req = append(p.req, path...)
	p.req = append(p.req, " HTTP/1.1\r\nHost: "...)
	p.req = append(p.req, p.addr...)
	p.req = append(p.req, "\r\nAuthorization: "...)
	p.req = append(p.req, p.auth...)
	p.req = append(p.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	p.req = strconv.AppendInt(p.req, int64(len(body)), 10)
	p.req = append(p.req, "\r\n\r\n"...)
	p.req = append(p.req, body...)
	p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := p.conn.Write(p.req); err != nil {
		p.close()
		return err
	}
	status, err := p.br.ReadSlice('\n')
	if err != nil {
		p.close()
		return err
	}
	code := 0
	if len(status) >= 12 {
		code, _ = strconv.Atoi(string(status[9:12]))
	}
	length, keep := -1, true
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			p.close()
			return err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
			keep = false
		}
	}
	if length < 0 {
		p.close()
		return fmt.Errorf("POST %s: %d without Content-Length", path, code)
	}
	resp := make([]byte, length)
	if _, err := io.ReadFull(p.br, resp); err != nil {
		p.close()
		return err
	}
	if !keep {
		p.close()
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(resp))
	}
	return nil
}

// ---- streams ----

type reader struct {
	conn  net.Conn
	br    *bufio.Reader
	ready chan struct{}

	mu        sync.Mutex
	seen      []uint64 // bitset of message numbers
	delivered int64
	dups      int64
	lat       []time.Duration
	last      time.Time
	eof       bool
}

func dialStream(ctx context.Context, base, token string) (net.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(conn, "GET %s/sse?token=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", strings.TrimRight(u.Path, "/"), url.QueryEscape(token), u.Host)
	return conn, nil
}

func openStream(ctx context.Context, base, token string, notifies int) (*reader, error) {
	conn, err := dialStream(ctx, base, token)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, fmt.Errorf("stream refused: %q %v", strings.TrimSpace(status), err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	conn.SetReadDeadline(time.Time{})
	return &reader{conn: conn, br: br, ready: make(chan struct{}), seen: make([]uint64, (notifies+63)/64)}, nil
}

var msgKey = []byte(`"message":{"n":`)

func (r *reader) loop() {
	readyOnce := sync.OnceFunc(func() { close(r.ready) })
	defer readyOnce()
	for {
		line, err := r.br.ReadSlice('\n')
		if err != nil {
			r.mu.Lock()
			r.eof = true
			r.mu.Unlock()
			return
		}
		if bytes.HasPrefix(line, []byte("retry:")) {
			readyOnce()
			continue
		}
		if !bytes.HasPrefix(line, []byte("data: ")) {
			continue
		}
		now := time.Now()
		i := bytes.Index(line, msgKey)
		if i < 0 {
			continue
		}
		rest := line[i+len(msgKey):]
		n, rest := parseInt(rest)
		t := int64(0)
		if bytes.HasPrefix(rest, []byte(`,"t":`)) {
			t, _ = parseInt(rest[5:])
		}
		r.mu.Lock()
		r.delivered++
		if n >= 0 && int(n/64) < len(r.seen) {
			bit := uint64(1) << (n % 64)
			if r.seen[n/64]&bit != 0 {
				r.dups++
			}
			r.seen[n/64] |= bit
		}
		if t > 0 {
			r.lat = append(r.lat, now.Sub(time.Unix(0, t)))
		}
		r.last = now
		r.mu.Unlock()
	}
}

func parseInt(b []byte) (int64, []byte) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	v, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return -1, b[i:]
	}
	return v, b[i:]
}

func closeAll(rs []*reader) {
	for _, r := range rs {
		if r != nil {
			r.conn.Close()
		}
	}
}

// parallel runs fn(0..n-1) on k goroutines and returns the first error.
func parallel(ctx context.Context, k, n int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// raiseFileLimit lifts the soft open-file limit to the hard one: each
// stream is a socket.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
