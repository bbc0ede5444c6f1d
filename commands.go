package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"rtchub/auth"
	"rtchub/internal/admin"
	"rtchub/internal/bench"
	"rtchub/store"
)

// The operator's commands: each parses its flags and prints what
// internal/admin (or store.Verify, or internal/bench) did.

// parseDataDirFlag parses args for a command whose one flag is --data-dir,
// and returns the directory and the positional arguments. use is the
// command's usage line, which its help starts with.
func parseDataDirFlag(use string, args []string, getenv func(string) string, stdout, stderr io.Writer) (dir string, pos []string, err error) {
	fs := newFlagSet(use)
	dataDirFlag(fs, &dir)
	pos, err = parseFlags(fs, args, getenv, stdout, stderr)
	return dir, pos, err
}

func clientCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "usage: rtchub client add NAME | list | remove ID  [--data-dir DIR]"
	// The verb is the first positional argument, so --data-dir may come
	// before it as well as after.
	dir, pos, err := parseDataDirFlag(use, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{use}
	}
	sub, pos := pos[0], pos[1:]
	switch {
	case sub == "add" && len(pos) == 1:
		name := pos[0]
		if !auth.ValidID(name) {
			return usageError{fmt.Sprintf("client name %q: "+auth.IDRule, name)}
		}
		c, err := admin.CreateClient(ctx, dir, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client_id=%s\nclient_secret=%s\n# the secret is shown only now; store it safely\n", c.ID, c.Secret)
		return nil
	case sub == "list" && len(pos) == 0:
		list, err := admin.ListClients(ctx, dir)
		if err != nil {
			return err
		}
		// Two columns, the first padded to its widest (as tabwriter
		// would, without its weight in the binary).
		width := len("CLIENT_ID")
		for _, c := range list {
			width = max(width, len(c.ID))
		}
		fmt.Fprintf(stdout, "%-*s  %s\n", width, "CLIENT_ID", "NAME")
		for _, c := range list {
			fmt.Fprintf(stdout, "%-*s  %s\n", width, c.ID, c.Name)
		}
		return nil
	case sub == "remove" && len(pos) == 1:
		if err := admin.RemoveClient(ctx, dir, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed client %s\n", pos[0])
		return nil
	}
	return usageError{use}
}

func verifyCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "usage: rtchub verify [--repair] [DATA_DIR]"
	fs := newFlagSet(use)
	repair := fs.Bool("repair", false, "keep every record before the first damaged one; move the rest aside")
	var dir string
	dataDirFlag(fs, &dir)
	pos, err := parseFlags(fs, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		dir = pos[0]
	} else if len(pos) > 1 {
		return usageError{use}
	}
	// Checked first: Verify would create its lock file in the directory,
	// and fail naming that file instead of the directory.
	if err := store.CheckDir(dir); err != nil {
		return err
	}
	rep, err := store.Verify(dir, *repair)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d intact records, last seq %d, %d of %d bytes intact\n", rep.Path, rep.Records, rep.LastSeq, rep.Good, rep.Bytes)
	// Damage that was found and not repaired is exit 1, so scripts and
	// monitoring see it; a repair that succeeded leaves a clean log (0).
	switch {
	case rep.MovedAside != "":
		fmt.Fprintf(stdout, "repaired: kept the first %d bytes; moved the rest to %s\n", rep.Good, rep.MovedAside)
		return nil
	case rep.Corrupt != nil:
		return rep.Corrupt
	case rep.Torn != nil:
		fmt.Fprintf(stdout, "damaged last record at byte %d (%v): the hub cuts it at start, as a write torn by a crash (which was never acknowledged)\n", rep.Good, rep.Torn)
		return errTornTail
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// errTornTail is verify's verdict on a log that ends in a damaged record.
var errTornTail = errors.New("the log ends in a torn record; `rtchub serve` cuts it at start, `rtchub verify --repair` moves it aside")

func compactCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "usage: rtchub compact [--data-dir DIR]"
	dir, pos, err := parseDataDirFlag(use, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{use}
	}
	before, after, err := admin.Compact(ctx, dir)
	if err != nil {
		return err
	}
	if before >= 0 {
		fmt.Fprintf(stdout, "compacted: %d -> %d bytes\n", before, after)
	} else {
		fmt.Fprintf(stdout, "compacted by the running hub: log is %d bytes\n", after)
	}
	return nil
}

func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "usage: rtchub backup [--data-dir DIR] FILE   (FILE - for stdout)"
	dir, pos, err := parseDataDirFlag(use, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{use}
	}
	target := pos[0]
	if target == "-" {
		return admin.Backup(ctx, dir, stdout)
	}
	// Written next to the target and renamed over it once complete and
	// synced, so FILE is never a partial backup.
	f, err := os.OpenFile(target+".partial", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(target + ".partial")
	defer f.Close()
	if err := admin.Backup(ctx, dir, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(target+".partial", target); err != nil {
		return err
	}
	if err := store.SyncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stderr, "backup written to %s; restore: mkdir DIR && tar -xf %s -C DIR && rtchub serve --data-dir DIR\n", target, target)
	return nil
}

func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if !bench.Built {
		// Before the flags: with Built a constant false, the rest of this
		// command drops out of the release binary.
		_, err := bench.Run(ctx, bench.Config{})
		return err
	}
	var c bench.Config
	fs := newFlagSet("usage: rtchub bench [flags]")
	fs.StringVar(&c.API, "api", "http://127.0.0.1:4501", "hub API base URL")
	fs.StringVar(&c.SSE, "sse", "http://127.0.0.1:4500", "hub SSE base URL")
	fs.StringVar(&c.ClientID, "client-id", "", "application client id")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "application client secret")
	fs.StringVar(&c.Scenario, "scenario", "broadcast", "broadcast (one group of all streams), unicast (each notify to one user), ack (two streams a user: one acknowledges, the other gets rtchub.ack), idle (hold streams), soak (streams that acknowledge and reconnect, notifies at --rate for --duration, the hub sampled every --sample)")
	fs.IntVar(&c.Streams, "streams", 100, "streams to open, each its own user")
	fs.IntVar(&c.Notifies, "notifies", 1000, "notifies to send")
	fs.Float64Var(&c.Rate, "rate", 0, "notifies per second in all (0: as fast as the publishers go)")
	fs.IntVar(&c.Publishers, "publishers", 16, "concurrent notifiers")
	fs.DurationVar(&c.Hold, "hold", 10*time.Second, "idle: how long to hold the streams open")
	fs.DurationVar(&c.BaseWait, "base-wait", 0, "wait this long after setup before sampling the hub's RSS without streams (a quiet hub hands freed memory back after 5-10s)")
	fs.IntVar(&c.Stalled, "stalled", 0, "extra streams that connect and never read")
	fs.IntVar(&c.PID, "pid", 0, "the hub's process id, to report its RSS per stream")
	fs.DurationVar(&c.Timeout, "timeout", 0, "cap on the whole run (0: 5m, and the soak's --duration besides)")
	fs.DurationVar(&c.Duration, "duration", 2*time.Minute, "soak: how long it runs")
	fs.DurationVar(&c.Sample, "sample", time.Minute, "soak: time between samples of the hub's RSS, goroutines and open files")
	fs.DurationVar(&c.Settle, "settle", 10*time.Second, "how long to wait for the last events after the last notify")
	fs.BoolVar(&c.Keep, "keep", false, "keep the bench users (default: delete them, and their pending messages, at the end)")
	pos, err := parseFlags(fs, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("bench takes no arguments, got %q", pos)}
	}
	if err := c.Validate(); err != nil {
		return usageError{err.Error()}
	}
	c.Log = stderr
	res, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
