// Command rtchub is a real-time communication hub for one box: local
// applications send messages over a JSON API; browsers and devices receive
// them live over Server-Sent Events and acknowledge them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

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
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
