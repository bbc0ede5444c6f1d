package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type Config struct {
	Target, Mode         string
	API, SSE             string
	SubURL               string
	SubHeaders           http.Header
	PubHeaders           http.Header
	Subs, Msgs           int
	Rate                 float64
	PubConc, ConnConc    int
	PerSubTopics         bool
	Hold, Drain, Settle  time.Duration
	Timeout, ConnTimeout time.Duration
	PID                  int
	Prefix               string
	Payload              int
	// mercure
	JWTKey, JWTIssuer, JWTAudience, MercureStyle, PubToken string
	// centrifugo (JWTKey signs the connection tokens)
	APIKey string
	// hub
	ClientID, ClientSecret, HubUsersKey string

	pubClient, subClient *http.Client
}

func (c *Config) perSubTopics() bool { return c.Mode == "unicast" || c.PerSubTopics }

// dest is the subscriber message n is addressed to, or -1 for all.
func (c *Config) dest(n int) int {
	if c.Mode == "unicast" {
		return n % c.Subs
	}
	return -1
}

type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }
func (f *headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("want 'Name: value', got %q", s)
	}
	f.h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	return nil
}

func parseFlags(args []string) (*Config, error) {
	c := &Config{SubHeaders: http.Header{}, PubHeaders: http.Header{}}
	fs := flag.NewFlagSet("ssebench", flag.ContinueOnError)
	fs.StringVar(&c.Target, "target", "hub", "adapter: ntfy | mercure | centrifugo | hub")
	fs.StringVar(&c.Mode, "mode", "broadcast", "scenario: broadcast | unicast | idle")
	fs.StringVar(&c.API, "api", "", "publish base URL, e.g. http://127.0.0.1:8090 (hub: the API listener)")
	fs.StringVar(&c.SSE, "sse", "", "subscribe base URL (default: -api)")
	fs.StringVar(&c.SubURL, "sub-url", "", "subscribe URL template; {sse} {api} {i} {topic} {token} {user} and {NAME_q} (query-escaped) are replaced (default: the adapter's)")
	fs.Var(&headerFlag{c.SubHeaders}, "sub-header", "extra subscribe request header 'Name: value' (repeatable)")
	fs.Var(&headerFlag{c.PubHeaders}, "pub-header", "extra publish request header 'Name: value' (repeatable)")
	fs.IntVar(&c.Subs, "subs", 100, "subscriber streams N")
	fs.IntVar(&c.Msgs, "msgs", 1000, "messages to publish M")
	fs.Float64Var(&c.Rate, "rate", 0, "publish rate R in messages/s (0: as fast as -pubconc publishers go)")
	fs.IntVar(&c.PubConc, "pubconc", 8, "concurrent publishers C (with -rate and no -pubconc given: 32, so a slow answer does not hold the schedule)")
	fs.IntVar(&c.ConnConc, "connconc", 64, "streams being opened at once")
	fs.BoolVar(&c.PerSubTopics, "per-sub-topics", false, "idle/broadcast: give each subscriber its own topic/user (unicast always does)")
	fs.DurationVar(&c.Hold, "hold", 10*time.Second, "idle: how long to hold the streams")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "after the last publish, wait at most this long for stragglers")
	fs.DurationVar(&c.Settle, "settle", time.Second, "after all streams are open, wait this long before the 'connected' RSS sample")
	fs.DurationVar(&c.Timeout, "timeout", 110*time.Second, "hard stop for the whole run (results so far are printed)")
	fs.DurationVar(&c.ConnTimeout, "connect-timeout", 60*time.Second, "stop opening streams after this long and go on with those open")
	fs.IntVar(&c.PID, "pid", 0, "server PID for RSS sampling (/proc/PID/status)")
	fs.StringVar(&c.Prefix, "prefix", "b"+strconv.FormatInt(time.Now().UnixNano()/1e6%1e8, 36), "run id: topic/user name prefix, also carried in every payload")
	fs.IntVar(&c.Payload, "payload", 0, "padding bytes added to each message")
	fs.StringVar(&c.JWTKey, "jwt-key", "", "mercure: HS256 publisher key; a token is minted with it")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "mercure: iss claim (v1: must name an issuer block of the hub)")
	fs.StringVar(&c.JWTAudience, "jwt-aud", "", "mercure v1: aud claim (default: {api}/.well-known/mercure)")
	fs.StringVar(&c.MercureStyle, "mercure-style", "v1", "mercure: v1 (at+jwt, authorization_details, ?match=) | legacy (0.x: mercure.publish claim, ?topic=)")
	fs.StringVar(&c.PubToken, "pub-token", "", "mercure: a ready publisher JWT (instead of -jwt-key)")
	fs.StringVar(&c.APIKey, "api-key", "", "centrifugo: server API key (X-API-Key); -jwt-key is the client token HMAC key")
	fs.StringVar(&c.ClientID, "client-id", "", "hub: client_id")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "hub: client_secret")
	fs.StringVar(&c.HubUsersKey, "hub-users-key", "users", "hub: notify body key for recipients: users (SPEC) | ids (the seed's spelling)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if c.Rate > 0 && !explicit["pubconc"] {
		c.PubConc = 32
	}
	c.API = strings.TrimRight(c.API, "/")
	c.SSE = strings.TrimRight(c.SSE, "/")
	if c.SSE == "" {
		c.SSE = c.API
	}
	switch {
	case c.API == "" && c.SubURL == "":
		return nil, errors.New("-api is required")
	case c.Mode != "broadcast" && c.Mode != "unicast" && c.Mode != "idle":
		return nil, fmt.Errorf("-mode %q: broadcast | unicast | idle", c.Mode)
	case c.Subs < 1 || c.Subs > 100000:
		return nil, errors.New("-subs must be 1..100000")
	case c.Msgs < 0 || c.Msgs > 10000000:
		return nil, errors.New("-msgs must be 0..10000000")
	case c.PubConc < 1 || c.ConnConc < 1:
		return nil, errors.New("-pubconc and -connconc must be >= 1")
	case c.Timeout <= 0 || c.Timeout > 30*time.Minute:
		return nil, errors.New("-timeout must be in (0, 30m]")
	case c.Mode == "broadcast" && int64(c.Subs)*int64(c.Msgs) > 2e9:
		return nil, errors.New("-subs x -msgs too large")
	}
	if c.Mode == "idle" {
		c.Msgs = 0
	}
	for _, u := range []string{c.API, c.SSE} {
		if err := loopbackOnly(u); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// loopbackOnly refuses any base URL whose host is not a loopback address or "localhost".
func loopbackOnly(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", raw)
}
