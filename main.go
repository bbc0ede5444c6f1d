// Command rtchub is a real-time communication hub for one box: local
// applications send messages over a JSON API; browsers and devices receive
// them live over Server-Sent Events and acknowledge them.
//
// This package only parses the command line and the environment and hands
// the result to the packages that do the work: internal/server for `serve`,
// internal/admin for the operator's commands, internal/bench for `bench`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"rtchub/internal/server"
	"rtchub/store"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rtchub:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		// Help asked for is help given, on stdout.
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: rtchub <command> [flags]

commands:
  serve                 run the hub (API on 127.0.0.1:4501, SSE on 0.0.0.0:4500)
  client add NAME       create an application client; prints its id and secret once
  client list           list application clients
  client remove ID      remove a client and end its access tokens
  verify [--repair] DIR check a data directory's log; --repair moves damage aside
  compact               rewrite the log to live state only
  backup FILE           write a consistent copy (tar) of the data directory
  bench                 load-test a running hub (see rtchub bench -h)
  version               print the version

Run "rtchub serve -h" for every flag; each has an RTCHUB_* environment twin.
`

// commands are the commands that take flags (and so have their own help).
var commands = map[string]bool{"serve": true, "client": true, "verify": true, "compact": true, "backup": true, "bench": true, "version": true}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// run is the whole program: main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "client":
		return clientCmd(ctx, rest, getenv, stdout, stderr)
	case "verify":
		return verifyCmd(rest, getenv, stdout, stderr)
	case "compact":
		return compactCmd(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return backupCmd(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		switch {
		case len(rest) == 1 && isHelp(rest[0]):
			fmt.Fprintln(stdout, "usage: rtchub version")
			return nil
		case len(rest) > 0:
			return usageError{fmt.Sprintf("version takes no arguments, got %q", rest)}
		}
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		switch {
		case len(rest) == 0 || len(rest) == 1 && (isHelp(rest[0]) || rest[0] == "help"):
			fmt.Fprint(stdout, usage)
			return nil
		case len(rest) == 1 && commands[rest[0]]:
			// `rtchub help serve` is `rtchub serve --help`.
			return run(ctx, []string{rest[0], "--help"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("help: want one command, got %q", rest)}
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// serve parses the flags and environment of `rtchub serve` into a
// server.Config and runs the hub until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage: rtchub serve [flags]")
	cfg, opts := serveFlags(fs)
	pos, err := parseFlags(fs, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", pos)}
	}
	log, err := newLogger(opts.logFormat, opts.logLevel, stderr)
	if err != nil {
		return err
	}
	if err := checkServe(cfg); err != nil {
		return err
	}
	if cfg.Pprof && !server.PprofBuilt {
		return usageError{"--pprof: this binary was built without profiling (-tags rtchub_nopprof); use one from make build"}
	}
	if cfg.Store.Fsync, err = store.ParseFsyncMode(opts.fsync); err != nil {
		return usageError{err.Error()}
	}
	cfg.SSE.CORSOrigins = splitList(opts.corsOrigins)
	// Before the store: a refusal must leave the data directory as it was
	// (no signing key, no log), not half made.
	if cfg.Client, err = clientFromEnv(getenv); err != nil {
		return err
	}
	cfg.Version = version
	if os.Getenv("GOMEMLIMIT") == "" {
		// Collect harder before the cgroup's (or the machine's) limit is
		// near, instead of at twice the live heap.
		if mem, _ := server.MemoryLimit(); mem > 0 {
			debug.SetMemoryLimit(server.GoMemoryLimit(mem))
		}
	}
	srv, err := server.New(ctx, *cfg, log)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
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
