package main

// Tests of the command line itself: flags and their environment twins
// reach the server's Config, usage errors exit 2, and `rtchub serve` run
// through run() serves. What the hub does with a Config is tested in
// internal/integration.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
)

// testEnv is the whole environment a command sees: nothing leaks in from
// the real one (an RTCHUB_* variable of the machine would change flags).
func testEnv(vars map[string]string) func(string) string {
	env := map[string]string{
		"RTCHUB_CLIENT_ID":     testkit.ClientID,
		"RTCHUB_CLIENT_SECRET": testkit.ClientSecret,
	}
	for k, v := range vars {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// runCmd runs an rtchub command in-process, with no client in the
// environment, and returns its stdout (and stderr, on error).
func runCmd(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, testEnv(map[string]string{"RTCHUB_CLIENT_ID": "", "RTCHUB_CLIENT_SECRET": ""}), &out, &errOut)
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// served is `rtchub serve` run through run(), on loopback ports of its own.
type served struct {
	*testkit.Hub
	cancel context.CancelFunc
	done   chan error
}

// startServe runs `rtchub serve --data-dir dir` plus extra flags with the
// environment env (on top of testEnv's), and waits until both listeners
// answer /healthz.
func startServe(t *testing.T, dir string, env map[string]string, extra ...string) *served {
	t.Helper()
	args := append([]string{"serve", "--api-addr", "127.0.0.1:0", "--sse-addr", "127.0.0.1:0", "--data-dir", dir}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	lb := &testkit.LogBuffer{}
	s := &served{cancel: cancel, done: make(chan error, 1)}
	exited := make(chan struct{})
	go func() {
		err := run(ctx, args, testEnv(env), io.Discard, lb)
		if err != nil {
			fmt.Fprintf(lb, "rtchub serve returned: %v\n", err)
		}
		s.done <- err
		close(exited)
	}()
	t.Cleanup(func() { s.stop(t) })
	api, sse := testkit.WaitReady(t, lb, exited)
	s.Hub = testkit.Remote(dir, api, sse, lb)
	return s
}

// stop cancels run's context (the SIGTERM path) and wants it to return nil.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("rtchub serve returned %v after shutdown, want nil", err)
		}
	case <-time.After(4 * testkit.Guard):
		t.Errorf("rtchub serve did not return within %v of shutdown", 4*testkit.Guard)
	}
}

// parseServe parses args and env as `rtchub serve` does, without serving.
func parseServe(t *testing.T, env map[string]string, args ...string) (server.Config, serveText, error) {
	t.Helper()
	fs := flag.NewFlagSet("rtchub serve", flag.ContinueOnError)
	cfg, txt := serveFlags(fs)
	_, err := parseFlags(fs, args, func(k string) string { return env[k] }, io.Discard, io.Discard)
	return *cfg, *txt, err
}

// TestServeFlags: every flag and its environment twin reach the Config;
// flags win over the environment; nothing given means DefaultConfig.
func TestServeFlags(t *testing.T) {
	t.Parallel()
	cfg, txt, err := parseServe(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := server.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("no flags:\n got %+v\nwant %+v", cfg, want)
	}
	if txt.fsync != "always" || txt.corsOrigins != "*" || txt.logFormat != "text" || txt.logLevel != "info" {
		t.Errorf("text defaults %+v", txt)
	}

	for _, tc := range []struct {
		flag, value string
		get         func(server.Config, serveText) any
		want        any
	}{
		{"api-addr", "127.0.0.1:9", func(c server.Config, _ serveText) any { return c.APIAddr }, "127.0.0.1:9"},
		{"sse-addr", "[::1]:9", func(c server.Config, _ serveText) any { return c.SSEAddr }, "[::1]:9"},
		{"data-dir", "/d", func(c server.Config, _ serveText) any { return c.Store.Dir }, "/d"},
		{"fsync", "never", func(_ server.Config, t serveText) any { return t.fsync }, "never"},
		{"fsync-interval", "1s", func(c server.Config, _ serveText) any { return c.Store.FsyncInterval }, time.Second},
		{"cors-origins", "https://a.example, https://b.example", func(_ server.Config, t serveText) any { return splitList(t.corsOrigins) }, []string{"https://a.example", "https://b.example"}},
		{"heartbeat", "3s", func(c server.Config, _ serveText) any { return c.Hub.Heartbeat }, 3 * time.Second},
		{"retry", "1700ms", func(c server.Config, _ serveText) any { return c.SSE.Retry }, 1700 * time.Millisecond},
		{"max-body", "4096", func(c server.Config, _ serveText) any { return c.MaxBody }, int64(4096)},
		{"max-message", "64", func(c server.Config, _ serveText) any { return c.API.MaxMessage }, 64},
		{"max-streams", "3", func(c server.Config, _ serveText) any { return c.Hub.MaxStreams }, 3},
		{"max-streams-per-user", "2", func(c server.Config, _ serveText) any { return c.Hub.MaxPerUser }, 2},
		{"max-pending", "-1", func(c server.Config, _ serveText) any { return c.Store.MaxPending }, -1},
		{"queue-len", "8", func(c server.Config, _ serveText) any { return c.Hub.QueueLen }, 8},
		{"keep-acked", "5", func(c server.Config, _ serveText) any { return c.Store.KeepAcked }, 5},
		{"history", "7", func(c server.Config, _ serveText) any { return c.Store.History }, 7},
		{"compact-min", "50", func(c server.Config, _ serveText) any { return c.Store.CompactMin }, 50},
		{"write-timeout", "2s", func(c server.Config, _ serveText) any { return c.Hub.WriteTimeout }, 2 * time.Second},
		{"flush-window", "5ms", func(c server.Config, _ serveText) any { return c.Hub.FlushWindow }, 5 * time.Millisecond},
		{"access-token-ttl", "1s", func(c server.Config, _ serveText) any { return c.API.AccessTokenTTL }, time.Second},
		{"user-token-ttl", "1m", func(c server.Config, _ serveText) any { return c.API.UserTokenTTL }, time.Minute},
		{"max-user-token-ttl", "2h", func(c server.Config, _ serveText) any { return c.API.MaxUserTokenTTL }, 2 * time.Hour},
		{"message-ttl", "3m", func(c server.Config, _ serveText) any { return c.API.MessageTTL }, 3 * time.Minute},
		{"max-message-ttl", "4h", func(c server.Config, _ serveText) any { return c.API.MaxMessageTTL }, 4 * time.Hour},
		{"shutdown-timeout", "9s", func(c server.Config, _ serveText) any { return c.ShutdownTimeout }, 9 * time.Second},
		{"read-header-timeout", "1s", func(c server.Config, _ serveText) any { return c.ReadHeaderTimeout }, time.Second},
		{"idle-timeout", "7s", func(c server.Config, _ serveText) any { return c.IdleTimeout }, 7 * time.Second},
		{"pprof", "true", func(c server.Config, _ serveText) any { return c.Pprof }, true},
		{"log-format", "json", func(_ server.Config, t serveText) any { return t.logFormat }, "json"},
		{"log-level", "debug", func(_ server.Config, t serveText) any { return t.logLevel }, "debug"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			env := envName(tc.flag)
			for how, parse := range map[string]func() (server.Config, serveText, error){
				"flag":            func() (server.Config, serveText, error) { return parseServe(t, nil, "--"+tc.flag+"="+tc.value) },
				"env twin " + env: func() (server.Config, serveText, error) { return parseServe(t, map[string]string{env: tc.value}) },
			} {
				c, txt, err := parse()
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if got := tc.get(c, txt); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s %s: got %v, want %v", how, tc.value, got, tc.want)
				}
			}
		})
	}

	// The flag wins over its environment twin.
	c, _, err := parseServe(t, map[string]string{"RTCHUB_RETRY": "5s"}, "--retry", "1s")
	if err != nil || c.SSE.Retry != time.Second {
		t.Errorf("--retry 1s with RTCHUB_RETRY=5s: %v, %v", c.SSE.Retry, err)
	}
	// A bad value, by flag or environment, is a usage error naming it.
	for _, tc := range []struct {
		env  map[string]string
		args []string
		name string
	}{
		{nil, []string{"--queue-len", "many"}, "queue-len"},
		{map[string]string{"RTCHUB_HEARTBEAT": "often"}, nil, "RTCHUB_HEARTBEAT"},
		{nil, []string{"--no-such-flag"}, "no-such-flag"},
	} {
		_, _, err := parseServe(t, tc.env, tc.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v %v: %v (exit %d), want a usage error naming %s", tc.env, tc.args, err, exitCode(err), tc.name)
		}
	}
}

// TestFlagRanges: a number or duration outside its flag's range is a
// usage error (exit 2) naming the flag and the range, by flag or by its
// environment twin; so are flags that contradict one another.
func TestFlagRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, value, want string }{
		{"max-body", "0", "from 64 to"},
		{"max-body", "-1", "from 64 to"},
		{"queue-len", "0", "from 1 to"},
		{"retry", "-1s", "from 100ms to 1h0m0s"},
		{"heartbeat", "0", "from 100ms"},
		{"heartbeat", "-5s", "from 100ms"},
		{"max-streams", "0", "from 1 to"},
		{"max-pending", "0", "or -1 for none"},
		{"max-pending", "-2", "or -1 for none"},
		{"compact-min", "0", "or -1 for none"},
		{"access-token-ttl", "1500ms", "in whole seconds"},
		{"message-ttl", "0s", "from 1s"},
		{"idle-timeout", "0", "from 1ms"},
		{"keep-acked", "-3", "or -1 for none"},
		{"max-streams-per-user", "many", "not a whole number"},
		{"write-timeout", "10", "not a duration"},
		{"flush-window", "101ms", "from 0s to 100ms"},
		{"flush-window", "-1ms", "from 0s to 100ms"},
	} {
		for how, run := range map[string]func() error{
			"flag": func() error {
				return run(context.Background(), []string{"serve", "--" + tc.flag, tc.value}, testEnv(nil), io.Discard, io.Discard)
			},
			"env": func() error {
				return run(context.Background(), []string{"serve"}, testEnv(map[string]string{envName(tc.flag): tc.value}), io.Discard, io.Discard)
			},
		} {
			err := run()
			if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), tc.flag) && !strings.Contains(err.Error(), envName(tc.flag)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s --%s %s: %v (exit %d), want a usage error naming it and %q", how, tc.flag, tc.value, err, exitCode(err), tc.want)
			}
		}
	}
	for _, args := range [][]string{
		{"--max-message", "4096", "--max-body", "1024"},
		{"--user-token-ttl", "2h", "--max-user-token-ttl", "1h"},
		{"--message-ttl", "2h", "--max-message-ttl", "1h"},
	} {
		err := run(context.Background(), append([]string{"serve"}, args...), testEnv(nil), io.Discard, io.Discard)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), args[0]) || !strings.Contains(err.Error(), args[2]) {
			t.Errorf("%v: %v, want a usage error naming both flags", args, err)
		}
	}
	// 0 keeps none, as -1 does; a flush window of 0 is none, which the hub
	// spells negative (its 0 is the default).
	c, _, err := parseServe(t, nil, "--keep-acked", "0", "--history", "0", "--flush-window", "0")
	if err == nil {
		err = checkServe(&c)
	}
	if err != nil || c.Store.KeepAcked != -1 || c.Store.History != -1 || c.Hub.FlushWindow >= 0 {
		t.Errorf("--keep-acked 0 --history 0 --flush-window 0: %v, %d, %d, %v; want -1 (none) for the first two and a negative window", err, c.Store.KeepAcked, c.Store.History, c.Hub.FlushWindow)
	}
}

// TestServeUsageErrors: mistakes that only serve itself sees exit 2
// before anything is opened.
func TestServeUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/data"
	for _, args := range [][]string{
		{"serve", "extra-argument", "--data-dir", dir},
		{"serve", "--fsync", "sometimes", "--data-dir", dir},
		{"serve", "--log-format", "xml", "--data-dir", dir},
		{"serve", "--log-level", "loud", "--data-dir", dir},
		{"no-such-command"},
		{},
	} {
		if err := run(context.Background(), args, testEnv(nil), io.Discard, io.Discard); exitCode(err) != 2 {
			t.Errorf("rtchub %q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error created the data directory: %v", err)
	}
	for _, args := range [][]string{
		{"bench", "--scenario", "fanfare"},
		{"bench", "--streams", "0"},
		{"bench", "--notifies", "0"},
		{"bench", "--rate", "-1"},
		{"bench", "--api", "ftp://x"},
		{"bench", "--scenario", "ack", "--stalled", "1"},
		{"bench", "extra"},
	} {
		if _, err := runCmd(t, args...); exitCode(err) != 2 {
			t.Errorf("rtchub %q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	if out, err := runCmd(t, "version"); err != nil || !strings.HasPrefix(out, "rtchub ") {
		t.Errorf("rtchub version: %v %q", err, out)
	}
}

// TestFlagWinsOverBadEnv: a flag given on the command line is not even
// read from its environment twin, so a malformed twin does not stop a
// command that overrides it; a twin of a flag not given still must parse.
func TestFlagWinsOverBadEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"RTCHUB_HEARTBEAT": "often", "RTCHUB_QUEUE_LEN": "many"}
	cfg, _, err := parseServe(t, env, "--heartbeat", "7s", "--queue-len", "9")
	if err != nil {
		t.Fatalf("flags over malformed twins: %v, want them taken", err)
	}
	if cfg.Hub.Heartbeat != 7*time.Second || cfg.Hub.QueueLen != 9 {
		t.Errorf("heartbeat %v, queue-len %d; want the flags' 7s and 9", cfg.Hub.Heartbeat, cfg.Hub.QueueLen)
	}
	if _, _, err := parseServe(t, env, "--heartbeat", "7s"); exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), "RTCHUB_QUEUE_LEN") {
		t.Errorf("malformed twin of a flag not given: %v, want a usage error naming RTCHUB_QUEUE_LEN", err)
	}
}

// TestCommandHelp: -h and --help of every command print its flags on
// stdout and exit 0, as `rtchub --help` does; `rtchub help CMD` is
// `rtchub CMD --help`.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--help"}, {"serve", "-h"}, {"client", "--help"}, {"client", "add", "-h"},
		{"verify", "--help"}, {"compact", "-h"}, {"backup", "--help"}, {"bench", "--help"},
		{"help", "serve"}, {"help", "client"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, testEnv(nil), &out, &errOut)
		if exitCode(err) != 0 || !strings.Contains(out.String(), "-data-dir") && !strings.Contains(out.String(), "-scenario") || errOut.Len() != 0 {
			t.Errorf("rtchub %q: %v (exit %d)\nstdout %q\nstderr %q\nwant its flags on stdout and exit 0", args, err, exitCode(err), out.String(), errOut.String())
		}
	}
	// Help of help, and of version, which has no flags.
	for _, args := range [][]string{{"help", "--help"}, {"-h", "-h"}, {"--help", "--help"}, {"help"}, {"version", "-h"}, {"help", "version"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, testEnv(nil), &out, &errOut)
		if exitCode(err) != 0 || !strings.HasPrefix(out.String(), "usage: rtchub ") || errOut.Len() != 0 {
			t.Errorf("rtchub %q: %v (exit %d)\nstdout %q\nstderr %q\nwant a usage on stdout and exit 0", args, err, exitCode(err), out.String(), errOut.String())
		}
	}
	// A command's help starts with its usage line.
	if out, err := runCmd(t, "client", "-h"); exitCode(err) != 0 || !strings.HasPrefix(out, "usage: rtchub client add NAME | list | remove ID") {
		t.Errorf("rtchub client -h: %v %q, want its usage line first", err, out)
	}
	for _, args := range [][]string{{"help", "nosuch"}, {"help", "serve", "extra"}} {
		if _, err := runCmd(t, args...); exitCode(err) != 2 {
			t.Errorf("rtchub %q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--no-such-flag"}, testEnv(nil), &out, &errOut)
	if exitCode(err) != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "-data-dir") {
		t.Errorf("serve --no-such-flag: %v (exit %d), stdout %q; want exit 2 and the flags on stderr", err, exitCode(err), out.String())
	}
	if _, err := runCmd(t, "version", "extra"); exitCode(err) != 2 {
		t.Errorf("rtchub version extra: %v (exit %d), want a usage error", err, exitCode(err))
	}
}
