package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"rtchub/api"
	"time"
)

// config is every setting of `rtchub serve`. Each flag has an environment
// twin, RTCHUB_ plus the flag's name in upper case with '_' for '-';
// flags win over the environment.
type config struct {
	APIAddr     string
	SSEAddr     string
	DataDir     string
	Fsync       string
	FsyncEvery  time.Duration
	CORSOrigins string
	Heartbeat   time.Duration
	Retry       time.Duration
	LogFormat   string
	LogLevel    string

	MaxBody          int64
	MaxMessage       int
	MaxStreams       int
	MaxStreamsUser   int
	MaxPending       int
	QueueLen         int
	KeepAcked        int
	CompactMin       int
	WriteTimeout     time.Duration
	AccessTokenTTL   time.Duration
	UserTokenTTL     time.Duration
	MaxUserTokenTTL  time.Duration
	MessageTTL       time.Duration
	MaxMessageTTL    time.Duration
	ShutdownTimeout  time.Duration
	ReadHeaderTimout time.Duration
	IdleTimeout      time.Duration
	Pprof            bool
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.APIAddr, "api-addr", "127.0.0.1:4501", "API listen address (keep it on localhost: it takes client credentials)")
	fs.StringVar(&c.SSEAddr, "sse-addr", "0.0.0.0:4500", "SSE listen address (/sse, /ack, the live page)")
	c.dataDirFlag(fs)
	fs.StringVar(&c.Fsync, "fsync", "always", "when appends reach the disk: always (a 2xx survives power loss), interval, never")
	fs.DurationVar(&c.FsyncEvery, "fsync-interval", 100*time.Millisecond, "sync period with --fsync=interval")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "*", "comma-separated origins allowed on the SSE listener (/sse, /ack, its errors), or *")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 15*time.Second, "interval of ': ping' comments on idle streams")
	fs.DurationVar(&c.Retry, "retry", 2*time.Second, "reconnect delay sent to clients as 'retry:'")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug (one line per request), info, warn, error")
	fs.Int64Var(&c.MaxBody, "max-body", 1<<20, "request body limit in bytes (413 over it)")
	fs.IntVar(&c.MaxMessage, "max-message", 64<<10, "message payload limit in bytes of compact JSON (400 over it)")
	fs.IntVar(&c.MaxStreams, "max-streams", 20000, "open streams in all (503 over it)")
	fs.IntVar(&c.MaxStreamsUser, "max-streams-per-user", 32, "open streams per user (503 over it)")
	fs.IntVar(&c.MaxPending, "max-pending", 10000, "unacknowledged messages kept per user; at the cap the oldest is dropped (-1: no cap)")
	fs.IntVar(&c.QueueLen, "queue-len", 256, "events queued per stream before a slow reader's stream is closed")
	fs.IntVar(&c.KeepAcked, "keep-acked", 10000, "fully acknowledged messages kept for GET /api/message (-1: none)")
	fs.IntVar(&c.CompactMin, "compact-min", 100000, "log records before automatic compaction is considered (-1: never)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 10*time.Second, "how long a stream write may block before the stream is closed")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", time.Hour, "lifetime of application access tokens")
	fs.DurationVar(&c.UserTokenTTL, "user-token-ttl", 24*time.Hour, "default lifetime of user tokens")
	fs.DurationVar(&c.MaxUserTokenTTL, "max-user-token-ttl", 30*24*time.Hour, "longest user token lifetime a ?ttl= may ask for")
	fs.DurationVar(&c.MessageTTL, "message-ttl", 7*24*time.Hour, "default time an unacknowledged message is kept")
	fs.DurationVar(&c.MaxMessageTTL, "max-message-ttl", 30*24*time.Hour, "longest message ttl a notify may ask for")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Second, "how long shutdown waits for requests and stream writes")
	fs.DurationVar(&c.ReadHeaderTimout, "read-header-timeout", 10*time.Second, "time allowed to read request headers, both listeners")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second, "keep-alive idle timeout, both listeners")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve Go's /debug/pprof/ profiles on the API listener")
}

func (c *config) dataDirFlag(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./data", "data directory: the log, the signing key, the admin socket")
}

// parseFlags applies the environment, then args, to fs, and returns the
// positional arguments. Flags may come before or after them
// (`client add NAME --data-dir DIR` as well as `client add --data-dir DIR NAME`).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		f.Usage = fmt.Sprintf("%s [$%s]", f.Usage, env)
		if v := getenv(env); v != "" && bad == nil {
			if err := fs.Set(f.Name, v); err != nil {
				bad = usageError{fmt.Sprintf("$%s=%q: %v", env, v, err)}
			}
		}
	})
	if bad != nil {
		return nil, bad
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usageError{err.Error()}
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

// envClient is the application client the environment names; both
// fields are empty when it names none.
type envClient struct{ ID, Secret string }

// clientFromEnv reads RTCHUB_CLIENT_ID with RTCHUB_CLIENT_SECRET (or, when
// that is unset, the file RTCHUB_CLIENT_SECRET_FILE names). One without the
// other is a usage error: the hub would otherwise start without the client
// its operator meant to configure.
func clientFromEnv(getenv func(string) string) (envClient, error) {
	id, secret := getenv("RTCHUB_CLIENT_ID"), getenv("RTCHUB_CLIENT_SECRET")
	file := getenv("RTCHUB_CLIENT_SECRET_FILE")
	if id == "" && secret == "" && file == "" {
		return envClient{}, nil
	}
	if secret == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return envClient{}, fmt.Errorf("RTCHUB_CLIENT_SECRET_FILE: %w", err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" && id != "" {
			return envClient{}, usageError{fmt.Sprintf("RTCHUB_CLIENT_SECRET_FILE %s is empty", file)}
		}
	}
	if id == "" && secret == "" {
		// An empty secret file alone names no client: rtchub.service
		// always points at its credential, which stays empty until the
		// operator configures a client.
		return envClient{}, nil
	}
	if id == "" || secret == "" {
		return envClient{}, usageError{"set both RTCHUB_CLIENT_ID and RTCHUB_CLIENT_SECRET (or RTCHUB_CLIENT_SECRET_FILE), or neither"}
	}
	if !api.ValidID(id) {
		return envClient{}, usageError{fmt.Sprintf("RTCHUB_CLIENT_ID %q: %s", api.Clip(id), api.IDRule)}
	}
	return envClient{id, secret}, nil
}

func envName(flagName string) string {
	return "RTCHUB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func versionString() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "dev-" + s.Value[:12]
				}
			}
		}
	}
	return fmt.Sprintf("rtchub %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
