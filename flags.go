package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"rtchub/auth"
	"rtchub/internal/httpx"
	"rtchub/internal/server"
)

// serveText holds the flags of `rtchub serve` that are parsed after the
// flag set (a parse error names the flag).
type serveText struct {
	fsync, corsOrigins, logFormat, logLevel string
}

// serveFlags defines every flag of `rtchub serve` on fs, each defaulting to
// server.DefaultConfig's value, and returns what they fill in. Numbers and
// durations are held to a range: a value outside it is a usage error that
// names the flag and the range, not a setting silently ignored.
func serveFlags(fs *flag.FlagSet) (*server.Config, *serveText) {
	c := server.DefaultConfig()
	t := &serveText{fsync: c.Store.Fsync.String(), corsOrigins: strings.Join(c.SSE.CORSOrigins, ","), logFormat: "text", logLevel: "info"}
	fs.StringVar(&c.APIAddr, "api-addr", c.APIAddr, "API listen address (keep it on localhost: it takes client credentials)")
	fs.StringVar(&c.SSEAddr, "sse-addr", c.SSEAddr, "SSE listen address (/sse, /ack, the live page)")
	fs.Func("api-hosts", "comma-separated host names the API answers for besides localhost and loopback addresses (421 otherwise)", func(v string) error {
		c.APIHosts = splitList(v)
		return nil
	})
	dataDirFlag(fs, &c.Store.Dir)
	fs.StringVar(&t.fsync, "fsync", t.fsync, "when appends reach the disk: always (a 2xx survives power loss), interval, never")
	fs.StringVar(&t.corsOrigins, "cors-origins", t.corsOrigins, "comma-separated origins allowed on the SSE listener (/sse, /ack, its errors), or *")
	fs.StringVar(&t.logFormat, "log-format", t.logFormat, "log format: text or json")
	fs.StringVar(&t.logLevel, "log-level", t.logLevel, "log level: debug (one line per request), info, warn, error")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve Go's /debug/pprof/ profiles on the API listener")
	const (
		giB  = 1 << 30
		huge = 1<<31 - 1
		year = 365 * 24 * time.Hour
	)
	for _, f := range []struct {
		name     string
		p        any // *int, *int64 or *time.Duration
		min, max int64
		none     bool // -1 is allowed and means "none" ("no cap", "never")
		seconds  bool // a whole number of seconds
		usage    string
	}{
		{"max-body", &c.MaxBody, 64, giB, false, false, "request body limit in bytes (413 over it)"},
		{"max-message", &c.API.MaxMessage, 1, giB, false, false, "message payload limit in bytes of compact JSON (400 over it; at most --max-body)"},
		{"max-streams", &c.Hub.MaxStreams, 1, 1 << 20, false, false, "open streams in all (503 over it)"},
		{"max-streams-per-user", &c.Hub.MaxPerUser, 1, 1 << 16, false, false, "open streams per user (503 over it)"},
		{"max-pending", &c.Store.MaxPending, 1, giB, true, false, "unacknowledged messages kept per user; at the cap the oldest is dropped (-1: no cap)"},
		{"max-pending-total", &c.Store.MaxPendingTotal, 0, 1 << 40, true, false, "pending copies hub-wide (a payload counts one per 256 bytes); over it the oldest go first (0: from the memory the hub may use; -1: none)"},
		{"queue-len", &c.Hub.QueueLen, 1, 1 << 20, false, false, "events queued per stream before a slow reader's stream is closed"},
		{"keep-acked", &c.Store.KeepAcked, 0, giB, true, false, "messages whose copies all closed kept for GET /api/message (0 or -1: none)"},
		{"history", &c.Store.History, 0, 1 << 20, true, false, "acknowledgements and recalls kept per user for devices that reconnect; older last event ids get rtchub.reset (0 or -1: none)"},
		{"compact-min", &c.Store.CompactMin, 1, huge, true, false, "log records before automatic compaction is considered (-1: never)"},
		{"fsync-interval", &c.Store.FsyncInterval, int64(time.Millisecond), int64(time.Hour), false, false, "sync period with --fsync=interval"},
		{"heartbeat", &c.Hub.Heartbeat, int64(100 * time.Millisecond), int64(time.Hour), false, false, "interval of ': ping' comments on idle streams"},
		{"retry", &c.SSE.Retry, int64(100 * time.Millisecond), int64(time.Hour), false, false, "reconnect delay sent to clients as 'retry:'"},
		{"flush-window", &c.Hub.FlushWindow, 0, int64(100 * time.Millisecond), false, false, "a stream written less than this ago waits till this long after that write before its next, so a busy stream takes many messages a write (0: never wait)"},
		{"write-timeout", &c.Hub.WriteTimeout, int64(time.Millisecond), int64(time.Hour), false, false, "how long a stream write may block before the stream is closed"},
		{"access-token-ttl", &c.API.AccessTokenTTL, int64(time.Second), int64(year), false, true, "lifetime of application access tokens"},
		{"user-token-ttl", &c.API.UserTokenTTL, int64(time.Second), int64(10 * year), false, true, "default lifetime of user tokens (at most --max-user-token-ttl)"},
		{"max-user-token-ttl", &c.API.MaxUserTokenTTL, int64(time.Second), int64(10 * year), false, true, "longest user token lifetime a ?ttl= may ask for"},
		{"message-ttl", &c.API.MessageTTL, int64(time.Second), int64(10 * year), false, true, "default time an unacknowledged message is kept (at most --max-message-ttl)"},
		{"max-message-ttl", &c.API.MaxMessageTTL, int64(time.Second), int64(10 * year), false, true, "longest message ttl a notify may ask for"},
		{"shutdown-timeout", &c.ShutdownTimeout, 0, int64(time.Hour), false, false, "how long shutdown waits for requests and stream writes"},
		{"read-header-timeout", &c.ReadHeaderTimeout, int64(time.Millisecond), int64(time.Hour), false, false, "time allowed to read request headers, both listeners"},
		{"idle-timeout", &c.IdleTimeout, int64(time.Millisecond), int64(24 * time.Hour), false, false, "keep-alive idle timeout, both listeners"},
	} {
		fs.Var(&ranged{p: f.p, min: f.min, max: f.max, none: f.none, seconds: f.seconds}, f.name, f.usage)
	}
	return &c, t
}

// newFlagSet is a command's flag set; its help is the usage line use, then
// the flags.
func newFlagSet(use string) *flag.FlagSet {
	words := strings.Fields(use) // "usage:", "rtchub", the command, ...
	fs := flag.NewFlagSet(strings.Join(words[1:3], " "), flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nflags:\n", use)
		fs.PrintDefaults()
	}
	return fs
}

// ranged is a number or duration flag held to [min, max] (and -1 when none
// is allowed).
type ranged struct {
	p        any
	min, max int64
	none     bool
	seconds  bool
}

func (r *ranged) String() string {
	switch p := r.p.(type) {
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *time.Duration:
		return p.String()
	}
	return ""
}

func (r *ranged) Set(s string) error {
	var v int64
	var err error
	_, isDur := r.p.(*time.Duration)
	if isDur {
		var d time.Duration
		d, err = time.ParseDuration(s)
		v = int64(d)
	} else {
		v, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil {
		return errors.New("not a " + map[bool]string{true: "duration (like 30s, 5m, 2h)", false: "whole number"}[isDur])
	}
	if !(r.none && v == -1) && (v < r.min || v > r.max) || r.seconds && v%int64(time.Second) != 0 {
		return errors.New(r.rangeText(isDur))
	}
	switch p := r.p.(type) {
	case *int:
		*p = int(v)
	case *int64:
		*p = v
	case *time.Duration:
		*p = time.Duration(v)
	}
	return nil
}

func (r *ranged) rangeText(isDur bool) string {
	lo, hi := strconv.FormatInt(r.min, 10), strconv.FormatInt(r.max, 10)
	if isDur {
		lo, hi = time.Duration(r.min).String(), time.Duration(r.max).String()
	}
	msg := "must be from " + lo + " to " + hi
	if r.none {
		msg += ", or -1 for none"
	}
	if r.seconds {
		msg += ", in whole seconds"
	}
	return msg
}

// checkServe holds the flags that bound one another.
func checkServe(c *server.Config) error {
	switch {
	case int64(c.API.MaxMessage) > c.MaxBody:
		return usageError{fmt.Sprintf("--max-message %d is larger than --max-body %d: no body could carry such a message", c.API.MaxMessage, c.MaxBody)}
	case c.API.UserTokenTTL > c.API.MaxUserTokenTTL:
		return usageError{fmt.Sprintf("--user-token-ttl %v is longer than --max-user-token-ttl %v", c.API.UserTokenTTL, c.API.MaxUserTokenTTL)}
	case c.API.MessageTTL > c.API.MaxMessageTTL:
		return usageError{fmt.Sprintf("--message-ttl %v is longer than --max-message-ttl %v", c.API.MessageTTL, c.API.MaxMessageTTL)}
	}
	// 0 means none for these: the store reads -1 as none (0 as unset).
	for _, p := range []*int{&c.Store.KeepAcked, &c.Store.History} {
		if *p == 0 {
			*p = -1
		}
	}
	if c.Hub.FlushWindow == 0 {
		c.Hub.FlushWindow = -1
	}
	return nil
}

// dataDirFlag defines --data-dir, which every command but bench takes.
func dataDirFlag(fs *flag.FlagSet, dir *string) {
	if *dir == "" {
		*dir = server.DefaultConfig().Store.Dir
	}
	fs.StringVar(dir, "data-dir", *dir, "data directory: the log, the signing key, the admin socket")
}

// parseFlags applies args, then the environment, to fs, and returns the
// positional arguments. Each flag has an environment twin, RTCHUB_ plus
// its name in upper case with '_' for '-'; a flag given on the command line
// wins, and its twin is not even read (a malformed twin must not stop a
// command whose flag overrides it). Flags may come before or after the
// positional arguments (`client add NAME --data-dir DIR` as well as
// `client --data-dir DIR add NAME`). -h or --help prints the flags to
// stdout and returns flag.ErrHelp, which exits 0.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout, stderr io.Writer) ([]string, error) {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage = fmt.Sprintf("%s [$%s]", f.Usage, envName(f.Name))
	})
	// The flag package prints its usage both for -h and after a parse
	// error; only the outcome says which stream it belongs on.
	var out strings.Builder
	fs.SetOutput(&out)
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(stdout, out.String())
		return nil, err
	}
	io.WriteString(stderr, out.String())
	fs.SetOutput(stderr)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if v := getenv(env); v != "" && !given[f.Name] && bad == nil {
			if err := fs.Set(f.Name, v); err != nil {
				bad = usageError{fmt.Sprintf("$%s=%q: %v", env, v, err)}
			}
		}
	})
	return pos, bad
}

// parseArgs parses args with fs, flags and positional arguments mixed.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if n := len(args) - fs.NArg(); n > 0 && args[n-1] == "--" {
			// Everything after "--" is an argument, even if it looks
			// like a flag.
			return append(pos, fs.Args()...), nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func envName(flagName string) string {
	return "RTCHUB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// splitList splits a comma-separated flag value, trimming each item.
func splitList(s string) []string {
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// clientFromEnv reads RTCHUB_CLIENT_ID with RTCHUB_CLIENT_SECRET (or, when
// that is unset, the file RTCHUB_CLIENT_SECRET_FILE names). One without the
// other is a usage error: the hub would otherwise start without the client
// its operator meant to configure. Both fields are empty when the
// environment names no client.
func clientFromEnv(getenv func(string) string) (server.ClientCredentials, error) {
	var none server.ClientCredentials
	id, secret := getenv("RTCHUB_CLIENT_ID"), getenv("RTCHUB_CLIENT_SECRET")
	file := getenv("RTCHUB_CLIENT_SECRET_FILE")
	if id == "" && secret == "" && file == "" {
		return none, nil
	}
	if secret == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return none, fmt.Errorf("RTCHUB_CLIENT_SECRET_FILE: %w", err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" && id != "" {
			return none, usageError{fmt.Sprintf("RTCHUB_CLIENT_SECRET_FILE %s is empty", file)}
		}
	}
	if id == "" && secret == "" {
		// An empty secret file alone names no client: rtchub.service
		// always points at its credential, which stays empty until the
		// operator configures a client.
		return none, nil
	}
	if id == "" || secret == "" {
		return none, usageError{"set both RTCHUB_CLIENT_ID and RTCHUB_CLIENT_SECRET (or RTCHUB_CLIENT_SECRET_FILE), or neither"}
	}
	if !auth.ValidID(id) {
		return none, usageError{fmt.Sprintf("RTCHUB_CLIENT_ID %q: %s", httpx.Clip(id), auth.IDRule)}
	}
	return server.ClientCredentials{ID: id, Secret: secret}, nil
}
