package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"rtchub/api"
	"rtchub/bench"
	"rtchub/store"
)

func syscallUmask(mask int) int { return syscall.Umask(mask) }

// offlineOrAdmin runs offline on the data directory if no hub holds it,
// or else asks the running hub over its admin socket.
func offlineOrAdmin(dir string, offline func(*store.Store) error, online func(*http.Client) error) error {
	st, err := store.Open(store.Options{Dir: dir, CompactMin: -1})
	if errors.Is(err, store.ErrLocked) {
		return online(adminClient(dir))
	}
	if err != nil {
		return err
	}
	err = offline(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func adminClient(dir string) *http.Client {
	path := filepath.Join(dir, socketName)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// adminDo calls the running hub's admin socket and decodes a JSON answer.
func adminDo(c *http.Client, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://rtchub"+path, rd)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("the data directory is locked by a running hub, and its admin socket does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("hub answered %s: %s", resp.Status, e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func clientCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("rtchub client", flag.ContinueOnError)
	c.dataDirFlag(fs)
	if len(args) == 0 {
		return usageError{"usage: rtchub client add NAME | list | remove ID  [--data-dir DIR]"}
	}
	sub := args[0]
	pos, err := parseFlags(fs, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	switch {
	case sub == "add" && len(pos) == 1:
		name := pos[0]
		if !api.ValidID(name) {
			return usageError{fmt.Sprintf("client name %q: "+api.IDRule, name)}
		}
		var out api.AdminClient
		err := offlineOrAdmin(c.DataDir, func(st *store.Store) error {
			var err error
			out, err = api.AddClient(ctx, st, "", name, "")
			return err
		}, func(hc *http.Client) error {
			return adminDo(hc, "POST", "/clients", map[string]string{"name": name}, &out)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client_id=%s\nclient_secret=%s\n# the secret is shown only now; store it safely\n", out.ID, out.Secret)
		return nil
	case sub == "list" && len(pos) == 0:
		var out []api.AdminClient
		err := offlineOrAdmin(c.DataDir, func(st *store.Store) error {
			for _, cl := range st.Clients() {
				out = append(out, api.AdminClient{ID: cl.ID, Name: cl.Name})
			}
			return nil
		}, func(hc *http.Client) error {
			return adminDo(hc, "GET", "/clients", nil, &out)
		})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME")
		for _, cl := range out {
			fmt.Fprintf(tw, "%s\t%s\n", cl.ID, cl.Name)
		}
		return tw.Flush()
	case sub == "remove" && len(pos) == 1:
		id := pos[0]
		err := offlineOrAdmin(c.DataDir, func(st *store.Store) error {
			return st.RemoveClient(ctx, id)
		}, func(hc *http.Client) error {
			return adminDo(hc, "DELETE", "/clients/"+id, nil, nil)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed client %s\n", id)
		return nil
	}
	return usageError{"usage: rtchub client add NAME | list | remove ID  [--data-dir DIR]"}
}

func verifyCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rtchub verify", flag.ContinueOnError)
	repair := fs.Bool("repair", false, "keep every record before the first damaged one; move the rest aside")
	var c config
	c.dataDirFlag(fs)
	pos, err := parseFlags(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	dir := c.DataDir
	if len(pos) == 1 {
		dir = pos[0]
	} else if len(pos) > 1 {
		return usageError{"usage: rtchub verify [--repair] [DATA_DIR]"}
	}
	// Checked first: Verify would create its lock file in the directory,
	// and fail naming that file instead of the directory.
	if fi, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data directory %s does not exist", dir)
	} else if err != nil {
		return fmt.Errorf("data directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, store.LogName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s holds no %s: not the data directory of a hub that has run", dir, store.LogName)
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
	var c config
	fs := flag.NewFlagSet("rtchub compact", flag.ContinueOnError)
	c.dataDirFlag(fs)
	pos, err := parseFlags(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"usage: rtchub compact [--data-dir DIR]"}
	}
	var before, after int64
	err = offlineOrAdmin(c.DataDir, func(st *store.Store) error {
		before = st.Metrics.LogBytes.Load()
		err := st.Compact()
		after = st.Metrics.LogBytes.Load()
		return err
	}, func(hc *http.Client) error {
		var out struct {
			LogBytes int64 `json:"log_bytes"`
		}
		err := adminDo(hc, "POST", "/compact", nil, &out)
		before, after = -1, out.LogBytes
		return err
	})
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
	var c config
	fs := flag.NewFlagSet("rtchub backup", flag.ContinueOnError)
	c.dataDirFlag(fs)
	pos, err := parseFlags(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rtchub backup [--data-dir DIR] FILE   (FILE - for stdout)"}
	}
	target := pos[0]
	var w io.Writer = stdout
	var f *os.File
	if target != "-" {
		var err error
		f, err = os.OpenFile(target+".partial", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer os.Remove(target + ".partial")
		w = f
	}
	err = offlineOrAdmin(c.DataDir, func(st *store.Store) error {
		return st.Backup(w, keyName)
	}, func(hc *http.Client) error {
		resp, err := hc.Get("http://rtchub/backup")
		if err != nil {
			return fmt.Errorf("the hub's admin socket does not answer: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("hub answered %s", resp.Status)
		}
		_, err = io.Copy(w, resp.Body)
		return err
	})
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(target+".partial", target); err != nil {
			return err
		}
		// The rename is durable only once the directory is synced.
		if d, err := os.Open(filepath.Dir(target)); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				return fmt.Errorf("backup: sync %s: %w", filepath.Dir(target), err)
			}
		}
		fmt.Fprintf(stderr, "backup written to %s; restore: mkdir DIR && tar -xf %s -C DIR && rtchub serve --data-dir DIR\n", target, target)
	}
	return nil
}

func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c bench.Config
	fs := flag.NewFlagSet("rtchub bench", flag.ContinueOnError)
	fs.StringVar(&c.API, "api", "http://127.0.0.1:4501", "hub API base URL")
	fs.StringVar(&c.SSE, "sse", "http://127.0.0.1:4500", "hub SSE base URL")
	fs.StringVar(&c.ClientID, "client-id", "", "application client id")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "application client secret")
	fs.StringVar(&c.Scenario, "scenario", "broadcast", "broadcast (one group of all streams), unicast (each notify to one user), idle (hold streams)")
	fs.IntVar(&c.Streams, "streams", 100, "streams to open, each its own user")
	fs.IntVar(&c.Notifies, "notifies", 1000, "notifies to send")
	fs.Float64Var(&c.Rate, "rate", 0, "notifies per second in all (0: as fast as the publishers go)")
	fs.IntVar(&c.Publishers, "publishers", 16, "concurrent notifiers")
	fs.DurationVar(&c.Hold, "hold", 10*time.Second, "idle: how long to hold the streams open")
	fs.IntVar(&c.Stalled, "stalled", 0, "extra streams that connect and never read")
	fs.IntVar(&c.PID, "pid", 0, "the hub's process id, to report its RSS per stream")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "cap on the whole run")
	fs.DurationVar(&c.Settle, "settle", 10*time.Second, "how long to wait for the last events after the last notify")
	fs.BoolVar(&c.Keep, "keep", false, "keep the bench users (default: delete them, and their pending messages, at the end)")
	pos, err := parseFlags(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("bench takes no arguments, got %q", pos)}
	}
	res, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
