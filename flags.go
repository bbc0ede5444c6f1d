package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
// server.DefaultConfig's value, and returns what they fill in.
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
	fs.DurationVar(&c.Store.FsyncInterval, "fsync-interval", c.Store.FsyncInterval, "sync period with --fsync=interval")
	fs.StringVar(&t.corsOrigins, "cors-origins", t.corsOrigins, "comma-separated origins allowed on the SSE listener (/sse, /ack, its errors), or *")
	fs.DurationVar(&c.Hub.Heartbeat, "heartbeat", c.Hub.Heartbeat, "interval of ': ping' comments on idle streams")
	fs.DurationVar(&c.SSE.Retry, "retry", c.SSE.Retry, "reconnect delay sent to clients as 'retry:'")
	fs.StringVar(&t.logFormat, "log-format", t.logFormat, "log format: text or json")
	fs.StringVar(&t.logLevel, "log-level", t.logLevel, "log level: debug (one line per request), info, warn, error")
	fs.Int64Var(&c.MaxBody, "max-body", c.MaxBody, "request body limit in bytes (413 over it)")
	fs.IntVar(&c.API.MaxMessage, "max-message", c.API.MaxMessage, "message payload limit in bytes of compact JSON (400 over it)")
	fs.IntVar(&c.Hub.MaxStreams, "max-streams", c.Hub.MaxStreams, "open streams in all (503 over it)")
	fs.IntVar(&c.Hub.MaxPerUser, "max-streams-per-user", c.Hub.MaxPerUser, "open streams per user (503 over it)")
	fs.IntVar(&c.Store.MaxPending, "max-pending", c.Store.MaxPending, "unacknowledged messages kept per user; at the cap the oldest is dropped (-1: no cap)")
	fs.IntVar(&c.Hub.QueueLen, "queue-len", c.Hub.QueueLen, "events queued per stream before a slow reader's stream is closed")
	fs.IntVar(&c.Store.KeepAcked, "keep-acked", c.Store.KeepAcked, "fully acknowledged messages kept for GET /api/message (-1: none)")
	fs.IntVar(&c.Store.History, "history", c.Store.History, "acknowledgements and recalls kept per user for devices that reconnect; older last event ids get rtchub.reset (-1: none)")
	fs.IntVar(&c.Store.CompactMin, "compact-min", c.Store.CompactMin, "log records before automatic compaction is considered (-1: never)")
	fs.DurationVar(&c.Hub.WriteTimeout, "write-timeout", c.Hub.WriteTimeout, "how long a stream write may block before the stream is closed")
	fs.DurationVar(&c.API.AccessTokenTTL, "access-token-ttl", c.API.AccessTokenTTL, "lifetime of application access tokens")
	fs.DurationVar(&c.API.UserTokenTTL, "user-token-ttl", c.API.UserTokenTTL, "default lifetime of user tokens")
	fs.DurationVar(&c.API.MaxUserTokenTTL, "max-user-token-ttl", c.API.MaxUserTokenTTL, "longest user token lifetime a ?ttl= may ask for")
	fs.DurationVar(&c.API.MessageTTL, "message-ttl", c.API.MessageTTL, "default time an unacknowledged message is kept")
	fs.DurationVar(&c.API.MaxMessageTTL, "max-message-ttl", c.API.MaxMessageTTL, "longest message ttl a notify may ask for")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long shutdown waits for requests and stream writes")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "time allowed to read request headers, both listeners")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "keep-alive idle timeout, both listeners")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve Go's /debug/pprof/ profiles on the API listener")
	return &c, t
}

// dataDirFlag defines --data-dir, which every command but bench takes.
func dataDirFlag(fs *flag.FlagSet, dir *string) {
	if *dir == "" {
		*dir = server.DefaultConfig().Store.Dir
	}
	fs.StringVar(dir, "data-dir", *dir, "data directory: the log, the signing key, the admin socket")
}

// parseFlags applies the environment, then args, to fs, and returns the
// positional arguments. Each flag has an environment twin, RTCHUB_ plus
// its name in upper case with '_' for '-'; flags win over the environment.
// Flags may come before or after the positional arguments
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
